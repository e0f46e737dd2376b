"""Floor polygons: validity (simple, finite, with an area) and containment of many points in many polygons.

Polygons are (K, 2) vertex arrays, closed implicitly (the last vertex joins the first); edge ``k`` runs from
vertex ``k`` to ``k + 1``. "Inside" is the even-odd crossing rule, half-open on the edges, and a point with a NaN
coordinate is inside nothing. The edges of several polygons are concatenated into one :class:`EdgeSet` so that a
test of N points against Z polygons runs as one NumPy expression over (points x edges), reduced per polygon
with ``np.add.reduceat`` / ``np.minimum.reduceat``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from retail_common.errors import GeometryError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

_CROSSING_BLOCK = 128
# The smallest area (m²) of a zone or floor region: 1 cm². The server's validation and the analytics use the same
# bound, so a polygon the API accepts is one the analytics accept (below it the analytics refused a saved zone).
MIN_AREA_M2 = 1e-4


def check_polygon(
    vertices: object,
    *,
    min_area_m2: float = MIN_AREA_M2,
    max_vertices: int | None = None,
    max_abs_coordinate_m: float | None = None,
    drop_closing_vertex: bool = False,
) -> FloatArray:
    """``vertices`` as a validated (K, 2) float array: a simple (non self-intersecting) polygon of at least 3
    finite vertices whose area is at least ``min_area_m2`` (coordinates in metres).

    ``max_vertices`` and ``max_abs_coordinate_m`` bound the input (the crossing test is O(K²); a coordinate
    beyond the bound is a unit or typing error). ``drop_closing_vertex``: a last vertex repeating the first (of
    more than 3) is removed. Crossing edges are checked before the area: a symmetric bow-tie's signed areas
    cancel, and "zero area" would hide the real fault; then zero area (corners on one line), touching and folding
    back (:func:`first_touch`), the area bound.
    Raises :class:`GeometryError`."""
    try:
        points = np.asarray(vertices, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise GeometryError("polygon must be a list of [x, y] pairs") from err
    if points.ndim != 2 or points.shape[1] != 2:
        raise GeometryError("polygon must be a list of [x, y] pairs")
    if drop_closing_vertex and points.shape[0] > 3 and np.array_equal(points[0], points[-1]):
        points = points[:-1]
    if points.shape[0] < 3:
        raise GeometryError(f"polygon has {points.shape[0]} vertices, at least 3 are needed")
    if max_vertices is not None and points.shape[0] > max_vertices:
        raise GeometryError(f"polygon has {points.shape[0]} vertices, at most {max_vertices} are accepted")
    if not np.all(np.isfinite(points)):
        raise GeometryError("polygon coordinates must be finite numbers")
    if max_abs_coordinate_m is not None and np.max(np.abs(points)) > max_abs_coordinate_m:
        raise GeometryError(
            f"polygon coordinates must lie within ±{max_abs_coordinate_m:g} m (floor-plan metres)"
        )
    crossing = first_crossing(points)
    if crossing is not None:
        raise GeometryError(
            f"polygon edges {crossing[0]} and {crossing[1]} cross: the polygon is self-intersecting "
            "(click the corners in order around the area)"
        )
    area = abs(polygon_area(points))
    if area <= 1e-12 * max(float(np.max(np.abs(points))), 1.0) ** 2:
        raise GeometryError("polygon has zero area (its corners lie on one line or coincide)")
    fault = first_touch(points)
    if fault is not None:
        raise GeometryError(fault)
    if area < min_area_m2:
        raise GeometryError(
            f"polygon encloses {area * 1e4:.2g} cm², less than the {min_area_m2 * 1e4:g} cm² a zone or floor "
            "region needs"
        )
    return points


def polygon_area(points: FloatArray) -> float:
    """Signed area (shoelace) of an (n, 2) vertex array: positive when the vertices run counter-clockwise in a
    y-up frame."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def first_crossing(points: FloatArray) -> tuple[int, int] | None:
    """The first pair (i, j), i < j, of non-adjacent edges that properly cross; None for a simple polygon.
    Vectorised in blocks of edges i against every edge j (memory O(block x K))."""
    n = points.shape[0]
    ends = np.roll(points, -1, axis=0)
    edge = ends - points
    index = np.arange(n)

    def cross(d: FloatArray, p: FloatArray) -> FloatArray:
        return np.asarray(d[..., 0] * p[..., 1] - d[..., 1] * p[..., 0], dtype=np.float64)

    for low in range(0, n, _CROSSING_BLOCK):
        i = index[low : low + _CROSSING_BLOCK, None]
        a, b, e = points[i], ends[i], edge[i]  # (k, 1, 2): the block's edges
        c, d, f = points[None], ends[None], edge[None]  # (1, n, 2): every edge
        o1, o2 = cross(e, c - a), cross(e, d - a)
        o3, o4 = cross(f, a - c), cross(f, b - c)
        # non-adjacent pairs once: j ≥ i + 2, and not edge n-1 with edge 0 (they share vertex 0)
        wanted = (index[None, :] >= i + 2) & ~((i == 0) & (index[None, :] == n - 1))
        hits = np.argwhere((o1 * o2 < 0) & (o3 * o4 < 0) & wanted)
        if hits.size:
            return low + int(hits[0, 0]), int(hits[0, 1])
    return None


def _cross(d: FloatArray, p: FloatArray) -> FloatArray:
    return np.asarray(d[..., 0] * p[..., 1] - d[..., 1] * p[..., 0], dtype=np.float64)


def first_touch(points: FloatArray) -> str | None:
    """Why a polygon without properly crossing edges (:func:`first_crossing`) is still not simple, or None: it
    folds back on itself (two consecutive edges run back along one line: a zero-width whisker, e.g. a corner
    clicked out and back), or two non-adjacent edges touch (a corner on another edge, the same corner twice, sides
    overlapping along a line). A corner repeated in a row (a closing vertex too) and a corner in the middle of a
    straight side are harmless and allowed. Vectorised in blocks as :func:`first_crossing`."""
    keep = np.any(points != np.roll(points, 1, axis=0), axis=1)
    index_of = np.flatnonzero(keep)
    q = points[keep]
    n = q.shape[0]
    if n < 3:
        return None  # every vertex on one or two points: the area check names it
    ends = np.roll(q, -1, axis=0)
    edge = ends - q
    before = np.roll(edge, 1, axis=0)  # the edge that ends at vertex k
    lengths = np.hypot(edge[:, 0], edge[:, 1])
    straight = np.abs(_cross(before, edge)) <= 1e-9 * lengths * np.roll(lengths, 1)
    folds = np.flatnonzero(straight & (np.einsum("ij,ij->i", before, edge) < 0))
    if folds.size:
        return (
            f"polygon folds back on itself at vertex {int(index_of[folds[0]])} (a zero-width spike: a corner "
            "clicked out and back); remove it"
        )
    index = np.arange(n)
    for low in range(0, n, _CROSSING_BLOCK):
        i = index[low : low + _CROSSING_BLOCK, None]
        a, b, e = q[i], ends[i], edge[i]
        c, d, f = q[None], ends[None], edge[None]
        o1, o2 = _cross(e, c - a), _cross(e, d - a)
        o3, o4 = _cross(f, a - c), _cross(f, b - c)
        wanted = (index[None, :] >= i + 2) & ~((i == 0) & (index[None, :] == n - 1))
        collinear = (o1 == 0) & (o2 == 0)
        overlap = (
            (np.maximum(np.minimum(a[..., 0], b[..., 0]), np.minimum(c[..., 0], d[..., 0]))
             <= np.minimum(np.maximum(a[..., 0], b[..., 0]), np.maximum(c[..., 0], d[..., 0])))
            & (np.maximum(np.minimum(a[..., 1], b[..., 1]), np.minimum(c[..., 1], d[..., 1]))
               <= np.minimum(np.maximum(a[..., 1], b[..., 1]), np.maximum(c[..., 1], d[..., 1])))
        )  # fmt: skip
        touch = np.where(collinear, overlap, (o1 * o2 <= 0) & (o3 * o4 <= 0)) & wanted
        hits = np.argwhere(touch)
        if hits.size:
            first, second = int(index_of[low + hits[0, 0]]), int(index_of[hits[0, 1]])
            return (
                f"polygon edges {first} and {second} touch: the polygon meets itself (a corner on another side "
                "or the same corner twice); click each corner once, in order around the area"
            )
    return None


@dataclass(frozen=True)
class EdgeSet:
    """The edges of several polygons, concatenated; ``starts[z]`` is the first edge of polygon ``z``."""

    x1: FloatArray
    y1: FloatArray
    x2: FloatArray
    y2: FloatArray
    starts: IntArray
    count: int
    # Per edge, for `contains`: x2 - x1, and y2 - y1 with 0 (a horizontal edge, never straddled) taken as 1.
    _dx: FloatArray = field(init=False, repr=False, compare=False)
    _safe_dy: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        dy = self.y2 - self.y1
        object.__setattr__(self, "_dx", self.x2 - self.x1)
        object.__setattr__(self, "_safe_dy", np.where(dy == 0.0, 1.0, dy))

    @classmethod
    def from_polygons(cls, polygons: Sequence[FloatArray]) -> EdgeSet:
        """Concatenate the edges of ``polygons`` (each (K, 2) with K ≥ 1, already validated)."""
        if not polygons:
            empty = np.zeros(0, dtype=np.float64)
            return cls(empty, empty, empty, empty, np.zeros(0, dtype=np.int64), 0)
        begin = np.concatenate(list(polygons))
        finish = np.concatenate([np.roll(p, -1, axis=0) for p in polygons])
        sizes = np.array([p.shape[0] for p in polygons], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        return cls(begin[:, 0], begin[:, 1], finish[:, 0], finish[:, 1], starts, len(polygons))

    def contains(self, points_xy: FloatArray) -> BoolArray:
        """(N, Z) matrix: point n strictly inside polygon z (even-odd crossing rule, half-open on edges)."""
        n = points_xy.shape[0]
        if self.count == 0 or n == 0:
            return np.zeros((n, self.count), dtype=np.bool_)
        px = points_xy[:, 0:1]
        py = points_xy[:, 1:2]
        straddles = (self.y1 > py) != (self.y2 > py)
        x_cross = self.x1 + (py - self.y1) * self._dx / self._safe_dy
        # Inside: an odd number of crossings, the parity of each polygon's edges at once.
        inside: BoolArray = np.logical_xor.reduceat(straddles & (px < x_cross), self.starts, axis=1)
        return inside

    def distance(self, points_xy: FloatArray) -> FloatArray:
        """(N, Z) matrix: distance from point n to the boundary of polygon z (in the points' unit)."""
        n = points_xy.shape[0]
        if self.count == 0 or n == 0:
            return np.zeros((n, self.count), dtype=np.float64)
        px = points_xy[:, 0:1]
        py = points_xy[:, 1:2]
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


def points_in_polygon(points: ArrayLike, polygon: ArrayLike) -> BoolArray:
    """Even-odd rule test of N points against one polygon (M ≥ 3 vertices); NaN points are outside."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64)
    if poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3:
        raise GeometryError(f"a floor region needs at least 3 vertices, got {len(poly)}")
    inside: BoolArray = EdgeSet.from_polygons([poly]).contains(pts)[:, 0] & np.all(np.isfinite(pts), axis=1)
    return inside
