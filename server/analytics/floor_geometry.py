"""Floor geometry of a site, pure numpy: homographies from calibration point pairs, projection and polygon
validation (inventory calibrates cameras and validates zones with it; the demo and the simulator project with it).

A homography is defined up to scale and sign, but the edge needs the sign: a pixel is on the floor side of
the camera's horizon where ``w = h20 u + h21 v + h22 > 0``. Every fitted homography is oriented so that
``w > 0`` at its calibration points and scaled to ``|h22| = 1`` (unit norm when ``h22`` is ~0). For a ceiling
camera tilted ~35° whose top rows see above the horizon, ``w < 0`` at pixel (0, 0), so dividing by ``h22``
alone would flip the sign and the edge would drop every floor point as "beyond the horizon".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from server.errors import FieldError

# A zone or floor region traced in detail has a few hundred corners; the self-intersection check is O(n²).
MAX_POLYGON_VERTICES = 1000
# Floor-plan metres: beyond this a coordinate is a unit or typing error (and its areas would overflow).
MAX_COORDINATE_M = 100_000.0
_CROSSING_BLOCK = 128
# Relative size of the DLT's second-smallest singular value below which the points fit many homographies.
_UNDETERMINED = 1e-6


class GeometryError(FieldError, ValueError):
    """Invalid calibration points or polygon; `field` names the offending input for API field errors."""

    code = "invalid_geometry"


def _normalising_transform(points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    centre = points.mean(axis=0)
    scale = np.sqrt(2) / max(float(np.mean(np.linalg.norm(points - centre, axis=1))), 1e-12)
    return np.array(
        [[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1]], dtype=np.float64
    )


def _check_not_collinear(points: npt.NDArray[np.float64], field: str) -> None:
    centred = points - points.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    if singular[0] == 0 or singular[1] / singular[0] < 1e-3:
        raise GeometryError(
            field, "the points are collinear (or coincide): pick points spread over the floor"
        )


def homography_from_points(
    image_px: Sequence[Sequence[float]], floor_m: Sequence[Sequence[float]]
) -> tuple[npt.NDArray[np.float64], float]:
    """Normalised DLT: the 3x3 homography mapping image pixels to floor *centimetres*, and the RMS
    reprojection error in centimetres over the given pairs. Needs ≥ 4 pairs, not collinear on either side."""
    src = np.asarray(image_px, dtype=np.float64)
    dst = np.asarray(floor_m, dtype=np.float64) * 100.0
    if src.ndim != 2 or src.shape[1] != 2 or dst.shape != src.shape:
        raise GeometryError(
            "calibration_points", "each pair needs an image point [u, v] and a floor point [x, y]"
        )
    if src.shape[0] < 4:
        raise GeometryError("calibration_points", f"{src.shape[0]} point pairs given, at least 4 are needed")
    if not (np.all(np.isfinite(src)) and np.all(np.isfinite(dst))):
        raise GeometryError("calibration_points", "coordinates must be finite numbers")
    _check_not_collinear(src, "calibration_points")
    _check_not_collinear(dst, "calibration_points")
    t_src, t_dst = _normalising_transform(src), _normalising_transform(dst)
    src_n = (t_src @ np.c_[src, np.ones(len(src))].T).T
    dst_n = (t_dst @ np.c_[dst, np.ones(len(dst))].T).T
    rows = []
    for (u, v, _), (x, y, _) in zip(src_n, dst_n, strict=True):
        rows.append([-u, -v, -1, 0, 0, 0, x * u, x * v, x])
        rows.append([0, 0, 0, -u, -v, -1, y * u, y * v, y])
    _, singular, vt = np.linalg.svd(np.asarray(rows))
    # One solution needs a 1-D null space: the second-smallest of the 9 singular values (8 rows: the 9th is 0)
    # must not vanish too. It does when three of four points (four of five, ...) lie on one line: a family of
    # homographies then fits exactly, with a 0 cm error, and the one picked maps the rest of the floor anywhere.
    if np.r_[singular, np.zeros(9 - singular.size)][-2] < _UNDETERMINED * singular[0]:
        raise GeometryError(
            "calibration_points",
            "the points do not determine the mapping: at least 4 of them, no three on one line, are needed",
        )
    h_n = vt[-1].reshape(3, 3)
    homography = np.linalg.inv(t_dst) @ h_n @ t_src
    if not np.all(np.isfinite(homography)) or abs(float(np.linalg.det(homography))) < 1e-12 * float(
        np.linalg.norm(homography) ** 3
    ):
        raise GeometryError("calibration_points", "degenerate point configuration")
    homography = orient_homography(homography, src)
    projected = project_points(homography, src)
    error_cm = float(np.sqrt(np.mean(np.sum((projected - dst) ** 2, axis=1))))
    return homography, error_cm


def orient_homography(
    homography: npt.NDArray[np.float64], image_px: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The same homography with ``w > 0`` at every pixel of ``image_px`` (pixels that see the floor: the
    calibration points) and ``|h22| = 1``. Raises GeometryError when the pixels lie on both sides of the
    horizon (or on it): no homography maps them all onto the floor in front of the camera."""
    matrix = np.asarray(homography, dtype=np.float64)
    w = np.c_[image_px, np.ones(len(image_px))] @ matrix[2]
    if not (np.all(w > 0) or np.all(w < 0)):
        raise GeometryError(
            "calibration_points",
            "the points lie on both sides of the camera's horizon: pick points on the floor, away from it",
        )
    corner = abs(float(matrix[2, 2]))
    norm = float(np.linalg.norm(matrix))
    scale = corner if corner > 1e-9 * norm else norm
    oriented: npt.NDArray[np.float64] = matrix * (float(np.sign(w[0])) / scale)
    return oriented


def project_points(
    homography: npt.NDArray[np.float64], points: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Image pixels → floor through an oriented homography; pixels at or beyond the horizon (w ≤ 0) are NaN."""
    homogeneous: npt.NDArray[np.float64] = np.c_[points, np.ones(len(points))] @ homography.T
    w = homogeneous[:, 2:3]
    valid = w > 1e-12
    projected: npt.NDArray[np.float64] = np.where(valid, homogeneous[:, :2] / np.where(valid, w, 1.0), np.nan)
    return projected


def validate_polygon(polygon: object, field: str = "polygon") -> list[list[float]]:
    """A simple (non self-intersecting) polygon of ≥ 3 finite vertices with non-zero area, as [[x, y],
    ...]."""
    try:
        points = np.asarray(polygon, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise GeometryError(field, "polygon must be a list of [x, y] pairs") from err
    if points.ndim != 2 or points.shape[1] != 2:
        raise GeometryError(field, "polygon must be a list of [x, y] pairs")
    if points.shape[0] < 3:
        raise GeometryError(field, f"polygon has {points.shape[0]} vertices, at least 3 are needed")
    if points.shape[0] > MAX_POLYGON_VERTICES:
        raise GeometryError(
            field, f"polygon has {points.shape[0]} vertices, at most {MAX_POLYGON_VERTICES} are accepted"
        )
    if not np.all(np.isfinite(points)):
        raise GeometryError(field, "polygon coordinates must be finite numbers")
    if np.max(np.abs(points)) > MAX_COORDINATE_M:
        raise GeometryError(
            field, f"polygon coordinates must lie within ±{MAX_COORDINATE_M:g} m (floor-plan metres)"
        )
    # Crossing edges first: a symmetric bow-tie's signed areas cancel, and "zero area" would hide the real fault.
    crossing = _first_crossing(points)
    if crossing is not None:
        raise GeometryError(
            field,
            f"polygon edges {crossing[0]} and {crossing[1]} cross: the polygon is self-intersecting "
            "(click the corners in order around the area)",
        )
    if abs(polygon_area(points)) < 1e-6:
        raise GeometryError(field, "polygon has zero area (its corners lie on one line or coincide)")
    return [[float(px), float(py)] for px, py in points]


def polygon_area(points: npt.NDArray[np.float64]) -> float:
    """Signed area (shoelace) of an (n, 2) vertex array."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def area_inside_rect(polygon: Sequence[Sequence[float]], rect: tuple[float, float, float, float]) -> float:
    """Area of a simple polygon that lies inside the axis-aligned rectangle (x0, y0, x1, y1)
    (Sutherland-Hodgman clipping)."""
    x0, y0, x1, y1 = rect
    clipped = [(float(p[0]), float(p[1])) for p in polygon]
    edges = ((0, x0, 1.0), (0, x1, -1.0), (1, y0, 1.0), (1, y1, -1.0))  # keep side: sign * (v - bound) >= 0
    for axis, bound, sign in edges:
        if not clipped:
            return 0.0
        kept: list[tuple[float, float]] = []
        for k, current in enumerate(clipped):
            previous = clipped[k - 1]
            inside_now = sign * (current[axis] - bound) >= 0
            inside_before = sign * (previous[axis] - bound) >= 0
            if inside_now != inside_before:
                t = (bound - previous[axis]) / (current[axis] - previous[axis])
                kept.append(
                    (
                        previous[0] + t * (current[0] - previous[0]),
                        previous[1] + t * (current[1] - previous[1]),
                    )
                )
            if inside_now:
                kept.append(current)
        clipped = kept
    if len(clipped) < 3:
        return 0.0
    return abs(polygon_area(np.asarray(clipped, dtype=np.float64)))


def _first_crossing(points: npt.NDArray[np.float64]) -> tuple[int, int] | None:
    """The first pair (i, j), i < j, of non-adjacent edges that properly cross (edge k runs from vertex k to
    k + 1); None for a simple polygon. Vectorised in blocks of edges i against every edge j."""
    n = points.shape[0]
    ends = np.roll(points, -1, axis=0)
    edge = ends - points
    index = np.arange(n)

    def cross(d: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
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
