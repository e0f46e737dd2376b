"""Simulator realism: ceiling pinhole cameras, empty periods, zone edits and restarts, and their scoring."""

from __future__ import annotations

import numpy as np
import pytest

from server.analytics.floor_geometry import project_points
from simulation import SimulationConfig, compute_truth, default_analytics_config, evaluate, simulate
from simulation.cameras import PinholeCamera
from simulation.layout import ceiling_store
from simulation.simulator import EPOCH_US, Restart, ZoneEdit

CEILING = PinholeCamera((5.0, 0.0, 3.0), tilt_deg=35.0, yaw_deg=90.0)


def test_pinhole_projects_and_back_projects_floor_points() -> None:
    floor = np.array([[5.0, 3.0], [2.0, 8.0], [9.0, 15.0]])
    pixels = CEILING.floor_to_pixels(floor)
    assert CEILING.sees_floor(pixels).all()
    np.testing.assert_allclose(CEILING.pixels_to_floor_exact(pixels), floor, atol=1e-9)
    # Straight ahead, the image centre sees the floor at height / tan(tilt).
    centre = CEILING.pixels_to_floor_exact(np.array([[640.0, 360.0]]))[0]
    np.testing.assert_allclose(centre, [5.0, 3.0 / np.tan(np.radians(35.0))], atol=1e-9)


def test_installer_homography_is_oriented_and_exact_without_click_error() -> None:
    homography = CEILING.installer_homography(np.random.default_rng(1), click_noise_px=0.0)
    floor = np.array([[5.0, 3.0], [2.0, 8.0], [9.0, 15.0]])
    np.testing.assert_allclose(
        project_points(homography, CEILING.floor_to_pixels(floor)) / 100.0, floor, atol=1e-6
    )
    # The horizon lies 88 px above this 16:9 image (tilt 35° > half the vertical field of view, 29.4°).
    assert np.isnan(project_points(homography, np.array([[640.0, -200.0]]))).all()


def test_far_people_are_small_noisy_and_eventually_undetectable() -> None:
    rng = np.random.default_rng(2)
    homography = CEILING.installer_homography(rng, click_noise_px=0.0)
    near, far = np.array([[5.0, 4.0]]), np.array([[5.0, 20.0]])
    assert CEILING.person_boxes_px(far)[0, 3] < CEILING.person_boxes_px(near)[0, 3] / 3
    spread = [
        np.std([CEILING.observe_floor_m(xy, homography, rng)[0, 1] for _ in range(300)]) for xy in (near, far)
    ]
    assert spread[1] > 3 * spread[0]
    assert CEILING.detectable(np.array([[5.0, 4.0], [5.0, 60.0], [5.0, 0.5], [-20.0, 4.0]])).tolist() == [
        True,
        False,  # box under 40 px
        False,  # under the camera: the feet are below the image
        False,  # outside the field of view
    ]


def test_uncorrected_distortion_biases_the_image_border_only() -> None:
    lens = dict(position_m=(5.0, 0.0, 3.0), tilt_deg=35.0, yaw_deg=90.0, k1=-0.25, k2=0.05)
    corrected = PinholeCamera(**lens)  # type: ignore[arg-type]
    raw = PinholeCamera(**lens, distortion_corrected=False)  # type: ignore[arg-type]
    rng = np.random.default_rng(3)
    centre, border = np.array([[5.0, 6.0]]), np.array([[-4.0, 9.0]])

    def error(camera: PinholeCamera, xy: np.ndarray) -> float:
        homography = camera.installer_homography(np.random.default_rng(4), click_noise_px=0.0)
        return float(np.hypot(*(camera.observe_floor_m(xy, homography, rng, jitter_fraction=0.0)[0] - xy[0])))

    # Near the image centre the lens moves the foot point a little (0.23 m here: the installer's homography, fitted
    # to markers clicked in the distorted image, absorbs some of it); at the border by metres.
    assert error(raw, centre) < error(corrected, centre) + 0.3
    assert error(raw, border) > error(corrected, border) + 1.0


@pytest.mark.parametrize(("height_m", "tilt_deg"), [(2.5, 20.0), (3.0, 35.0), (4.0, 60.0)])
def test_ceiling_store_cameras_cover_the_floor(height_m: float, tilt_deg: float) -> None:
    layout = ceiling_store(height_m=height_m, tilt_deg=tilt_deg)
    x, y = np.meshgrid(np.arange(0.5, 30.0, 1.0), np.arange(0.5, 20.0, 1.0))
    points = np.c_[x.ravel(), y.ravel()]
    seen = np.zeros(len(points), dtype=bool)
    for camera in layout.cameras:
        seen |= camera.sees(points)
    assert seen.mean() > 0.95


def test_ceiling_simulation_reports_through_the_fitted_homography() -> None:
    result = simulate(SimulationConfig(seed=101, people=8, duration_s=20.0), ceiling_store())
    people = {p.person_id: p for p in result.people}
    errors = []
    for frame in result.frames:
        frame.to_observations(1).validate()
        for i, pid in enumerate(frame.truth_person_ids.tolist()):
            if pid > 0:
                truth = people[pid].positions(np.array([(frame.true_time_us - EPOCH_US) / 1e6]))[0]
                errors.append(float(np.hypot(*(frame.floor_xy_cm[i] / 100.0 - truth))))
    assert len(errors) > 500
    assert 0.05 < float(np.median(errors)) < 0.6  # ceiling cameras: tens of cm, not the overhead 5-10 cm


def test_the_store_is_empty_during_an_empty_period() -> None:
    config = SimulationConfig(seed=102, people=20, duration_s=120.0, empty_periods_s=((50.0, 70.0),))
    result = simulate(config)
    assert len(result.people) == 20
    for person in result.people:
        assert person.leave_s <= 49.0 or person.arrive_s >= 70.0
    quiet = [f for f in result.frames if 50.5e6 <= f.true_time_us - EPOCH_US <= 69.5e6]
    assert quiet
    assert all((f.truth_person_ids < 0).all() for f in quiet)  # only false positives
    report = evaluate(result, compute_idf1=False)
    assert report.heat_after_empty_live_error < 0.05  # read live 2 s after the store emptied


def test_zone_edits_change_the_truth_from_the_edit_on() -> None:
    books_moved = ((19.0, 9.0), (25.0, 9.0), (25.0, 13.0), (19.0, 13.0))
    edits = (ZoneEdit(30.0, 7, books_moved), ZoneEdit(40.0, 6, None))
    plain = SimulationConfig(seed=103, people=20, duration_s=90.0)
    edited = SimulationConfig(seed=103, people=20, duration_s=90.0, zone_edits=edits)
    result = simulate(plain)
    analytics = default_analytics_config(result)
    before = compute_truth(result, analytics)
    after = compute_truth(simulate(edited), analytics)
    deleted_at = EPOCH_US + 40_000_000
    assert all(v.end_us < deleted_at for v in after.visits if v.zone_id == 6)
    assert any(v.end_us >= deleted_at for v in before.visits if v.zone_id == 6)
    assert {v for v in after.visits if v.zone_id not in (6, 7)} == {
        v for v in before.visits if v.zone_id not in (6, 7)
    }
    report = evaluate(simulate(edited), compute_idf1=False)
    assert report.zone_edits == 2


def test_edge_restart_stops_frames_and_restarts_local_ids() -> None:
    restart = Restart(20.0, 4.0, graceful=False, camera_id=1)
    result = simulate(SimulationConfig(seed=104, people=10, duration_s=40.0, edge_restarts=(restart,)))
    camera = [f for f in result.frames if f.camera_id == 1]
    down = [f for f in camera if 19.7e6 <= f.true_time_us - EPOCH_US < 24.0e6]
    assert not down
    after = sorted((f for f in camera if f.true_time_us - EPOCH_US >= 24.0e6), key=lambda f: f.true_time_us)
    first_ids = [int(i) for f in after[:20] for i in f.local_ids.tolist()]
    assert first_ids
    assert min(first_ids) == 1


def test_server_restart_is_applied_and_records_are_scored() -> None:
    config = SimulationConfig(seed=105, people=12, duration_s=60.0)
    clean = evaluate(simulate(config), compute_idf1=False)
    assert clean.true_visits > 20
    assert clean.visit_error < 0.1
    assert clean.dwell_error < 0.1
    assert 0.85 < clean.entrance_dwell_ratio < 1.15
    restarted = SimulationConfig(
        seed=105, people=12, duration_s=60.0, server_restarts=(Restart(30.0, 2.0, True),)
    )
    report = evaluate(simulate(restarted), compute_idf1=False)
    assert report.server_restarts == 1
    assert report.global_ids > clean.global_ids  # new global ids after the restart
