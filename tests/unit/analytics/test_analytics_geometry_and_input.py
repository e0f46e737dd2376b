"""Vectorised polygon geometry, configuration validation and bad input to SiteAnalytics."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from server.analytics import (
    AnalyticsConfigError,
    AnalyticsInputError,
    FloorGrid,
    SiteAnalytics,
    UnknownZoneError,
    Zone,
    ZoneKind,
)
from server.analytics.geometry import EdgeSet, as_polygon, polygon_area_m2
from tests.unit.analytics.helpers import ZONES, frame, site_config

L_SHAPE = np.array([[0, 0], [4, 0], [4, 1], [1, 1], [1, 4], [0, 4]], dtype=np.float64)
SQUARE = np.array([[10, 10], [12, 10], [12, 12], [10, 12]], dtype=np.float64)


@pytest.mark.parametrize(
    ("point", "inside_l", "inside_square", "distance_l", "distance_square"),
    [
        ((0.5, 0.5), True, False, 0.5, float(np.hypot(9.5, 9.5))),
        ((2.0, 2.0), False, False, 1.0, float(np.hypot(8.0, 8.0))),  # in the notch of the L
        ((3.0, 0.5), True, False, 0.5, float(np.hypot(7.0, 9.5))),
        ((5.0, 0.5), False, False, 1.0, float(np.hypot(5.0, 9.5))),
        ((11.0, 11.0), False, True, float(np.hypot(7.0, 10.0)), 1.0),
        ((-3.0, -4.0), False, False, 5.0, float(np.hypot(13.0, 14.0))),
    ],
)
def test_contains_and_distance_for_many_polygons_at_once(
    point: tuple[float, float], inside_l: bool, inside_square: bool, distance_l: float, distance_square: float
) -> None:
    edges = EdgeSet.from_polygons([L_SHAPE, SQUARE])
    xy = np.array([point])
    assert edges.contains(xy).tolist() == [[inside_l, inside_square]]
    assert edges.distance(xy)[0] == pytest.approx([distance_l, distance_square])


def test_edge_set_handles_no_points_and_no_polygons() -> None:
    assert EdgeSet.from_polygons([SQUARE]).contains(np.zeros((0, 2))).shape == (0, 1)
    assert EdgeSet.from_polygons([]).distance(np.zeros((3, 2))).shape == (3, 0)


def test_polygon_area_and_closing_vertex() -> None:
    assert polygon_area_m2(L_SHAPE) == pytest.approx(7.0)
    closed = np.vstack([SQUARE, SQUARE[:1]])
    assert as_polygon(closed).shape == (4, 2)


@pytest.mark.parametrize(
    "vertices",
    [
        [(0, 0), (1, 1)],  # too few
        [(0, 0), (1, 0), (2, 0)],  # no area
        [(0, 0), (2, 2), (2, 0), (0, 2)],  # bow tie
        [(0, 0), (1, 0), (float("nan"), 1)],  # NaN
        [(0, 0, 0), (1, 0, 0), (1, 1, 0)],  # not pairs
    ],
    ids=["too-few", "no-area", "self-crossing", "nan", "3d"],
)
def test_invalid_polygons_are_rejected(vertices: Any) -> None:
    with pytest.raises(AnalyticsConfigError) as error:
        as_polygon(vertices)
    assert error.value.code == "invalid_polygon"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"zones": (*ZONES, ZONES[0])}, "duplicate_zone"),
        ({"zones": (Zone(5, "bad", "lobby", ((0, 0), (1, 0), (1, 1))),)}, "invalid_zone"),  # type: ignore[arg-type]
        (
            {"zones": (Zone(5, "x", ZoneKind.RESTRICTED, ((0, 0), (1, 0), (1, 1)), warning_distance_m=-1),)},
            "invalid_zone",
        ),
        ({"zones": (Zone(5, "x", ZoneKind.INTEREST, ((0, 0), (1, 1))),)}, "invalid_polygon"),
        ({"grid": FloorGrid(0, 0, 0, 10, 1)}, "invalid_grid"),
        ({"grid": FloorGrid(0, 0, 10, 10, float("inf"))}, "invalid_grid"),
        ({"grid": FloorGrid(0, 0, 10_000, 10_000, 0.01)}, "invalid_grid"),
        ({"distancing_distance_m": 0.0}, "invalid_threshold"),
        ({"distancing_min_duration_s": -1.0}, "invalid_threshold"),
        ({"alert_close_after_s": float("nan")}, "invalid_threshold"),
        ({"alert_update_interval_s": 0.0}, "invalid_threshold"),
        ({"heat_bucket_s": 0}, "invalid_threshold"),
    ],
)
def test_invalid_configuration_is_rejected_with_a_code(changes: dict[str, Any], code: str) -> None:
    with pytest.raises(AnalyticsConfigError) as error:
        SiteAnalytics(site_config(**changes))
    assert error.value.code == code


def test_unknown_zone_lookup() -> None:
    config = site_config()
    assert config.zone(ZONES[1].zone_id).name == "B"
    with pytest.raises(UnknownZoneError) as error:
        config.zone(404)
    assert error.value.code == "unknown_zone"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"floor_xy_m": np.array([[np.nan, 1.0]])}, "non_finite"),
        ({"velocities_mps": np.array([[np.inf, 0.0]])}, "non_finite"),
        ({"floor_xy_m": np.array([1.0, 1.0])}, "bad_shape"),
    ],
)
def test_bad_frames_raise_a_typed_error_and_the_analytics_go_on(change: dict[str, Any], code: str) -> None:
    analytics = SiteAnalytics(site_config())
    bad = dataclasses.replace(frame(0.0, {1: (1.0, 1.0)}), **change)
    with pytest.raises(AnalyticsInputError) as error:
        analytics.update(bad, {})
    assert error.value.code == code
    assert analytics.update(frame(0.1, {1: (1.0, 1.0)}), {}).site_occupancy == 1


def test_time_going_backwards_is_rejected() -> None:
    analytics = SiteAnalytics(site_config())
    analytics.update(frame(1.0, {}), {})
    with pytest.raises(AnalyticsInputError) as error:
        analytics.update(frame(0.5, {}), {})
    assert error.value.code == "time_regression"


def test_floor_grid_cell_index() -> None:
    grid = FloorGrid(-1.0, 2.0, 3.0, 2.0, 0.5)
    assert (grid.nx, grid.ny, grid.cells) == (6, 4, 24)
    points = np.array([[-1.0, 2.0], [1.99, 3.99], [2.0, 3.0], [-1.01, 2.5], [0.0, 2.75]])
    assert grid.cell_index(points).tolist() == [0, 23, -1, -1, 6 + 2]


def test_floor_grid_cell_index_is_its_definition() -> None:
    """Cell (ix, iy) covers [origin + ix * cell, origin + (ix + 1) * cell) per axis, flat index iy * nx + ix, -1
    off the grid: point by point, over and around the grid (negative indices and ones past the end)."""
    grid = FloorGrid(-3.0, 1.5, 7.3, 4.1, 0.25)
    rng = np.random.default_rng(4)
    points = np.concatenate(
        [rng.uniform(-6.0, 9.0, size=(2000, 2)), np.round(rng.uniform(-4, 6, (500, 2)) * 4) / 4]
    )
    expected = []
    for x, y in points.tolist():
        ix, iy = (
            math.floor((x - grid.origin_x_m) / grid.cell_m),
            math.floor((y - grid.origin_y_m) / grid.cell_m),
        )
        expected.append(iy * grid.nx + ix if 0 <= ix < grid.nx and 0 <= iy < grid.ny else -1)
    assert grid.cell_index(points).tolist() == expected


@pytest.mark.parametrize("persons", [2, 30, 63, 64, 200])
def test_close_pairs_are_the_same_with_the_matrix_and_the_kd_tree(persons: int) -> None:
    from server.analytics import distancing

    rng = np.random.default_rng(persons)
    xy = rng.uniform(0.0, 20.0, size=(persons, 2))
    first, second = distancing.pairs_within(xy, 2.0)
    found = set(zip(first.tolist(), second.tolist(), strict=True))
    expected = {
        (i, j)
        for i in range(persons)
        for j in range(i + 1, persons)
        if float(np.hypot(*(xy[i] - xy[j]))) < 2.0
    }
    assert found == expected
