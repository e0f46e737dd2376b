"""The demo store's zones: valid for the analytics, apart from each other, on the floor its cameras see."""

from __future__ import annotations

import numpy as np
import pytest

from server.analytics.floor_geometry import validate_polygon
from server.analytics.types import Zone, ZoneKind
from server.demo.cameras import FULL_FRAME_CORNERS_M
from server.demo.layout import DEMO_ZONES, STOCK_ROOM, rectangle


def _inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule: whether each point lies inside the polygon."""
    inside = np.zeros(len(points), dtype=bool)
    x, y = points[:, 0], points[:, 1]
    for (ax, ay), (bx, by) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        crosses = (ay > y) != (by > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at_x = ax + (y - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (x < at_x)
    return inside


def _grown(zone_polygon: tuple[tuple[float, float], ...], by_m: float) -> tuple[float, float, float, float]:
    xy = np.array(zone_polygon)
    low, high = xy.min(axis=0) - by_m, xy.max(axis=0) + by_m
    return float(low[0]), float(low[1]), float(high[0]), float(high[1])


def test_every_demo_zone_is_a_valid_analytics_zone() -> None:
    for i, zone in enumerate(DEMO_ZONES, start=1):
        analytics_zone = Zone(i, zone.name, ZoneKind(zone.kind), zone.polygon_m, zone.required_level)
        assert analytics_zone.area_m2 > 1.0, zone.name
        validate_polygon([list(corner) for corner in zone.polygon_m])  # what the admin API accepts


@pytest.mark.parametrize("other", [z for z in DEMO_ZONES if z is not STOCK_ROOM], ids=lambda z: z.name)
def test_the_stock_rooms_warning_band_reaches_no_other_zone(other: object) -> None:
    """A visitor in the promotion, the queue or the entrance is never warned about the stock room."""
    x0, y0, x1, y1 = _grown(STOCK_ROOM.polygon_m, STOCK_ROOM.warning_distance_m)
    ox0, oy0, ox1, oy1 = _grown(other.polygon_m, 0.0)  # type: ignore[attr-defined]
    assert x1 <= ox0 or ox1 <= x0 or y1 <= oy0 or oy1 <= y0


def test_the_stock_room_is_in_the_cameras_view() -> None:
    """Its incidents need cameras that see it, all of it: a room partly unseen has fewer incidents by seeing less."""
    footprint = np.array(FULL_FRAME_CORNERS_M, dtype=np.float64)
    x0, y0, x1, y1 = _grown(STOCK_ROOM.polygon_m, 0.0)
    xs, ys = np.meshgrid(np.linspace(x0, x1, 15), np.linspace(y0, y1, 15))
    points = np.c_[xs.ravel(), ys.ravel()]
    assert _inside(points, footprint).all()


def test_rectangle_corners_run_counter_clockwise() -> None:
    xy = np.array(rectangle(0.0, 0.0, 2.0, 1.0))
    signed_area = 0.5 * float(np.sum(xy[:, 0] * np.roll(xy[:, 1], -1) - np.roll(xy[:, 0], -1) * xy[:, 1]))
    assert signed_area == pytest.approx(2.0)
