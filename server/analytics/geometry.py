"""Floor geometry of the analytics: polygons in metres, many points against many polygons at once.

Validity and containment are :mod:`retail_common.polygons` (shared with the server's zone validation and the
edge's floor regions): polygons are (K, 2) vertex arrays (closed implicitly: the last vertex joins the first); the
edges of all polygons of a site are concatenated into one :class:`EdgeSet` so that every test runs as one NumPy
expression over (points x edges), reduced per polygon with ``np.add.reduceat`` / ``np.minimum.reduceat``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retail_common.errors import GeometryError
from retail_common.polygons import (
    MIN_AREA_M2,
    BoolArray,
    EdgeSet,
    FloatArray,
    IntArray,
    check_polygon,
    polygon_area,
)
from server.analytics.errors import AnalyticsConfigError

__all__ = [
    "BoolArray",
    "EdgeSet",
    "FloatArray",
    "IntArray",
    "as_polygon",
    "entrance_boxes_m",
    "polygon_area_m2",
]


def as_polygon(vertices: Sequence[Sequence[float]] | FloatArray, *, name: str = "polygon") -> FloatArray:
    """Return ``vertices`` as a validated (K, 2) float array.

    Valid means: at least 3 vertices, all finite, area at least 1 cm², no two non-adjacent edges crossing
    (a simple polygon). A repeated closing vertex is removed. Raises :class:`AnalyticsConfigError` (code
    ``invalid_polygon``) otherwise.
    """
    try:
        return check_polygon(vertices, min_area_m2=MIN_AREA_M2, drop_closing_vertex=True)
    except GeometryError as err:
        raise AnalyticsConfigError(f"{name}: {err.message}", code="invalid_polygon") from err


def polygon_area_m2(polygon: FloatArray) -> float:
    """Unsigned area of a simple polygon (shoelace formula)."""
    return abs(polygon_area(polygon))


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
