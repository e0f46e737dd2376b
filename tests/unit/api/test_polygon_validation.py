"""Polygon validation of zones and camera floor regions (server.analytics.floor_geometry): the reason given is the
real fault, and the area of a zone on the floor plan."""

from __future__ import annotations

import pytest

from server.analytics.floor_geometry import GeometryError, area_inside_rect, validate_polygon

PLAN = (0.0, 0.0, 30.0, 20.0)


@pytest.mark.parametrize(
    "bow_tie",
    [
        [[0, 0], [2, 2], [2, 0], [0, 2]],  # symmetric: the signed areas cancel to exactly zero
        [[0, 0], [4, 4], [4, 0], [0, 6]],
        [[0, 0], [3, 0], [0, 3], [3, 3]],
    ],
)
def test_a_bow_tie_is_refused_as_self_intersecting_not_as_zero_area(bow_tie: list[list[float]]) -> None:
    with pytest.raises(GeometryError) as caught:
        validate_polygon(bow_tie)
    assert "self-intersecting" in caught.value.message
    assert "zero area" not in caught.value.message
    assert caught.value.field == "polygon"


def test_collinear_corners_are_refused_as_zero_area() -> None:
    with pytest.raises(GeometryError, match="zero area"):
        validate_polygon([[0, 0], [1, 1], [2, 2]], field="floor_region")


def test_a_simple_polygon_passes_either_way_round() -> None:
    square = [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0]]
    assert validate_polygon(square) == square
    assert validate_polygon(square[::-1]) == square[::-1]


@pytest.mark.parametrize(
    ("polygon", "area"),
    [
        ([[1, 1], [5, 1], [5, 5], [1, 5]], 16.0),  # inside
        ([[28, 18], [32, 18], [32, 22], [28, 22]], 4.0),  # a corner on the plan
        ([[-2, 5], [2, 5], [2, 7], [-2, 7]], 4.0),  # across the left edge
        ([[40, 1], [44, 1], [44, 5], [40, 5]], 0.0),  # right of the plan
        ([[-9, -9], [-5, -9], [-5, -5]], 0.0),  # above-left
        ([[30, 0], [34, 0], [34, 4], [30, 4]], 0.0),  # touching the edge only
        ([[-10, -10], [40, -10], [40, 30], [-10, 30]], 600.0),  # covering the whole plan
    ],
)
def test_area_inside_the_plan(polygon: list[list[float]], area: float) -> None:
    assert area_inside_rect(polygon, PLAN) == pytest.approx(area)
