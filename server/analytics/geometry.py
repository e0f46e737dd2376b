"""Vectorised floor geometry: polygons in metres, many points against many polygons at once.

Polygons are given as (K, 2) vertex arrays (closed implicitly: the last vertex joins the first). The edges of
all polygons of a site are concatenated into one :class:`EdgeSet` so that every test runs as one NumPy
expression over (points x edges), reduced per polygon with ``np.add.reduceat`` / ``np.minimum.reduceat``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from server.analytics.errors import AnalyticsConfigError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_MIN_AREA_M2 = 1e-4


def as_polygon(vertices: Sequence[Sequence[float]] | FloatArray, *, name: str = "polygon") -> FloatArray:
    """Return ``vertices`` as a validated (K, 2) float array.

    Valid means: at least 3 vertices, all finite, area at least 1 cm², no two non-adjacent edges crossing
    (a simple polygon). A repeated closing vertex is removed. Raises :class:`AnalyticsConfigError` (code
    ``invalid_polygon``) otherwise.
    """
    polygon = np.asarray(vertices, dtype=np.float64)
    if polygon.ndim != 2 or polygon.shape[1] != 2:
        raise AnalyticsConfigError(f"{name}: vertices must be (x, y) pairs", code="invalid_polygon")
    if polygon.shape[0] > 3 and np.array_equal(polygon[0], polygon[-1]):
        polygon = polygon[:-1]
    if polygon.shape[0] < 3:
        raise AnalyticsConfigError(f"{name}: a polygon needs at least 3 vertices", code="invalid_polygon")
    if not bool(np.isfinite(polygon).all()):
        raise AnalyticsConfigError(f"{name}: vertices must be finite numbers", code="invalid_polygon")
    if polygon_area_m2(polygon) < _MIN_AREA_M2:
        raise AnalyticsConfigError(f"{name}: the polygon has no area", code="invalid_polygon")
    if _self_intersects(polygon):
        raise AnalyticsConfigError(f"{name}: the polygon's edges cross each other", code="invalid_polygon")
    return polygon


def polygon_area_m2(polygon: FloatArray) -> float:
    """Unsigned area of a simple polygon (shoelace formula)."""
    x, y = polygon[:, 0], polygon[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def _orientation(a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    result: FloatArray = (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (
        c[..., 0] - a[..., 0]
    )
    return result


def _self_intersects(polygon: FloatArray) -> bool:
    start = polygon
    end = np.roll(polygon, -1, axis=0)
    k = polygon.shape[0]
    i, j = np.triu_indices(k, k=2)
    keep = ~((i == 0) & (j == k - 1))  # first and last edges are adjacent
    i, j = i[keep], j[keep]
    if i.size == 0:
        return False
    p1, p2, q1, q2 = start[i], end[i], start[j], end[j]
    d1 = _orientation(p1, p2, q1)
    d2 = _orientation(p1, p2, q2)
    d3 = _orientation(q1, q2, p1)
    d4 = _orientation(q1, q2, p2)
    proper = (d1 * d2 < 0) & (d3 * d4 < 0)
    return bool(proper.any())


@dataclass(frozen=True)
class EdgeSet:
    """The edges of several polygons, concatenated; ``starts[z]`` is the first edge of polygon ``z``."""

    x1: FloatArray
    y1: FloatArray
    x2: FloatArray
    y2: FloatArray
    starts: IntArray
    count: int

    @classmethod
    def from_polygons(cls, polygons: Sequence[FloatArray]) -> EdgeSet:
        """Concatenate the edges of ``polygons`` (each (K, 2), already validated)."""
        if not polygons:
            empty = np.zeros(0, dtype=np.float64)
            return cls(empty, empty, empty, empty, np.zeros(0, dtype=np.int64), 0)
        begin = np.concatenate(list(polygons))
        finish = np.concatenate([np.roll(p, -1, axis=0) for p in polygons])
        sizes = np.array([p.shape[0] for p in polygons], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        return cls(begin[:, 0], begin[:, 1], finish[:, 0], finish[:, 1], starts, len(polygons))

    def contains(self, points_xy_m: FloatArray) -> BoolArray:
        """(N, Z) matrix: point n strictly inside polygon z (even-odd crossing rule, half-open on edges)."""
        n = points_xy_m.shape[0]
        if self.count == 0 or n == 0:
            return np.zeros((n, self.count), dtype=np.bool_)
        px = points_xy_m[:, 0:1]
        py = points_xy_m[:, 1:2]
        straddles = (self.y1 > py) != (self.y2 > py)
        dy = self.y2 - self.y1
        safe_dy = np.where(dy == 0.0, 1.0, dy)
        x_cross = self.x1 + (py - self.y1) * (self.x2 - self.x1) / safe_dy
        crossings = (straddles & (px < x_cross)).astype(np.int64)
        inside: BoolArray = (np.add.reduceat(crossings, self.starts, axis=1) & 1).astype(np.bool_)
        return inside

    def distance(self, points_xy_m: FloatArray) -> FloatArray:
        """(N, Z) matrix: distance in metres from point n to the boundary of polygon z."""
        n = points_xy_m.shape[0]
        if self.count == 0 or n == 0:
            return np.zeros((n, self.count), dtype=np.float64)
        px = points_xy_m[:, 0:1]
        py = points_xy_m[:, 1:2]
        ex = self.x2 - self.x1
        ey = self.y2 - self.y1
        length2 = ex * ex + ey * ey
        t = np.clip(
            ((px - self.x1) * ex + (py - self.y1) * ey) / np.where(length2 == 0, 1.0, length2), 0.0, 1.0
        )
        dx = px - (self.x1 + t * ex)
        dy = py - (self.y1 + t * ey)
        result: FloatArray = np.sqrt(np.minimum.reduceat(dx * dx + dy * dy, self.starts, axis=1))
        return result


def entrance_boxes_m(
    polygons: Sequence[Sequence[Sequence[float]]], margin_m: float = 0.5
) -> tuple[tuple[float, float, float, float], ...]:
    """Bounding boxes (x0, y0, x1, y1), grown by ``margin_m``, of the entrance zones' polygons: the fusion's
    entry regions (``FusionConfig.entry_regions_m``), where someone new is always plausible."""
    boxes: list[tuple[float, float, float, float]] = []
    for polygon in polygons:
        vertices = np.asarray(polygon, dtype=np.float64)
        low = vertices.min(axis=0) - margin_m
        high = vertices.max(axis=0) + margin_m
        boxes.append((float(low[0]), float(low[1]), float(high[0]), float(high[1])))
    return tuple(boxes)
