"""Floor geometry of a site in the server's terms: homographies from calibration point pairs (floor-plan metres
in, the wire's centimetres out), projection and polygon validation, with the server's field errors (inventory
calibrates cameras and validates zones with it; the demo and the simulator project with it).

The geometry itself is :mod:`retail_common.homography` and :mod:`retail_common.polygons`, shared with the edge
agent: every fitted homography is oriented (``w > 0`` at its calibration points, ``|h22| = 1``), so the edge
projects onto the floor side of the camera's horizon (see there).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from retail_common import homography as shared_homography
from retail_common.errors import GeometryError as SharedGeometryError
from retail_common.homography import project_points
from retail_common.polygons import MIN_AREA_M2, check_polygon, polygon_area
from server.errors import FieldError

__all__ = [
    "MAX_COORDINATE_M",
    "MAX_POLYGON_VERTICES",
    "GeometryError",
    "area_inside_rect",
    "homography_from_points",
    "polygon_area",
    "project_points",
    "validate_polygon",
]

# A zone or floor region traced in detail has a few hundred corners; the self-intersection check is O(n²).
MAX_POLYGON_VERTICES = 1000
# Floor-plan metres: beyond this a coordinate is a unit or typing error (and its areas would overflow).
MAX_COORDINATE_M = 100_000.0
# The smallest zone or floor region (1 cm²): the analytics' bound too, so what the API accepts they accept.
MIN_POLYGON_AREA_M2 = MIN_AREA_M2


class GeometryError(FieldError, ValueError):
    """Invalid calibration points or polygon; `field` names the offending input for API field errors."""

    code = "invalid_geometry"


def homography_from_points(
    image_px: Sequence[Sequence[float]], floor_m: Sequence[Sequence[float]]
) -> tuple[npt.NDArray[np.float64], float]:
    """The oriented 3x3 homography mapping image pixels to floor *centimetres* (the wire's unit), and the RMS
    reprojection error in centimetres over the given pairs. Needs ≥ 4 pairs, spread over an area on either side
    (:func:`retail_common.homography.fit_homography`, the edge's fitter too)."""
    src = np.asarray(image_px, dtype=np.float64)
    dst = np.asarray(floor_m, dtype=np.float64) * 100.0
    if src.ndim != 2 or src.shape[1] != 2 or dst.shape != src.shape:
        raise GeometryError(
            "calibration_points", "each pair needs an image point [u, v] and a floor point [x, y]"
        )
    try:
        homography = shared_homography.fit_homography(src, dst)
    except SharedGeometryError as err:
        raise GeometryError("calibration_points", err.message) from err
    errors_cm = shared_homography.reprojection_errors(homography, src, dst)
    return homography, float(np.sqrt(np.mean(errors_cm**2)))


def validate_polygon(polygon: object, field: str = "polygon") -> list[list[float]]:
    """A simple (non self-intersecting) polygon of ≥ 3 finite vertices with non-zero area, as [[x, y],
    ...] (:func:`retail_common.polygons.check_polygon`, which the analytics' zones pass too)."""
    try:
        points = check_polygon(
            polygon,
            min_area_m2=MIN_POLYGON_AREA_M2,
            max_vertices=MAX_POLYGON_VERTICES,
            max_abs_coordinate_m=MAX_COORDINATE_M,
        )
    except SharedGeometryError as err:
        raise GeometryError(field, err.message) from err
    return [[float(px), float(py)] for px, py in points]


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
