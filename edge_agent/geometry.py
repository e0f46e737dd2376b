"""Floor projection on the edge: calibration, foot points, floor-region checks (all vectorised).

The geometry is :mod:`retail_common.homography` and :mod:`retail_common.polygons`, shared with the server (one
fitter, one orientation rule, one polygon test): a homography is defined up to scale *and sign*, and projection
needs the sign, because the floor side of the camera's horizon is where ``w = h20 u + h21 v + h22 > 0``. A
homography is oriented wherever it comes in: fitted (``w > 0`` at the calibration points), received with a
trusted floor region (``w > 0`` at the pixels that see the region) or, without one, at the first analysed frame
(``w > 0`` over most of the image: a camera looks down at the floor); its scale is then ``|h22| = 1``. Errors
of the shared helpers come out as :class:`edge_agent.errors.GeometryError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edge_agent.errors import GeometryError
from retail_common import homography as shared
from retail_common.errors import GeometryError as SharedGeometryError
from retail_common.homography import (
    beyond_near_edge,
    camera_nadir,
    foot_points_px,
    frame_grid_px,
    project_points,
    vertical_vanishing_point,
)
from retail_common.polygons import points_in_polygon as shared_points_in_polygon

__all__ = [
    "Calibration",
    "FloorProjector",
    "fit_homography",
    "foot_points_px",
    "frame_grid_px",
    "homography_from_values",
    "orient_homography",
    "orient_homography_to_floor",
    "points_in_polygon",
    "project_points",
    "reprojection_errors_cm",
]


@dataclass(frozen=True, slots=True)
class Calibration:
    """Result of ``fit_homography``: the 3x3 image→floor matrix and its reprojection error on the input
    pairs."""

    homography_px_to_cm: NDArray[np.float64]
    rms_error_cm: float
    max_error_cm: float
    errors_cm: NDArray[np.float64]


def fit_homography(image_points_px: ArrayLike, floor_points_cm: ArrayLike) -> Calibration:
    """Homography mapping image pixels to floor centimetres from ≥ 4 point pairs (least squares over all
    pairs; the server's calibration fits the same way).

    Raises ``GeometryError`` for fewer than 4 pairs, mismatched lengths, non-finite values, collinear points
    or a degenerate solution.
    """
    try:
        homography = shared.fit_homography(image_points_px, floor_points_cm)
    except SharedGeometryError as err:
        raise GeometryError(err.message) from err
    errors = reprojection_errors_cm(homography, image_points_px, floor_points_cm)
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
    return shared.reprojection_errors(homography_px_to_cm, image_points_px, floor_points_cm)


def homography_from_values(values: ArrayLike) -> NDArray[np.float64]:
    """Validate 9 row-major values (wire / config form) into a 3x3 matrix."""
    try:
        return shared.homography_from_values(values)
    except SharedGeometryError as err:
        raise GeometryError(err.message) from err


def orient_homography(
    homography: NDArray[np.float64], floor_pixels_px: ArrayLike, *, require_all: bool = False
) -> NDArray[np.float64]:
    """The same homography with ``w > 0`` at ``floor_pixels_px`` (all of them with ``require_all``, else the
    majority) and ``|h22| = 1`` (:func:`retail_common.homography.orient_homography`)."""
    try:
        return shared.orient_homography(homography, floor_pixels_px, require_all=require_all)
    except SharedGeometryError as err:
        raise GeometryError(err.message) from err


def orient_homography_to_floor(
    homography: NDArray[np.float64], floor_points_cm: ArrayLike
) -> NDArray[np.float64]:
    """Orient so that the pixels seeing ``floor_points_cm`` (a trusted floor region) have ``w > 0``
    (:func:`retail_common.homography.orient_homography_to_floor`)."""
    return shared.orient_homography_to_floor(homography, floor_points_cm)


def points_in_polygon(points: NDArray[np.floating], polygon: NDArray[np.floating]) -> NDArray[np.bool_]:
    """Even-odd rule test of N points against one polygon (Mx2 vertices); NaN points are outside."""
    try:
        return shared_points_in_polygon(points, polygon)
    except SharedGeometryError as err:
        raise GeometryError(err.message) from err


@dataclass(slots=True)
class FloorProjector:
    """Per-camera projection of track boxes to the floor, with the optional trusted floor region.

    A received homography is oriented (see the module docstring) by the floor region when there is one,
    else by the first frame whose size ``project`` is told."""

    homography_px_to_cm: NDArray[np.float64] | None = None
    floor_region_cm: NDArray[np.float64] | None = None
    oriented: bool = False
    # Where the vertical lines of the analysed frame meet (`retail_common.homography.vertical_vanishing_point`), for
    # the frame size it was found for: a person's foot point is on their own axis, not at their box's bottom centre.
    vertical_vanishing_px: NDArray[np.float64] | None = None
    _vertical_for: tuple[int, int] | None = None
    # The floor point below the camera (`camera_nadir`), with the vertical: where the foot points move away from.
    _nadir_cm: NDArray[np.float64] | None = None

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
        if frame_size_px is not None and frame_size_px != self._vertical_for:
            self._vertical_for = frame_size_px
            self.vertical_vanishing_px = vertical_vanishing_point(self.homography_px_to_cm, *frame_size_px)
            self._nadir_cm = camera_nadir(self.homography_px_to_cm, self.vertical_vanishing_px)
        floor = project_points(self.homography_px_to_cm, foot_points_px(xyxy_px, self.vertical_vanishing_px))
        # The box's bottom is the near edge of the feet: the person stands a little further from the camera.
        floor = beyond_near_edge(floor, self._nadir_cm)
        if self.floor_region_cm is None:
            outside = ~np.all(np.isfinite(floor), axis=1)
        else:
            outside = ~points_in_polygon(floor, self.floor_region_cm)
        return floor.astype(np.float32), outside
