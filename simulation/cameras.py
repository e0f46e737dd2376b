"""Pinhole cameras as real stores mount them, and what their edge box reports of a person.

A camera hangs ``position_m[2]`` (2.5-4 m) above the floor, looks along ``yaw_deg`` (on the floor plan,
counter-clockwise from +x) tilted ``tilt_deg`` below the horizontal, has a horizontal field of view
``hfov_deg`` over ``width_px`` x ``height_px`` pixels and optionally a radially distorting lens (``k1``,
``k2`` on normalised image coordinates, Brown model). ``distortion_corrected`` says whether the edge
undistorts the image before detection (then pixels follow the ideal pinhole).

The installer calibrates it like the product asks: four floor markers clicked in the (possibly distorted)
image with a few pixels of click error, fitted by the server's own fitter
(:func:`server.analytics.floor_geometry.homography_from_points`). The edge reports a person as the foot point
(bottom centre of their box, with detector jitter proportional to the box size) projected through that
homography, so a far person is small, noisy and, with uncorrected distortion near the image border, biased.
Pure NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retail_common.homography import beyond_near_edge, camera_nadir, foot_points_px, vertical_vanishing_point
from server.analytics.floor_geometry import homography_from_points, project_points
from server.analytics.geometry import BoolArray, FloatArray

PERSON_HEIGHT_M = 1.7
PERSON_RADIUS_M = 0.25
FOOT_RADIUS_M = 0.12
# The detector finds people whose box is at least this tall.
MIN_BOX_HEIGHT_PX = 40.0
# Markers the installer clicks, spread over the view: these image positions (fractions of width, height).
MARKER_FRACTIONS = ((0.15, 0.4), (0.85, 0.4), (0.92, 0.92), (0.08, 0.92))


@dataclass(frozen=True)
class PinholeCamera:
    """A ceiling-mounted pinhole camera (see the module docstring)."""

    position_m: tuple[float, float, float]
    tilt_deg: float
    yaw_deg: float
    hfov_deg: float = 90.0
    width_px: int = 1280
    height_px: int = 720
    k1: float = 0.0
    k2: float = 0.0
    distortion_corrected: bool = True

    @property
    def focal_px(self) -> float:
        return (self.width_px / 2) / float(np.tan(np.radians(self.hfov_deg) / 2))

    def rotation(self) -> FloatArray:
        """Rows: the camera's right, down and forward axes in floor coordinates (x, y, z up)."""
        yaw, tilt = np.radians(self.yaw_deg), np.radians(self.tilt_deg)
        forward = np.array([np.cos(yaw) * np.cos(tilt), np.sin(yaw) * np.cos(tilt), -np.sin(tilt)])
        right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        result: FloatArray = np.stack([right, down, forward])
        return result

    def _distort(self, normalised: FloatArray) -> FloatArray:
        if self.distortion_corrected or (self.k1 == 0.0 and self.k2 == 0.0):
            return normalised
        r2 = np.sum(normalised**2, axis=-1, keepdims=True)
        result: FloatArray = normalised * (1.0 + self.k1 * r2 + self.k2 * r2 * r2)
        return result

    def project(self, xyz_m: FloatArray) -> tuple[FloatArray, BoolArray]:
        """Pixels of (..., 3) floor-frame points as the analysed image shows them, and whether each point is
        in front of the camera (pixels of points behind it are meaningless)."""
        camera = (xyz_m - np.array(self.position_m)) @ self.rotation().T
        depth = camera[..., 2:3]
        in_front: BoolArray = depth[..., 0] > 1e-6
        normalised = self._distort(camera[..., :2] / np.where(depth > 1e-6, depth, 1e-6))
        centre = np.array([self.width_px / 2, self.height_px / 2])
        pixels: FloatArray = normalised * self.focal_px + centre
        return pixels, in_front

    def floor_to_pixels(self, xy_m: FloatArray) -> FloatArray:
        """Pixels of floor points (z = 0); NaN behind the camera."""
        pixels, in_front = self.project(np.c_[xy_m, np.zeros(len(xy_m))])
        result: FloatArray = np.where(in_front[:, None], pixels, np.nan)
        return result

    def sees_floor(self, pixels: FloatArray) -> BoolArray:
        """Whether the ray of each ideal (undistorted) pixel hits the floor in front of the camera."""
        centre = np.array([self.width_px / 2, self.height_px / 2])
        rays = np.c_[(pixels - centre) / self.focal_px, np.ones(len(pixels))] @ self.rotation()
        result: BoolArray = rays[:, 2] < 0
        return result

    def pixels_to_floor_exact(self, pixels: FloatArray) -> FloatArray:
        """Floor point (metres) seen by each ideal (undistorted) pixel; NaN above the horizon."""
        centre = np.array([self.width_px / 2, self.height_px / 2])
        rays = np.c_[(pixels - centre) / self.focal_px, np.ones(len(pixels))] @ self.rotation()
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = -self.position_m[2] / rays[:, 2]
        floor = np.array(self.position_m[:2]) + rays[:, :2] * scale[:, None]
        result: FloatArray = np.where((rays[:, 2] < 0)[:, None], floor, np.nan)
        return result

    def person_boxes_px(self, xy_m: FloatArray) -> FloatArray:
        """(N, 4) boxes x, y, w, h: the image extent of a person standing at each point (feet within
        ``FOOT_RADIUS_M`` on the floor, shoulders ``PERSON_RADIUS_M`` wide, head at ``PERSON_HEIGHT_M``): the
        box bottom is the nearest foot, a little in front of where the person stands, as a detector sees it."""
        n = xy_m.shape[0]
        if n == 0:
            return np.zeros((0, 4))
        angles = np.linspace(0.0, 2 * np.pi, 8, endpoint=False)
        unit = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        parts = []
        for radius, z in (
            (FOOT_RADIUS_M, 0.0),
            (PERSON_RADIUS_M, 0.5),
            (PERSON_RADIUS_M, 1.45),
            (0.1, PERSON_HEIGHT_M),
        ):
            ring = xy_m[:, None, :] + unit[None] * radius
            parts.append(np.concatenate([ring, np.full((n, 8, 1), z)], axis=2))
        pixels, _ = self.project(np.concatenate(parts, axis=1))
        low, high = pixels.min(axis=1), pixels.max(axis=1)
        return np.concatenate([low, np.maximum(high - low, 1.0)], axis=1)

    def foot_pixels(self, xy_m: FloatArray) -> FloatArray:
        """Bottom centre of each person's box (what the edge projects)."""
        boxes = self.person_boxes_px(xy_m)
        result: FloatArray = np.c_[boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3]]
        return result

    def detectable(self, xy_m: FloatArray) -> BoolArray:
        """People the detector can find: in front, foot point inside the image, box tall enough."""
        if xy_m.shape[0] == 0:
            return np.zeros(0, dtype=np.bool_)
        _, in_front = self.project(np.c_[xy_m, np.zeros(len(xy_m))])
        _, head_in_front = self.project(np.c_[xy_m, np.full(len(xy_m), PERSON_HEIGHT_M)])
        boxes = self.person_boxes_px(xy_m)
        foot = np.c_[boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3]]
        inside = (
            (foot[:, 0] >= 0)
            & (foot[:, 0] < self.width_px)
            & (foot[:, 1] >= 0)
            & (foot[:, 1] < self.height_px)
        )
        result: BoolArray = in_front & head_in_front & inside & (boxes[:, 3] >= MIN_BOX_HEIGHT_PX)
        return result

    def markers_m(self) -> FloatArray:
        """The floor markers the installer clicks (where the marker image positions see the floor)."""
        fractions = np.array(MARKER_FRACTIONS) * np.array([self.width_px, self.height_px])
        return self.pixels_to_floor_exact(fractions)

    def installer_homography(self, rng: np.random.Generator, click_noise_px: float = 1.5) -> FloatArray:
        """px → cm homography fitted (by the server's fitter) from four markers clicked in the analysed image
        with ``click_noise_px`` of click error; uncorrected distortion shifts the clicked pixels too."""
        markers = self.markers_m()
        if not np.all(np.isfinite(markers)):
            raise ValueError("a calibration marker lies above the camera's horizon")
        clicked = self.floor_to_pixels(markers) + rng.normal(0.0, click_noise_px, (len(markers), 2))
        homography, _ = homography_from_points(clicked.tolist(), markers.tolist())
        return homography

    def observe_floor_m(
        self,
        xy_m: FloatArray,
        homography_px_to_cm: FloatArray,
        rng: np.random.Generator,
        jitter_fraction: float = 0.03,
    ) -> FloatArray:
        """What the edge reports for people at ``xy_m``: the foot point with detector jitter (a fraction of the
        box size), projected through the installer's homography, in metres (NaN beyond the horizon)."""
        boxes = self.person_boxes_px(xy_m)
        sigma = jitter_fraction * np.c_[boxes[:, 2], boxes[:, 3] * 0.5] + 0.5
        # The detector's jitter moves the box; the edge's own foot point (edge_agent.geometry.FloorProjector) is
        # then on the person's axis, with the vertical found from the installer's homography like the edge finds it.
        noisy = np.c_[boxes[:, :2], boxes[:, :2] + boxes[:, 2:]] + np.tile(
            rng.normal(0.0, 1.0, (len(boxes), 2)) * sigma, 2
        )
        vertical = vertical_vanishing_point(homography_px_to_cm, self.width_px, self.height_px)
        floor_cm = project_points(homography_px_to_cm, foot_points_px(noisy, vertical))
        result: FloatArray = beyond_near_edge(floor_cm, camera_nadir(homography_px_to_cm, vertical)) / 100.0
        return result

    def view_depth_m(self) -> tuple[float, float]:
        """Nearest and farthest floor distance (along the view direction, from below the camera) at which
        the detector finds a person on the image's centre column."""
        centre_u = self.width_px / 2
        v = np.arange(self.height_px, dtype=np.float64)
        floor = self.pixels_to_floor_exact(np.c_[np.full_like(v, centre_u), v])
        floor = floor[np.all(np.isfinite(floor), axis=1)]
        ok = self.detectable(floor)
        yaw = np.radians(self.yaw_deg)
        along = (floor[ok] - np.array(self.position_m[:2])) @ np.array([np.cos(yaw), np.sin(yaw)])
        return float(along.min()), float(along.max())
