"""retail_common.homography, the one fitter and orientation rule of the edge and the server: properties over random
perspective views (seeded), and the two sides' wrappers giving the same matrix."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.errors import GeometryError as EdgeGeometryError
from edge_agent.geometry import fit_homography as edge_fit
from retail_common import homography
from retail_common.errors import GeometryError
from retail_common.homography import (
    check_general_position,
    fit_homography,
    homography_from_values,
    orient_homography,
    orient_homography_to_floor,
    project_points,
    reprojection_errors,
)
from server.analytics.floor_geometry import GeometryError as ServerGeometryError
from server.analytics.floor_geometry import homography_from_points
from simulation.cameras import PinholeCamera

SEEDS = range(40)


def _random_view(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random camera-like homography (pixels → cm, floor side w > 0 over the image) and image points on it."""
    scale = rng.uniform(0.5, 5.0, size=2)
    shear = rng.uniform(-0.4, 0.4, size=2)
    matrix = np.array(
        [
            [scale[0], shear[0], rng.uniform(-500, 500)],
            [shear[1], scale[1], rng.uniform(-500, 500)],
            [rng.uniform(-4e-4, 4e-4), rng.uniform(-4e-4, 4e-4), 1.0],
        ]
    )
    count = int(rng.integers(4, 12))
    while True:
        pixels = rng.uniform([0, 0], [1280, 720], size=(count, 2))
        w = pixels @ matrix[2, :2] + matrix[2, 2]
        try:
            check_general_position(pixels, "pixels")
            check_general_position(project_points(matrix, pixels), "floor")
        except GeometryError:
            continue  # three of four (nearly) on one line: not a view an installer can calibrate from
        if np.all(w > 0.2):
            return matrix, pixels


@pytest.mark.parametrize("seed", SEEDS)
def test_fit_recovers_any_exact_view_and_any_sign_or_scale_orients_the_same(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth, pixels = _random_view(rng)
    floor = project_points(truth, pixels)
    fitted = fit_homography(pixels, floor)
    np.testing.assert_allclose(fitted, truth / truth[2, 2], rtol=1e-6, atol=1e-6)
    assert reprojection_errors(fitted, pixels, floor).max() < 1e-4
    factor = rng.uniform(0.01, 100.0) * rng.choice([-1.0, 1.0])
    np.testing.assert_allclose(orient_homography(truth * factor, pixels, require_all=True), fitted, atol=1e-6)
    region = floor[:3] if seed % 2 else floor
    np.testing.assert_allclose(orient_homography_to_floor(truth * factor, region), fitted, atol=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_edge_and_the_server_fit_the_same_matrix(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth, pixels = _random_view(rng)
    floor_cm = project_points(truth, pixels) + rng.normal(0.0, 3.0, size=(len(pixels), 2))  # clicks 3 cm off
    edge = edge_fit(pixels, floor_cm)
    server, rms_cm = homography_from_points(pixels.tolist(), (floor_cm / 100.0).tolist())
    np.testing.assert_allclose(edge.homography_px_to_cm, server, rtol=1e-9, atol=1e-9)
    assert rms_cm == pytest.approx(edge.rms_error_cm, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_projection_is_nan_exactly_beyond_the_horizon(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth, _ = _random_view(rng)
    pixels = rng.uniform(-1e5, 1e5, size=(200, 2))
    w = pixels @ truth[2, :2] + truth[2, 2]
    projected = project_points(truth, pixels)
    assert np.array_equal(np.isnan(projected).any(axis=1), w <= 1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_collinear_points_are_refused_on_both_sides(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 1, size=int(rng.integers(4, 9)))
    start, direction = rng.uniform(-100, 100, size=2), rng.uniform(-100, 100, size=2)
    line = start + t[:, None] * direction
    spread = rng.uniform(0, 1000, size=(len(t), 2))
    with pytest.raises(GeometryError, match="collinear"):
        fit_homography(line, spread)
    with pytest.raises(EdgeGeometryError, match="collinear"):
        edge_fit(spread, line)
    with pytest.raises(ServerGeometryError, match="collinear") as raised:
        homography_from_points(line.tolist(), spread.tolist())
    assert raised.value.field == "calibration_points"


@pytest.mark.parametrize(
    ("image", "floor", "message"),
    [
        ([[0, 0], [1, 0], [1, 1]], [[0, 0], [1, 0], [1, 1]], "at least 4"),
        ([[0, 0], [10, 0], [20, 0], [0, 10]], [[0, 0], [1, 0], [1, 1], [0, 1]], "three of the four"),
        ([[0, 0], [10, 0], [10, 10], [0, 10]], [[0, 0], [1, 0], [1, 1]], "pair up"),
        ([[0, 0], [10, 0], [10, np.inf], [0, 10]], [[0, 0], [1, 0], [1, 1], [0, 1]], "NaN or infinite"),
        # four of five on one line: many homographies fit exactly, none is determined
        ([[0, 0], [10, 0], [20, 0], [30, 0], [0, 10]], [[0, 0], [1, 0], [2, 0], [3, 0], [0, 1]], "determine"),
    ],
)
def test_bad_point_sets_name_the_fault(
    image: list[list[float]], floor: list[list[float]], message: str
) -> None:
    with pytest.raises(GeometryError, match=message):
        fit_homography(image, floor)


def test_calibration_points_across_the_horizon_are_refused() -> None:
    matrix = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.02, -1.0]])
    pixels = np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0], [50.0, 20.0]])
    homogeneous = np.c_[pixels, np.ones(5)] @ matrix.T
    with pytest.raises(GeometryError, match="both sides of the camera's horizon"):
        fit_homography(pixels, homogeneous[:, :2] / homogeneous[:, 2:3])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1.0] * 8, "exactly 9"),
        ([1, 0, 0, 0, 1, 0, 0, 0, np.nan], "NaN or infinite"),
        ([0.0] * 9, "singular"),
    ],
)
def test_wire_values_are_validated(values: list[float], message: str) -> None:
    with pytest.raises(GeometryError, match=message):
        homography_from_values(values)


@pytest.mark.parametrize("offset_cm", [2e4, 5e4, 1e6, 1e7])
def test_a_camera_far_from_the_plans_origin_can_be_calibrated(offset_cm: float) -> None:
    # A 6 m x 8 m area 200 m (up to the 100 km the API allows) from the floor plan's origin: the translation
    # dominates the matrix's norm, and a degeneracy bound relative to that norm refused a well-posed fit.
    image = np.array([[200, 1000], [1700, 1000], [1400, 450], [500, 450]], dtype=np.float64)
    area = np.array([[0, 0], [600, 0], [600, 800], [0, 800]], dtype=np.float64)
    elsewhere = np.array([[960, 700], [100, 1070], [1800, 300]], dtype=np.float64)
    near = fit_homography(image, area)
    far = fit_homography(image, area + offset_cm)
    tolerance = offset_cm * 1e-9 + 1e-6
    assert np.allclose(project_points(far, image), area + offset_cm, rtol=0, atol=tolerance)
    assert np.allclose(
        project_points(far, elsewhere) - offset_cm, project_points(near, elsewhere), atol=tolerance
    )
    homography, rms = homography_from_points(image.tolist(), ((area + offset_cm) / 100.0).tolist())  # metres
    assert rms < tolerance
    assert np.allclose(project_points(homography, image), area + offset_cm, rtol=0, atol=tolerance)


# ---- the vertical and the foot point --------------------------------------------------------------------------


def _tilted_camera(tilt_deg: float, yaw_deg: float = 90.0) -> PinholeCamera:
    return PinholeCamera((4.0, 0.0, 3.0), tilt_deg=tilt_deg, yaw_deg=yaw_deg, width_px=1280, height_px=720)


def _exact_homography(camera: PinholeCamera) -> np.ndarray:
    """px → cm of the camera's floor, from four exact floor points (no click error)."""
    floor_m = np.array([[2.0, 3.0], [6.0, 3.0], [6.5, 8.0], [1.5, 8.0]])
    pixels = camera.floor_to_pixels(floor_m)
    return fit_homography(pixels, floor_m * 100.0)


@pytest.mark.parametrize(("tilt_deg", "yaw_deg"), [(20.0, 90.0), (35.0, 90.0), (35.0, 60.0), (60.0, 135.0)])
def test_the_vertical_vanishing_point_is_where_the_camera_sees_straight_down(
    tilt_deg: float, yaw_deg: float
) -> None:
    camera = _tilted_camera(tilt_deg, yaw_deg)
    found = homography.vertical_vanishing_point(_exact_homography(camera), 1280, 720)
    assert found is not None
    # The image of a point far below the camera (a vertical line through it, seen from the camera).
    below, _ = camera.project(np.array([[4.0, 0.0, -1e6]]))
    assert np.allclose(found[:2] / found[2], below[0], rtol=1e-3, atol=0.5)


def test_no_vertical_from_a_homography_no_centred_pinhole_has() -> None:
    camera = _tilted_camera(35.0)
    h = _exact_homography(camera)
    # The same view cropped off-centre (the demo's crops of one frame): the principal point is not the centre.
    shift = np.array([[1.0, 0.0, 300.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert homography.vertical_vanishing_point(h @ shift, 760, 720) is None
    assert homography.vertical_vanishing_point(np.eye(3), 1280, 720) is None  # looking straight down: unknown


def test_the_foot_point_of_a_leaning_person_is_on_their_axis_not_at_the_box_centre() -> None:
    camera = _tilted_camera(35.0)
    h = _exact_homography(camera)
    vertical = homography.vertical_vanishing_point(h, 1280, 720)
    standing = np.array([[1.5, 4.0], [7.0, 3.5], [4.0, 6.0]])  # left, right and on the camera's axis
    head, _ = camera.project(np.c_[standing, np.full(3, 1.7)])
    feet = camera.floor_to_pixels(standing)
    boxes = np.c_[np.minimum(head, feet), np.maximum(head, feet)]  # a thin person: the box of head and feet
    old = homography.project_points(h, homography.foot_points_px(boxes)) / 100.0
    new = homography.project_points(h, homography.foot_points_px(boxes, vertical)) / 100.0
    assert np.allclose(new, standing, atol=0.01)
    assert np.linalg.norm(old[:2] - standing[:2], axis=1).min() > 0.2  # the bottom centre is beside the feet
    assert np.allclose(old[2], standing[2], atol=0.01)  # on the axis they agree
    assert homography.foot_points_px(boxes).tolist() == homography.foot_points_px(boxes, None).tolist()


@pytest.mark.parametrize(("tilt_deg", "yaw_deg"), [(20.0, 90.0), (35.0, 60.0), (60.0, 135.0)])
def test_the_nadir_is_the_floor_point_below_the_camera(tilt_deg: float, yaw_deg: float) -> None:
    camera = _tilted_camera(tilt_deg, yaw_deg)
    h = _exact_homography(camera)
    nadir = homography.camera_nadir(h, homography.vertical_vanishing_point(h, 1280, 720))
    assert nadir is not None
    assert np.allclose(nadir / 100.0, camera.position_m[:2], atol=0.01)
    assert homography.camera_nadir(h, None) is None


def test_a_box_bottom_is_moved_from_the_near_edge_of_the_feet_to_where_the_person_stands() -> None:
    """The simulator's people (feet 0.12 m round): their box's bottom is the nearest foot; the point on the
    person's axis moved FOOT_DEPTH_CM away from the camera is where they stand, near the camera or far (within
    0.05 m off the camera's axis, where the nearest foot is not straight towards the camera)."""
    camera = _tilted_camera(35.0)
    h = _exact_homography(camera)
    vertical = homography.vertical_vanishing_point(h, 1280, 720)
    standing = np.array([[1.5, 4.0], [7.0, 3.5], [4.0, 6.0], [4.0, 12.0]])
    box = camera.person_boxes_px(standing)
    boxes = np.c_[box[:, :2], box[:, :2] + box[:, 2:]]
    near_edge = homography.project_points(h, homography.foot_points_px(boxes, vertical))
    assert np.allclose(np.linalg.norm(near_edge / 100.0 - standing, axis=1), 0.12, atol=0.015)
    moved = homography.beyond_near_edge(near_edge, homography.camera_nadir(h, vertical))
    assert np.linalg.norm(moved / 100.0 - standing, axis=1).max() < 0.05
    assert np.allclose(moved[2:] / 100.0, standing[2:], atol=0.005)  # on the axis: exactly
    # No nadir known (a crop, a lens left distorted): unchanged; a point right below the camera too; NaN stays.
    assert homography.beyond_near_edge(near_edge, None) is near_edge
    odd = np.array([[400.0, 5.0], [np.nan, np.nan]])
    kept = homography.beyond_near_edge(odd, np.array([400.0, 0.0]))
    assert kept[0].tolist() == [400.0, 5.0]
    assert np.isnan(kept[1]).all()
