"""Floor projection: homography fitting, validation, projection and floor-region flags."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_agent.errors import GeometryError
from edge_agent.geometry import (
    FloorProjector,
    fit_homography,
    foot_points_px,
    homography_from_values,
    points_in_polygon,
    project_points,
)

# A perspective view of a floor: pixels → centimetres.
TRUE_H = np.array([[1.8, 0.35, -120.0], [0.05, 3.9, -410.0], [0.0, 0.0012, 1.0]])
IMAGE_POINTS = np.array(
    [[100, 200], [1100, 210], [1200, 700], [50, 690], [640, 400], [300, 500]], dtype=float
)


def floor_of(points: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(points.reshape(-1, 1, 2), TRUE_H).reshape(-1, 2)


@pytest.mark.parametrize("count", [4, 5, 6])
def test_fit_recovers_the_homography_with_zero_error(count: int) -> None:
    calibration = fit_homography(IMAGE_POINTS[:count], floor_of(IMAGE_POINTS[:count]))
    assert np.allclose(calibration.homography_px_to_cm, TRUE_H / TRUE_H[2, 2], rtol=1e-6, atol=1e-6)
    assert calibration.rms_error_cm < 1e-3  # well under a millimetre


def test_reprojection_error_reports_a_misplaced_point_in_cm() -> None:
    floor = floor_of(IMAGE_POINTS)
    floor[5] += (30.0, 0.0)  # the installer clicked 30 cm off
    calibration = fit_homography(IMAGE_POINTS, floor)
    assert 3.0 < calibration.rms_error_cm < 30.0
    assert int(np.argmax(calibration.errors_cm)) == 5


@pytest.mark.parametrize(
    ("image", "floor", "message"),
    [
        ([[0, 0], [1, 1], [2, 3]], [[0, 0], [1, 1], [2, 3]], "at least 4"),
        ([[0, 0], [10, 0], [20, 0], [30, 0]], [[0, 0], [1, 0], [1, 1], [0, 1]], "collinear"),
        ([[0, 0], [10, 0], [20, 0], [0, 10]], [[0, 0], [1, 0], [1, 1], [0, 1]], "three of the four"),
        ([[0, 0], [10, 0], [10, 10], [0, 10]], [[0, 0], [1, 0], [2, 0], [3, 0]], "collinear"),
        ([[0, 0], [10, 0], [10, 10], [0, 10]], [[0, 0], [1, 0], [1, 1]], "pair up"),
        ([[0, 0], [10, 0], [10, float("nan")], [0, 10]], [[0, 0], [1, 0], [1, 1], [0, 1]], "NaN"),
        ([[0, 0, 0], [10, 0, 0], [10, 10, 0], [0, 10, 0]], [[0, 0], [1, 0], [1, 1], [0, 1]], "pairs"),
    ],
)
def test_bad_point_sets_are_rejected(
    image: list[list[float]], floor: list[list[float]], message: str
) -> None:
    with pytest.raises(GeometryError, match=message):
        fit_homography(image, floor)


def test_projection_matches_opencv_and_flags_points_beyond_the_horizon() -> None:
    points = np.array([[10.0, 20.0], [640.0, 360.0], [0.0, -2000.0]])
    projected = project_points(TRUE_H, points)
    expected = floor_of(points[:2])
    assert np.allclose(projected[:2], expected)
    assert np.all(np.isnan(projected[2]))  # w <= 0: behind the camera's horizon


def test_foot_point_is_the_bottom_centre() -> None:
    assert foot_points_px(np.array([[10, 20, 30, 100]])).tolist() == [[20.0, 100.0]]


@pytest.mark.parametrize(
    ("point", "inside"),
    [((5, 5), True), ((15, 5), False), ((5, 15), False), ((2, 8), False), ((8, 2), True), ((-1, 5), False)],
)
def test_point_in_concave_polygon(point: tuple[float, float], inside: bool) -> None:
    # An L shape: the square 0..10 without its upper-left quarter 0..5 x 5..10.
    polygon = np.array([[0, 0], [10, 0], [10, 10], [5, 10], [5, 5], [0, 5]], dtype=float)
    assert points_in_polygon(np.array([point], dtype=float), polygon).tolist() == [inside]


def test_nan_points_are_outside_and_short_polygons_rejected() -> None:
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    assert points_in_polygon(np.array([[np.nan, 0.5]]), square).tolist() == [False]
    with pytest.raises(GeometryError):
        points_in_polygon(np.array([[0.5, 0.5]]), square[:2])


def test_projector_flags_points_outside_the_floor_region() -> None:
    projector = FloorProjector(
        homography_px_to_cm=np.diag([2.0, 2.0, 1.0]),
        floor_region_cm=np.array([[0, 0], [1000, 0], [1000, 1000], [0, 1000]], dtype=float),
    )
    boxes = np.array([[100, 100, 140, 200], [600, 100, 640, 200]], dtype=np.float32)
    floor, outside = projector.project(boxes)
    assert floor.tolist() == [[240.0, 400.0], [1240.0, 400.0]]
    assert outside.tolist() == [False, True]
    uncalibrated_floor, uncalibrated_outside = FloorProjector().project(boxes)
    assert np.all(np.isnan(uncalibrated_floor))
    assert not uncalibrated_outside.any()


@pytest.mark.parametrize(
    ("values", "message"),
    [([1, 0, 0, 0, 1, 0, 0, 0], "exactly 9"), ([1, 0, 0, 0, 1, 0, 0, 0, float("inf")], "NaN or infinite"),
     ([0] * 9, "singular")],
)  # fmt: skip
def test_homography_values_are_validated(values: list[float], message: str) -> None:
    with pytest.raises(GeometryError, match=message):
        homography_from_values(values)


def test_a_tilted_ceiling_camera_projects_a_person_beside_its_axis_from_their_feet() -> None:
    """The analysed frame's size gives the projector the camera's vertical (its principal point is the centre): a
    person off the image's centre column, whose box leans, is placed on their own axis, where they stand (the
    boxes are the simulator's: feet 0.12 m round, shoulders and head of a 1.7 m person; the box's bottom is the
    near edge of the feet, FOOT_DEPTH_CM short of it; within 0.05 m off the axis, where the nearest foot is not
    straight towards the camera), not 0.25+ m beside it."""
    from simulation.cameras import PinholeCamera

    camera = PinholeCamera((4.0, 0.0, 3.0), tilt_deg=35.0, yaw_deg=90.0, width_px=1280, height_px=720)
    floor_m = np.array([[2.0, 3.0], [6.0, 3.0], [6.5, 8.0], [1.5, 8.0]])
    calibration = fit_homography(camera.floor_to_pixels(floor_m), floor_m * 100.0)
    standing = np.array([[1.5, 4.0], [7.0, 3.5], [4.0, 6.0]])  # left of, right of and on the camera's axis
    box = camera.person_boxes_px(standing)
    boxes = np.c_[box[:, :2], box[:, :2] + box[:, 2:]]
    floor_cm, _ = FloorProjector(homography_px_to_cm=calibration.homography_px_to_cm).project(
        boxes, (1280, 720)
    )
    assert np.linalg.norm(floor_cm / 100.0 - standing, axis=1).max() < 0.05  # was 0.12: the near edge
    unsized, _ = FloorProjector(homography_px_to_cm=calibration.homography_px_to_cm).project(boxes)
    assert np.linalg.norm(unsized / 100.0 - standing, axis=1).max() > 0.25  # no frame size: the bottom centre
