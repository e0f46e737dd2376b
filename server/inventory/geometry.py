"""Floor geometry on the server: homographies from point pairs and polygon validation. Pure numpy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


class GeometryError(ValueError):
    """Invalid calibration points or polygon; `field` names the offending input for API field errors."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


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
    _, _, vt = np.linalg.svd(np.asarray(rows))
    h_n = vt[-1].reshape(3, 3)
    homography = np.linalg.inv(t_dst) @ h_n @ t_src
    if abs(homography[2, 2]) < 1e-12:
        raise GeometryError("calibration_points", "degenerate point configuration")
    homography = homography / homography[2, 2]
    projected = project_points(homography, src)
    error_cm = float(np.sqrt(np.mean(np.sum((projected - dst) ** 2, axis=1))))
    return homography, error_cm


def project_points(
    homography: npt.NDArray[np.float64], points: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    homogeneous: npt.NDArray[np.float64] = np.c_[points, np.ones(len(points))] @ homography.T
    projected: npt.NDArray[np.float64] = homogeneous[:, :2] / homogeneous[:, 2:3]
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
    if not np.all(np.isfinite(points)):
        raise GeometryError(field, "polygon coordinates must be finite numbers")
    # Crossing edges first: a symmetric bow-tie's signed areas cancel, and "zero area" would hide the real fault.
    n = points.shape[0]
    for i in range(n):
        a, b = points[i], points[(i + 1) % n]
        for j in range(i + 1, n):
            if j == i or (j + 1) % n == i or j == (i + 1) % n:
                continue
            c, d = points[j], points[(j + 1) % n]
            if _segments_cross(a, b, c, d):
                raise GeometryError(
                    field,
                    f"polygon edges {i} and {j} cross: the polygon is self-intersecting "
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


def _segments_cross(
    a: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
    c: npt.NDArray[np.float64],
    d: npt.NDArray[np.float64],
) -> bool:
    def orient(p: npt.NDArray[np.float64], q: npt.NDArray[np.float64], r: npt.NDArray[np.float64]) -> float:
        return float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    return (o1 * o2 < 0) and (o3 * o4 < 0)
