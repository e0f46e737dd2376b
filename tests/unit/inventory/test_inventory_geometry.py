"""The server's homography fitter with a camera mounted like a real store camera (3 m, tilted 35°, 90° HFOV):
the fitted homography is oriented (w > 0 at the calibration points), so the edge projects onto the floor."""

from __future__ import annotations

import numpy as np
import pytest

from server.analytics.floor_geometry import GeometryError, homography_from_points, project_points
from simulation.cameras import PinholeCamera

CEILING = PinholeCamera(
    position_m=(0.0, 0.0, 3.0), tilt_deg=35.0, yaw_deg=90.0, hfov_deg=90.0, width_px=1280, height_px=960
)
CLICKED_M = np.array([[-2.0, 2.5], [2.0, 2.5], [3.5, 7.0], [-3.5, 7.0], [0.0, 4.5]])
FEET_M = np.array([[0.0, 3.0], [-1.5, 5.0], [2.5, 9.0], [1.0, 12.0]])


def test_the_top_left_pixel_of_the_ceiling_camera_is_above_the_horizon() -> None:
    assert not CEILING.sees_floor(np.array([[0.0, 0.0]]))[0]
    assert CEILING.sees_floor(CEILING.floor_to_pixels(CLICKED_M)).all()


@pytest.mark.parametrize("count", [4, 5])
def test_fitted_homography_is_oriented_and_projects_feet_onto_the_floor(count: int) -> None:
    homography, error_cm = homography_from_points(
        CEILING.floor_to_pixels(CLICKED_M[:count]).tolist(), CLICKED_M[:count].tolist()
    )
    assert error_cm < 1e-3
    pixels = CEILING.floor_to_pixels(CLICKED_M[:count])
    assert (pixels @ homography[2, :2] + homography[2, 2] > 0).all()
    assert abs(homography[2, 2]) == pytest.approx(1.0)
    projected = project_points(homography, CEILING.floor_to_pixels(FEET_M))
    np.testing.assert_allclose(projected, FEET_M * 100.0, atol=1e-3)
    assert np.isnan(project_points(homography, np.array([[0.0, 0.0]]))).all()  # above the horizon


def test_points_on_both_sides_of_the_horizon_are_rejected() -> None:
    image = [[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0], [50.0, 20.0]]
    matrix = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.02, -1.0]])
    homogeneous = np.c_[np.array(image), np.ones(5)] @ matrix.T
    floor_m = (homogeneous[:, :2] / homogeneous[:, 2:3] / 100.0).tolist()
    with pytest.raises(GeometryError, match="both sides of the camera's horizon") as raised:
        homography_from_points(image, floor_m)
    assert raised.value.field == "calibration_points"
