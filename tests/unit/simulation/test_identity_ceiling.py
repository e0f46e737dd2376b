"""The tilted ceiling identity families (simulation/scenarios_identity.py): they build, their cameras have the
geometry they claim, and far people are small and noisy as the pinhole model makes them."""

from __future__ import annotations

import numpy as np
import pytest

from simulation.scenarios_identity import CEILING_FAMILIES, FAMILIES, identity_scenario
from simulation.simulator import EPOCH_US, STATE_CONFIRMED, SimulationResult

CLAIMED = {
    "ceiling": (3.0, 35.0, 0.0, 0.0, True),
    "ceil-low": (2.5, 20.0, 0.0, 0.0, True),
    "distorted": (3.0, 35.0, -0.25, 0.05, False),
}


def _errors_by_distance(result: SimulationResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per confirmed true row: floor distance to its camera, reported position error, box height (px)."""
    people = {person.person_id: person for person in result.people}
    cameras = {camera.camera_id: np.array(camera.position_m[:2]) for camera in result.layout.cameras}
    distance, error, height = [], [], []
    for frame in result.frames:
        t_s = (frame.true_time_us - EPOCH_US) / 1e6
        for i, pid in enumerate(frame.truth_person_ids.tolist()):
            if pid <= 0 or frame.states[i] != STATE_CONFIRMED:
                continue
            truth = people[pid].positions(np.array([t_s]))[0]
            distance.append(float(np.hypot(*(truth - cameras[frame.camera_id]))))
            error.append(float(np.hypot(*(frame.floor_xy_cm[i] / 100.0 - truth))))
            height.append(int(frame.bbox_xywh_px[i, 3]))
    return np.array(distance), np.array(error), np.array(height)


def test_the_ceiling_families_are_listed() -> None:
    assert set(CEILING_FAMILIES) == set(CLAIMED)
    assert set(CLAIMED) <= set(FAMILIES)


@pytest.mark.parametrize("family", sorted(CLAIMED))
def test_a_ceiling_family_watches_through_tilted_pinholes(family: str) -> None:
    height_m, tilt_deg, k1, k2, corrected = CLAIMED[family]
    result = identity_scenario(family, 11, duration_s=30.0, appearance=False)
    assert len(result.layout.cameras) >= 4
    yaws = set()
    for camera in result.layout.cameras:
        pinhole = camera.pinhole
        assert pinhole is not None
        assert pinhole.position_m[2] == height_m
        assert pinhole.tilt_deg == tilt_deg
        assert (pinhole.k1, pinhole.k2, pinhole.distortion_corrected) == (k1, k2, corrected)
        yaws.add(pinhole.yaw_deg)
    assert yaws == {90.0, 270.0}  # rows facing each other across the store
    assert result.config.group_fraction == 0.7  # the groups' traffic
    for frame in result.frames[:200]:
        frame.to_observations(1).validate()
    seen = {int(pid) for frame in result.frames for pid in frame.truth_person_ids.tolist() if pid > 0}
    assert len(seen) >= 10


@pytest.mark.parametrize("family", ["ceiling", "ceil-low"])
def test_far_people_are_small_and_noisy(family: str) -> None:
    distance, error, height = _errors_by_distance(identity_scenario(family, 12, duration_s=60.0))
    near, far = distance < 6.0, distance > 15.0
    assert near.sum() > 300
    assert far.sum() > 300
    assert np.median(height[far]) < 0.5 * np.median(height[near])
    assert np.median(height[far]) < 110  # a far person is a small box
    # the foot point's pixel jitter covers more floor far away
    assert np.percentile(error[far], 90) > np.percentile(error[near], 90) + 0.05


def test_uncorrected_distortion_bends_far_positions_by_metres() -> None:
    distance, error, _ = _errors_by_distance(identity_scenario("distorted", 12, duration_s=60.0))
    _, straight_error, _ = _errors_by_distance(identity_scenario("ceiling", 12, duration_s=60.0))
    far = distance > 15.0
    assert np.median(error[far]) > 1.0
    assert np.median(error[far]) > 3 * np.median(straight_error)


def test_the_doorway_traffic_is_there() -> None:
    """A third of the single visitors arrive at the door as a leaver goes (the doorway family's edit)."""
    result = identity_scenario("ceiling", 13, duration_s=120.0, appearance=False)
    leaves = sorted(person.leave_s for person in result.people)
    arrivals_at_a_leave = sum(
        1 for person in result.people if any(-0.3 <= person.arrive_s - leave <= 0.7 for leave in leaves)
    )
    assert arrivals_at_a_leave >= 2
    assert sum(person.group_id is not None for person in result.people) >= 10
