"""A pinhole camera mounted like a real store camera: 3 m high, tilted 35° down, 90° horizontal field of view.

Its top rows see above the horizon, so the image→floor homography has w < 0 at pixel (0, 0); dividing by h22
flipped the sign and every floor point came out NaN ("beyond the horizon"). A homography is defined up to
scale and sign: it is oriented wherever it is fitted or received.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.errors import GeometryError
from edge_agent.geometry import FloorProjector, fit_homography, homography_from_values, project_points
from retail_common.homography import FOOT_DEPTH_CM

WIDTH_PX, HEIGHT_PX = 1280, 960
FOCAL_PX = (WIDTH_PX / 2) / np.tan(np.radians(45.0))  # 90° horizontal field of view


def _projection(height_m: float = 3.0, tilt_deg: float = 35.0) -> np.ndarray:
    """3x4 world-centimetre → pixel projection of a camera at (0, 0, height) looking along +y, tilted down."""
    tilt = np.radians(tilt_deg)
    forward = np.array([0.0, np.cos(tilt), -np.sin(tilt)])
    right = np.array([1.0, 0.0, 0.0])
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])
    eye = np.array([0.0, 0.0, height_m * 100.0])
    intrinsics = np.array([[FOCAL_PX, 0, WIDTH_PX / 2], [0, FOCAL_PX, HEIGHT_PX / 2], [0, 0, 1]])
    result: np.ndarray = intrinsics @ np.hstack([rotation, (-rotation @ eye)[:, None]])
    return result


def ceiling_camera(height_m: float = 3.0, tilt_deg: float = 35.0) -> np.ndarray:
    """3x3 floor-centimetre → pixel homography of a camera at (0, 0, height) looking along +y, tilted down."""
    result: np.ndarray = _projection(height_m, tilt_deg)[:, [0, 1, 3]]
    return result


def standing_boxes(feet_cm: np.ndarray, width_px: float = 40.0) -> np.ndarray:
    """Boxes (x1, y1, x2, y2) of 170 cm people standing at ``feet_cm`` as the camera sees them: from the feet to
    the head, which a tilted camera shows leaning away from the image's centre column."""
    world = np.c_[feet_cm, np.zeros(len(feet_cm)), np.ones(len(feet_cm))]
    head = world + np.array([0.0, 0.0, 170.0, 0.0])
    ends = [(p @ _projection().T)[:, :2] / (p @ _projection().T)[:, 2:3] for p in (world, head)]
    low, high = np.minimum(*ends), np.maximum(*ends)
    boxes: np.ndarray = np.c_[low[:, 0] - width_px / 2, low[:, 1], high[:, 0] + width_px / 2, high[:, 1]]
    return boxes


def to_pixels(floor_to_image: np.ndarray, floor_cm: np.ndarray) -> np.ndarray:
    homogeneous = np.c_[floor_cm, np.ones(len(floor_cm))] @ floor_to_image.T
    assert (homogeneous[:, 2] > 0).all()  # in front of the camera
    result: np.ndarray = homogeneous[:, :2] / homogeneous[:, 2:3]
    return result


# Floor points (cm) an installer clicks, and people's foot points, all in view.
CLICKED_CM = np.array([[-200.0, 250.0], [200.0, 250.0], [350.0, 700.0], [-350.0, 700.0], [0.0, 450.0]])
FEET_CM = np.array([[0.0, 300.0], [-150.0, 500.0], [250.0, 900.0], [100.0, 1200.0]])


def test_the_ceiling_camera_sees_above_the_horizon_at_its_top_left_pixel() -> None:
    image_to_floor = np.linalg.inv(ceiling_camera())
    pixels = to_pixels(ceiling_camera(), CLICKED_CM)
    w_floor = pixels @ image_to_floor[2, :2] + image_to_floor[2, 2]
    assert (w_floor > 0).all()
    assert image_to_floor[2, 2] < 0  # the premise of the defect


@pytest.mark.parametrize("count", [4, 5])
def test_fitted_ceiling_homography_projects_feet_onto_the_floor(count: int) -> None:
    camera = ceiling_camera()
    calibration = fit_homography(to_pixels(camera, CLICKED_CM[:count]), CLICKED_CM[:count])
    assert calibration.rms_error_cm < 1e-3
    projected = project_points(calibration.homography_px_to_cm, to_pixels(camera, FEET_CM))
    np.testing.assert_allclose(projected, FEET_CM, atol=1e-3)
    # A pixel above the horizon is still rejected.
    assert np.isnan(project_points(calibration.homography_px_to_cm, np.array([[0.0, 0.0]]))).all()


@pytest.mark.parametrize(("height_m", "tilt_deg"), [(2.5, 20.0), (3.0, 35.0), (4.0, 60.0)])
def test_fit_is_oriented_for_store_mountings(height_m: float, tilt_deg: float) -> None:
    camera = ceiling_camera(height_m, tilt_deg)
    clicked = np.array([[-100.0, 1.0], [100.0, 1.0], [150.0, 3.0], [-150.0, 3.0]]) * np.array(
        [1.0, 100.0 * height_m / np.tan(np.radians(tilt_deg)) / 2.0]
    )
    calibration = fit_homography(to_pixels(camera, clicked), clicked)
    np.testing.assert_allclose(
        project_points(calibration.homography_px_to_cm, to_pixels(camera, clicked)), clicked, atol=1e-3
    )


def test_calibration_points_straddling_the_horizon_are_rejected() -> None:
    # A homography with its horizon through the middle of the points: half of them would lie behind it.
    image = np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0], [50.0, 20.0]])
    matrix = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.02, -1.0]])
    homogeneous = np.c_[image, np.ones(5)] @ matrix.T
    floor = homogeneous[:, :2] / homogeneous[:, 2:3]
    with pytest.raises(GeometryError, match="both sides of the camera's horizon"):
        fit_homography(image, floor)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_received_homography_is_oriented_by_the_frame(sign: float) -> None:
    """Values as the server or the command line send them, with either sign: the first frame orients them."""
    camera = ceiling_camera()
    values = (sign * np.linalg.inv(camera) / np.linalg.inv(camera)[2, 2]).reshape(-1).tolist()
    projector = FloorProjector(homography_px_to_cm=homography_from_values(values))
    floor, outside = projector.project(standing_boxes(FEET_CM), (WIDTH_PX, HEIGHT_PX))
    # The boxes' bottoms are these foot points; the person stands FOOT_DEPTH_CM further from the camera (at 0, 0).
    behind = FEET_CM * (1.0 + FOOT_DEPTH_CM / np.linalg.norm(FEET_CM, axis=1))[:, None]
    np.testing.assert_allclose(floor, behind, atol=0.05)
    assert not outside.any()


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_received_homography_is_oriented_by_the_floor_region(sign: float) -> None:
    camera = ceiling_camera()
    matrix = sign * np.linalg.inv(camera) / np.linalg.inv(camera)[2, 2]
    region = np.array([[-500.0, 200.0], [500.0, 200.0], [500.0, 1500.0], [-500.0, 1500.0]])
    projector = FloorProjector(homography_px_to_cm=matrix, floor_region_cm=region)
    feet_px = to_pixels(camera, FEET_CM)
    boxes = np.c_[feet_px[:, 0] - 20, feet_px[:, 1] - 150, feet_px[:, 0] + 20, feet_px[:, 1]]
    floor, outside = projector.project(boxes)
    np.testing.assert_allclose(floor, FEET_CM, atol=0.05)
    assert not outside.any()
