"""Floor projection: image↔floor homographies, foot points, floor-region checks (all vectorised).

A homography is defined up to scale *and sign*; projection needs the sign, because the floor side of the
camera's horizon is where ``w = h20 u + h21 v + h22 > 0``. Every homography is therefore oriented wherever
it comes in: fitted (``w > 0`` at the calibration points), received with a trusted floor region (``w > 0``
at the pixels that see the region) or, without one, at the first analysed frame (``w > 0`` over most of the
image: a camera looks down at the floor). Its scale is then ``|h22| = 1`` (unit norm if ``h22`` is ~0).
A ceiling camera tilted ~35° whose top rows see above the horizon has ``w < 0`` at pixel (0, 0): dividing
by ``h22`` alone flips the sign and would send every floor point beyond the horizon.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from edge_agent.errors import GeometryError

_COLLINEAR_TOLERANCE = 1e-3
_REGION_SAMPLES = 16  # per axis: the grid of floor points inside a region that orients a received homography


@dataclass(frozen=True, slots=True)
class Calibration:
    """Result of ``fit_homography``: the 3x3 image→floor matrix and its reprojection error on the input
    pairs."""

    homography_px_to_cm: NDArray[np.float64]
    rms_error_cm: float
    max_error_cm: float
    errors_cm: NDArray[np.float64]


def _as_points(points: ArrayLike, what: str) -> NDArray[np.float64]:
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise GeometryError(f"{what} must be a list of (x, y) pairs, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise GeometryError(f"{what} contain NaN or infinite values")
    return array


def _triangle_is_degenerate(points: NDArray[np.float64]) -> bool:
    """True when three points are (nearly) collinear, relative to the size of the triangle's sides."""
    a, b, c = points
    cross = abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))
    scale = max(float(np.max(np.ptp(points, axis=0))), 1e-12)
    return bool(cross <= _COLLINEAR_TOLERANCE * scale * scale)


def _check_general_position(points: NDArray[np.float64], what: str) -> None:
    centred = points - points.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    if singular[0] <= 1e-9 or singular[1] <= _COLLINEAR_TOLERANCE * singular[0]:
        raise GeometryError(f"{what} are collinear: a homography needs points spread over an area")
    if len(points) == 4:
        for triple in itertools.combinations(range(4), 3):
            if _triangle_is_degenerate(points[list(triple)]):
                raise GeometryError(f"{what}: three of the four points {list(triple)} are collinear")


def fit_homography(image_points_px: ArrayLike, floor_points_cm: ArrayLike) -> Calibration:
    """Homography mapping image pixels to floor centimetres from ≥ 4 point pairs (least squares over all
    pairs).

    Raises ``GeometryError`` for fewer than 4 pairs, mismatched lengths, non-finite values, collinear points
    or a degenerate solution.
    """
    image = _as_points(image_points_px, "image points")
    floor = _as_points(floor_points_cm, "floor points")
    if len(image) != len(floor):
        raise GeometryError(f"{len(image)} image points but {len(floor)} floor points: they must pair up")
    if len(image) < 4:
        raise GeometryError(f"a homography needs at least 4 point pairs, got {len(image)}")
    _check_general_position(image, "image points")
    _check_general_position(floor, "floor points")
    matrix, _ = cv2.findHomography(image, floor, method=0)
    if matrix is None or not np.all(np.isfinite(matrix)) or abs(float(np.linalg.det(matrix))) < 1e-12:
        raise GeometryError("the point pairs do not determine a valid homography")
    homography = orient_homography(np.asarray(matrix, dtype=np.float64), image, require_all=True)
    errors = reprojection_errors_cm(homography, image, floor)
    return Calibration(
        homography_px_to_cm=homography,
        rms_error_cm=float(np.sqrt(np.mean(errors**2))),
        max_error_cm=float(errors.max()),
        errors_cm=errors,
    )


def reprojection_errors_cm(
    homography_px_to_cm: NDArray[np.float64], image_points_px: ArrayLike, floor_points_cm: ArrayLike
) -> NDArray[np.float64]:
    """Distance in cm between each projected image point and its floor point."""
    projected = project_points(homography_px_to_cm, np.asarray(image_points_px, dtype=np.float64))
    return np.asarray(np.linalg.norm(projected - np.asarray(floor_points_cm, dtype=np.float64), axis=1))


def homography_from_values(values: ArrayLike) -> NDArray[np.float64]:
    """Validate 9 row-major values (wire / config form) into a 3x3 matrix."""
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.shape != (9,):
        raise GeometryError(f"a homography has exactly 9 values, got {array.shape[0]}")
    if not np.all(np.isfinite(array)):
        raise GeometryError("the homography contains NaN or infinite values")
    matrix = array.reshape(3, 3)
    if abs(float(np.linalg.det(matrix))) < 1e-15:
        raise GeometryError("the homography is singular")
    return matrix


def _w(homography: NDArray[np.float64], points_px: NDArray[np.float64]) -> NDArray[np.float64]:
    h = homography
    return np.asarray(h[2, 0] * points_px[:, 0] + h[2, 1] * points_px[:, 1] + h[2, 2], dtype=np.float64)


def _scaled(homography: NDArray[np.float64], sign: float) -> NDArray[np.float64]:
    corner = abs(float(homography[2, 2]))
    scale = corner if corner > 1e-9 * float(np.linalg.norm(homography)) else float(np.linalg.norm(homography))
    return np.asarray(homography * (sign / scale), dtype=np.float64)


def orient_homography(
    homography: NDArray[np.float64], floor_pixels_px: ArrayLike, *, require_all: bool = False
) -> NDArray[np.float64]:
    """The same homography with the sign that puts ``floor_pixels_px`` (pixels known to see the floor) on the
    floor side of the horizon (``w > 0``), scaled to ``|h22| = 1``.

    ``require_all``: every pixel must end up with ``w > 0`` (calibration points), else ``GeometryError``;
    otherwise the majority decides (pixels that merely may see the floor)."""
    pixels = np.asarray(floor_pixels_px, dtype=np.float64).reshape(-1, 2)
    w = _w(homography, pixels)
    positive = int(np.count_nonzero(w > 0))
    negative = int(np.count_nonzero(w < 0))
    if require_all and positive and negative:
        raise GeometryError(
            "the calibration points lie on both sides of the camera's horizon: "
            "pick points on the floor, away from the horizon"
        )
    if require_all and not (positive or negative):
        raise GeometryError("the calibration points lie on the camera's horizon")
    return _scaled(homography, 1.0 if positive >= negative else -1.0)


def orient_homography_to_floor(
    homography: NDArray[np.float64], floor_points_cm: ArrayLike
) -> NDArray[np.float64]:
    """Orient so that the pixels seeing ``floor_points_cm`` (e.g. a trusted floor region) have ``w > 0``.

    For a floor point X, the pixel q = H⁻¹X (homogeneous) projects back to X / q₂, so its ``w`` has the
    sign of q₂; the majority of the points decides. With 3 or more points (a region) the points decide together
    with a grid of points inside it, so that its area does: a region drawn around a camera on a pillar has
    corners behind the camera (q₂ < 0) as often as in front, but most of its area in front."""
    floor = np.asarray(floor_points_cm, dtype=np.float64).reshape(-1, 2)
    if len(floor) >= 3 and np.all(np.isfinite(floor)):
        low, high = floor.min(axis=0), floor.max(axis=0)
        steps = (np.arange(_REGION_SAMPLES) + 0.5) / _REGION_SAMPLES
        grid = np.stack(np.meshgrid(low[0] + steps * (high[0] - low[0]), low[1] + steps * (high[1] - low[1])))
        grid = grid.reshape(2, -1).T
        floor = np.r_[floor, grid[points_in_polygon(grid, floor)]]
    q2 = np.c_[floor, np.ones(len(floor))] @ np.linalg.inv(homography)[2]
    return _scaled(homography, 1.0 if np.count_nonzero(q2 > 0) >= np.count_nonzero(q2 < 0) else -1.0)


def frame_grid_px(width_px: int, height_px: int, steps: int = 9) -> NDArray[np.float64]:
    """A steps x steps grid of pixels spread over a frame (cell centres)."""
    u = (np.arange(steps) + 0.5) * (width_px / steps)
    v = (np.arange(steps) + 0.5) * (height_px / steps)
    return np.stack(np.meshgrid(u, v), axis=-1).reshape(-1, 2)


def project_points(homography: NDArray[np.float64], points_px: NDArray[np.floating]) -> NDArray[np.float64]:
    """Apply a homography to Nx2 points; points mapping to or behind the horizon (w ≤ 0) become NaN."""
    points = np.asarray(points_px, dtype=np.float64)
    h = homography
    x = points[:, 0]
    y = points[:, 1]
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    valid = w > 1e-12
    safe_w = np.where(valid, w, 1.0)
    out = np.empty((len(points), 2), dtype=np.float64)
    out[:, 0] = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / safe_w
    out[:, 1] = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / safe_w
    out[~valid] = np.nan
    return out


def foot_points_px(xyxy_px: NDArray[np.floating]) -> NDArray[np.float64]:
    """Bottom centre of each box (where a standing person touches the floor)."""
    boxes = np.asarray(xyxy_px, dtype=np.float64)
    return np.stack(((boxes[:, 0] + boxes[:, 2]) * 0.5, boxes[:, 3]), axis=1)


def points_in_polygon(points: NDArray[np.floating], polygon: NDArray[np.floating]) -> NDArray[np.bool_]:
    """Even-odd rule test of N points against one polygon (Mx2 vertices); NaN points are outside."""
    pts = np.asarray(points, dtype=np.float64)
    poly = np.asarray(polygon, dtype=np.float64)
    if len(poly) < 3:
        raise GeometryError(f"a floor region needs at least 3 vertices, got {len(poly)}")
    x = pts[:, 0:1]
    y = pts[:, 1:2]
    x1 = poly[:, 0][None, :]
    y1 = poly[:, 1][None, :]
    x2 = np.roll(poly[:, 0], -1)[None, :]
    y2 = np.roll(poly[:, 1], -1)[None, :]
    straddles = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    crossings = straddles & (x < x_cross)
    inside: NDArray[np.bool_] = ((np.count_nonzero(crossings, axis=1) % 2) == 1) & np.all(
        np.isfinite(pts), axis=1
    )
    return inside


@dataclass(slots=True)
class FloorProjector:
    """Per-camera projection of track boxes to the floor, with the optional trusted floor region.

    A received homography is oriented (see the module docstring) by the floor region when there is one,
    else by the first frame whose size ``project`` is told."""

    homography_px_to_cm: NDArray[np.float64] | None = None
    floor_region_cm: NDArray[np.float64] | None = None
    oriented: bool = False

    def __post_init__(self) -> None:
        if self.homography_px_to_cm is not None and self.floor_region_cm is not None and not self.oriented:
            self.homography_px_to_cm = orient_homography_to_floor(
                self.homography_px_to_cm, self.floor_region_cm
            )
            self.oriented = True

    def project(
        self, xyxy_px: NDArray[np.floating], frame_size_px: tuple[int, int] | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """Return (floor_xy_cm Nx2 float32, outside_region N bool). Uncalibrated: NaN positions, no region
        flag. ``frame_size_px`` (width, height) of the analysed frame orients a homography not oriented yet."""
        n = len(xyxy_px)
        if self.homography_px_to_cm is None:
            return np.full((n, 2), np.nan, dtype=np.float32), np.zeros((n,), dtype=np.bool_)
        if not self.oriented and frame_size_px is not None:
            self.homography_px_to_cm = orient_homography(
                self.homography_px_to_cm, frame_grid_px(*frame_size_px)
            )
            self.oriented = True
        floor = project_points(self.homography_px_to_cm, foot_points_px(xyxy_px))
        if self.floor_region_cm is None:
            outside = ~np.all(np.isfinite(floor), axis=1)
        else:
            outside = ~points_in_polygon(floor, self.floor_region_cm)
        return floor.astype(np.float32), outside
