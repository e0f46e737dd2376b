"""retail_common.polygons, the one polygon validity and containment test of the edge, the server's zone validation
and the analytics: properties over random polygons (seeded), and the three callers agreeing."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from edge_agent.geometry import points_in_polygon as edge_points_in_polygon
from retail_common.errors import GeometryError
from retail_common.polygons import EdgeSet, check_polygon, first_crossing, points_in_polygon, polygon_area
from server.analytics.errors import AnalyticsConfigError
from server.analytics.floor_geometry import GeometryError as ServerGeometryError
from server.analytics.floor_geometry import validate_polygon
from server.analytics.geometry import as_polygon

SEEDS = range(40)


def _star(rng: np.random.Generator) -> NDArray[np.float64]:
    """A random star-shaped (so simple) polygon around a random centre: vertices at increasing angles."""
    count = int(rng.integers(3, 24))
    angles = np.sort(rng.uniform(0, 2 * np.pi - 0.05, size=count))
    angles += np.arange(count) * 1e-3  # distinct angles
    radii = rng.uniform(0.5, 5.0, size=count)
    centre = rng.uniform(-50, 50, size=2)
    return np.asarray(centre + np.c_[radii * np.cos(angles), radii * np.sin(angles)], dtype=np.float64)


def _winding_inside(points: NDArray[np.float64], polygon: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Reference: the winding number by summing angles (slow, independent of the crossing rule)."""
    rel = polygon[None, :, :] - points[:, None, :]
    angles = np.arctan2(rel[..., 1], rel[..., 0])
    turn = np.diff(np.concatenate([angles, angles[:, :1]], axis=1), axis=1)
    turn = (turn + np.pi) % (2 * np.pi) - np.pi
    return np.asarray(np.abs(turn.sum(axis=1)) > np.pi, dtype=np.bool_)


@pytest.mark.parametrize("seed", SEEDS)
def test_containment_agrees_with_the_winding_number_for_random_simple_polygons(seed: int) -> None:
    rng = np.random.default_rng(seed)
    polygon = _star(rng)
    if abs(polygon_area(polygon)) < 1e-3 or first_crossing(polygon) is not None:
        pytest.fail("the generator must give simple polygons with an area")
    points = polygon.mean(axis=0) + rng.uniform(-6, 6, size=(300, 2))
    expected = _winding_inside(points, polygon)
    inside = points_in_polygon(points, polygon)
    assert np.array_equal(inside, expected)
    assert np.array_equal(edge_points_in_polygon(points, polygon), expected)
    assert np.array_equal(
        EdgeSet.from_polygons([polygon, polygon[::-1]]).contains(points), np.c_[inside, inside]
    )
    # a simple polygon passes every caller's validation, either way round
    assert validate_polygon(polygon.tolist()) == polygon.tolist()
    np.testing.assert_array_equal(as_polygon(polygon[::-1]), polygon[::-1])


@pytest.mark.parametrize("seed", SEEDS)
def test_nan_points_are_inside_nothing_and_area_is_invariant_under_rotation_of_the_vertices(
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    polygon = _star(rng)
    points = rng.uniform(-60, 60, size=(50, 2))
    points[rng.integers(0, 50, size=10), rng.integers(0, 2, size=10)] = np.nan
    inside = points_in_polygon(points, polygon)
    assert not inside[np.isnan(points).any(axis=1)].any()
    shift = int(rng.integers(0, len(polygon)))
    assert polygon_area(np.roll(polygon, shift, axis=0)) == pytest.approx(polygon_area(polygon))
    assert polygon_area(polygon[::-1]) == pytest.approx(-polygon_area(polygon))


@pytest.mark.parametrize("seed", SEEDS)
def test_swapping_two_adjacent_vertices_of_a_convex_polygon_is_found_crossing(seed: int) -> None:
    rng = np.random.default_rng(seed)
    count = int(rng.integers(4, 30))
    angles = np.linspace(0, 2 * np.pi, count, endpoint=False) + rng.uniform(0, 0.1)
    convex = np.c_[np.cos(angles), np.sin(angles)] * rng.uniform(1, 10)
    k = int(rng.integers(0, count))
    bow = convex.copy()
    bow[[k, (k + 1) % count]] = bow[[(k + 1) % count, k]]
    assert first_crossing(convex) is None
    assert first_crossing(bow) is not None
    with pytest.raises(ServerGeometryError, match="self-intersecting"):
        validate_polygon(bow.tolist())
    with pytest.raises(AnalyticsConfigError, match="self-intersecting") as raised:
        as_polygon(bow)
    assert raised.value.code == "invalid_polygon"


@pytest.mark.parametrize(
    ("vertices", "options", "message"),
    [
        ([[0, 0], [1, 1]], {}, "at least 3"),
        ("not a polygon", {}, r"\[x, y\] pairs"),
        ([[0, 0], [1, 0], [1]], {}, r"\[x, y\] pairs"),  # ragged
        ([[0, 0], [1, 0], [np.nan, 1]], {}, "finite"),
        ([[0, 0], [2, 2], [2, 0], [0, 2]], {}, "edges 0 and 2 cross"),  # symmetric bow-tie: not "zero area"
        ([[0, 0], [1, 1], [2, 2]], {}, "zero area"),
        ([[0, 0], [0.005, 0], [0, 0.005]], {"min_area_m2": 1e-4}, "encloses 0.12 cm², less than the 1 cm²"),
        ([[0, 0], [1, 0], [0, 1], [1, 1], [0.5, 2]], {"max_vertices": 4}, "at most 4"),
        ([[0, 0], [1e6, 0], [0, 1]], {"max_abs_coordinate_m": 1e5}, "within"),
    ],
)
def test_invalid_polygons_name_the_fault(vertices: object, options: dict[str, float], message: str) -> None:
    with pytest.raises(GeometryError, match=message):
        check_polygon(vertices, **{"min_area_m2": 1e-6, **options})  # type: ignore[arg-type]


def test_a_closing_vertex_is_dropped_only_when_asked() -> None:
    square = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    assert check_polygon([*square, square[0]], min_area_m2=1e-6, drop_closing_vertex=True).tolist() == square
    assert len(check_polygon([*square, square[0]], min_area_m2=1e-6)) == 5


def test_points_in_polygon_needs_three_vertices() -> None:
    with pytest.raises(GeometryError, match="at least 3 vertices"):
        points_in_polygon(np.zeros((1, 2)), np.zeros((2, 2)))


@pytest.mark.parametrize("seed", SEEDS)
def test_the_api_accepts_exactly_the_polygons_the_analytics_accept(seed: int) -> None:
    """Tiny triangles around the 1 cm² bound: before, the API's bound was 0.01 cm² and the analytics' 1 cm², so a
    zone saved through the API could be refused by the site's analytics."""
    rng = np.random.default_rng(seed)
    side_m = rng.uniform(0.001, 0.03)
    triangle = rng.uniform(-10, 10, size=2) + np.array(
        [[0, 0], [side_m, 0], [0, side_m * rng.uniform(0.5, 2)]]
    )
    try:
        as_polygon(triangle)
        analytics_accept = True
    except AnalyticsConfigError:
        analytics_accept = False
    try:
        validate_polygon(triangle.tolist())
        api_accepts = True
    except ServerGeometryError:
        api_accepts = False
    assert api_accepts == analytics_accept == (abs(polygon_area(triangle)) >= 1e-4)


@pytest.mark.parametrize(
    ("vertices", "message"),
    [
        # A corner clicked twice, out and back: a zero-width whisker 3 m long. Its area is the square's, but a
        # restricted zone's warning band (distance to the boundary) would reach 3 m into the corridor along it.
        ([[0, 0], [2, 0], [2, 2], [1, 2], [1, 5], [1, 2], [0, 2]], "folds back"),
        ([[0, 0], [2, 0], [2, 2], [1, 2], [1.5, 3.5], [1, 2], [0, 2]], "folds back"),
        ([[0, 0], [2, 0], [2, 2], [1, 2], [1, 5], [1, 3], [0, 2]], "folds back"),
        ([[0, 0], [2, 0], [1, 1], [2, 2], [0, 2], [1, 1]], "touch"),  # the same corner twice, not in a row
        ([[0, 0], [2, 0], [2, 2], [1, 0], [0, 2]], "touch"),  # a corner on another edge
        ([[0, 0], [2, 0], [2, 1], [1, 1], [1, 0], [3, 0], [3, -1], [0, -1]], "touch"),  # edges overlapping
    ],
)
def test_polygons_that_touch_themselves_are_not_simple(vertices: list[list[float]], message: str) -> None:
    with pytest.raises(GeometryError, match=message):
        check_polygon(vertices, min_area_m2=1e-6)
    with pytest.raises(ServerGeometryError):
        validate_polygon(vertices)


@pytest.mark.parametrize(
    "vertices",
    [
        [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]],  # a closed ring (the API keeps the closing vertex)
        [[0, 0], [1, 0], [1, 0], [1, 1], [0, 1]],  # a corner clicked twice in a row
        [[0, 0], [1, 0], [2, 0], [2, 1], [0, 1]],  # a vertex in the middle of a straight side
        [[0, 0], [1, 0], [1, 1], [2, 1], [2, 0], [3, 0], [3, 2], [0, 2]],  # two sides on one line, apart
    ],
)
def test_harmless_repeats_and_straight_corners_stay_valid(vertices: list[list[float]]) -> None:
    assert len(check_polygon(vertices, min_area_m2=1e-6)) == len(vertices)
    assert validate_polygon(vertices) == [[float(x), float(y)] for x, y in vertices]
