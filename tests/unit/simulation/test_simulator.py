"""The store simulator: determinism, well-formed edge messages, camera geometry and truth consistency."""

from __future__ import annotations

import numpy as np
import pytest

from simulation import (
    SimulationConfig,
    compute_truth,
    default_analytics_config,
    default_store,
    simulate,
)
from simulation.layout import STOCK_ROOM_ZONE_ID
from simulation.simulator import EPOCH_US, STATE_CONFIRMED, STATE_LOST, STATE_TENTATIVE

SHORT = SimulationConfig(seed=3, people=12, duration_s=40.0)


@pytest.fixture(scope="module")
def result():
    return simulate(SHORT)


def test_same_seed_same_run_other_seed_other_run(result) -> None:
    again = simulate(SHORT)
    other = simulate(SimulationConfig(seed=4, people=12, duration_s=40.0))
    assert len(again.frames) == len(result.frames)
    assert all(
        np.array_equal(a.floor_xy_cm, b.floor_xy_cm) for a, b in zip(again.frames, result.frames, strict=True)
    )
    assert any(
        not np.array_equal(a.floor_xy_cm, b.floor_xy_cm)
        for a, b in zip(other.frames, result.frames, strict=False)
    )


def test_frames_are_well_formed_track_frames(result) -> None:
    per_camera: dict[int, list[int]] = {}
    for frame in result.frames:
        n = frame.local_ids.shape[0]
        assert frame.bbox_xywh_px.shape == (n, 4)
        assert (frame.bbox_xywh_px[:, 2:] >= 1).all()
        assert np.all(np.diff(frame.local_ids) > 0)
        assert set(frame.states.tolist()) <= {STATE_TENTATIVE, STATE_CONFIRMED, STATE_LOST}
        assert ((frame.score_permille >= 0) & (frame.score_permille <= 1000)).all()
        skew_us = round(result.camera_skew_s[frame.camera_id] * 1e6)
        assert abs(frame.capture_time_us - frame.true_time_us - skew_us) <= 1
        assert frame.arrival_time_us > frame.true_time_us
        frame.to_observations(1).validate()
        per_camera.setdefault(frame.camera_id, []).append(frame.sequence)
    assert sorted(per_camera) == [1, 2]
    for sequences in per_camera.values():
        assert sorted(sequences) == list(range(1, len(sequences) + 1))
    arrivals = [frame.arrival_time_us for frame in result.frames]
    assert arrivals == sorted(arrivals)


def test_noise_misses_false_positives_and_id_switches_are_present() -> None:
    noisy = simulate(SimulationConfig(seed=5, people=15, duration_s=60.0, id_switch_rate=0.01))
    rows = [(f, i) for f in noisy.frames for i in range(f.local_ids.shape[0])]
    false_positive = sum(1 for f, i in rows if f.truth_person_ids[i] < 0)
    lost = sum(1 for f, i in rows if f.states[i] == STATE_LOST)
    assert false_positive > 0
    assert lost > 0
    local_ids_per_person: dict[tuple[int, int], set[int]] = {}
    for f, i in rows:
        if f.truth_person_ids[i] > 0:
            local_ids_per_person.setdefault((f.camera_id, int(f.truth_person_ids[i])), set()).add(
                int(f.local_ids[i])
            )
    assert max(len(ids) for ids in local_ids_per_person.values()) >= 2
    errors = []
    positions = {p.person_id: p for p in noisy.people}
    for f, i in rows:
        pid = int(f.truth_person_ids[i])
        if pid > 0 and f.states[i] == STATE_CONFIRMED:
            truth = positions[pid].positions(np.array([(f.true_time_us - EPOCH_US) / 1e6]))[0]
            errors.append(float(np.hypot(*(f.floor_xy_cm[i] / 100.0 - truth))))
    assert 0.03 < float(np.median(errors)) < 0.3


@pytest.mark.parametrize("cameras", [1, 2, 4])
def test_cameras_cover_the_floor_and_their_homographies_invert(cameras: int) -> None:
    layout = default_store(cameras)
    grid = np.stack(np.meshgrid(np.linspace(0.2, 29.8, 12), np.linspace(0.2, 19.8, 9)), axis=-1).reshape(
        -1, 2
    )
    covered = np.zeros(grid.shape[0], dtype=bool)
    for camera in layout.cameras:
        covered |= camera.sees(grid)
        to_image = camera.homography_floor_to_image()
        to_floor = camera.homography_image_to_floor()
        homogeneous = np.hstack([grid, np.ones((grid.shape[0], 1))]) @ to_image.T
        back = (homogeneous / homogeneous[:, 2:]) @ to_floor.T
        assert back[:, :2] / back[:, 2:] == pytest.approx(grid, abs=1e-6)
        boxes = camera.person_boxes_px(grid[camera.sees(grid)])
        foot = homogeneous[camera.sees(grid)]
        foot = foot[:, :2] / foot[:, 2:]
        assert (boxes[:, 3] > 20).all()  # a person is tens of pixels tall
        assert (np.abs(boxes[:, 0] + boxes[:, 2] / 2 - foot[:, 0]) < boxes[:, 2]).all()
    assert covered.all()


def test_truth_is_consistent_with_the_people(result) -> None:
    config = default_analytics_config(result)
    truth = compute_truth(result, config)
    expected_person_s = sum(min(p.leave_s, SHORT.duration_s) - p.arrive_s for p in result.people)
    assert truth.total_person_s == pytest.approx(expected_person_s, abs=0.05 * len(result.people))
    assert float(truth.cell_person_s.sum()) == pytest.approx(truth.total_person_s)
    people = {p.person_id: p for p in result.people}
    for entry in truth.unauthorised_entries:
        assert entry.zone_id == STOCK_ROOM_ZONE_ID
        assert not people[entry.person_id].authorised_for_stock_room
    for entry in truth.authorised_entries:
        assert people[entry.person_id].authorised_for_stock_room
    groups = {p.group_id for p in result.people if p.group_id is not None}
    assert groups
    assert truth.violations  # groups walk closer than 2 m for minutes
    ids, xy = truth.at(EPOCH_US + 20_000_000)
    assert ids.shape[0] == xy.shape[0] == truth.count_at(EPOCH_US + 20_000_000)
