"""Adversarial checks of the far-camera rules of SiteFusion: colours that keep an association the camera-consistency
check would drop, merge clocks that survive short misses, and solo duplicates merged by colours."""

from __future__ import annotations

import numpy as np
import pytest

from server.fusion import FusedFrame, SiteFusion
from tests.unit.fusion.helpers import obs
from tests.unit.fusion.test_appearance_fusion import BLUE, IMMEDIATE, RED, RED_TOP, UNIFORM, gid_near, seen


def test_two_people_one_camera_sees_side_by_side_every_second_are_never_merged() -> None:
    """A (seen by camera 1) and B (seen by camera 2) stand 0.45 m apart, closer than the merge distance; camera 1
    also sees B, but misses them every few frames (its track of B is reported LOST 0.7 s of every second). Each
    time camera 1 sees the two side by side they are two people: the merge clock restarts, they are never
    merged (a merge would end B's id and hand B's track to A)."""
    fusion = SiteFusion(IMMEDIATE)
    frames: list[FusedFrame] = []
    for k in range(120):
        t = k * 100.0
        b_seen = k < 10 or k % 10 < 3
        frames.extend(
            fusion.update_frames(obs(1, t, [(1, 5.0, 10.0), (2, 5.0, 10.45)], confirmed=[True, b_seen]))
        )
        frames.extend(fusion.update_frames(obs(2, t + 50.0, [(21, 5.0, 10.45)])))
        if k == 9:
            a_id, b_id = gid_near(frames[-1], 5.0, 10.0), gid_near(frames[-1], 5.0, 10.45)
    assert a_id != b_id
    assert fusion.merged_total == 0
    assert all(set(frame.global_ids.tolist()) == {a_id, b_id} for frame in frames[20:])


@pytest.mark.parametrize("d_from", [0, 20])
def test_a_look_alike_seen_by_one_camera_beside_a_person_is_not_merged_into_them(d_from: int) -> None:
    """A (red) stands at y = 10, seen by cameras 1 and 2 and by camera 3, whose track of A shows a red top only (a
    shelf hides A's trousers from it). D, in red too, stands 1 m beside A, just outside cameras 1 and 2's views:
    camera 3 alone sees D, fully, from frame ``d_from``. D's colours match A's better than camera 3's own track
    of A does (a merge of solo duplicates by colours, 796a512, merged D into A: D's id ended, A's id walked on
    with D's track, and A's own track started a new id). D stays a person of their own."""
    fusion = SiteFusion(IMMEDIATE)
    frames: list[FusedFrame] = []
    for k in range(80):
        t = k * 100.0
        frames.extend(fusion.update_frames(seen(1, t, [(1, 5.0, 10.0)], {1: RED} if k == 0 else {})))
        frames.extend(
            fusion.update_frames(seen(2, t + 30.0, [(11, 5.02, 10.0)], {11: RED} if k == 0 else {}))
        )
        rows = [(31, 5.0, 10.05)] + ([(33, 5.0, 11.0)] if k >= d_from else [])
        sent = ({31: RED_TOP} if k == 0 else {}) | ({33: RED} if k == d_from else {})
        frames.extend(fusion.update_frames(seen(3, t + 60.0, rows, sent)))
        if k == d_from + 8:
            a_id, d_id = gid_near(frames[-1], 5.0, 10.0), gid_near(frames[-1], 5.0, 11.0)
    assert a_id != d_id
    assert fusion.merged_total == 0
    for frame in frames[-60:]:
        assert gid_near(frame, 5.0, 10.0) == a_id
        assert gid_near(frame, 5.0, 11.0) == d_id


def test_a_clock_skew_is_learnt_while_a_third_camera_places_a_walker_off() -> None:
    """Two walkers seen by cameras 1 and 2 (stamped 0.27 s late: it sees them 0.22 m behind); camera 3, in step
    with the others, places A 0.7 m to the side. The skew of camera 2 against camera 1 is learnt from their own
    checks: the skew sampling (every third check) was counted over all cameras, so with three cameras in step
    only camera 3's checks were ever sampled."""
    fusion = SiteFusion(IMMEDIATE)

    def x(t_ms: float) -> float:
        return 2.0 + 0.8 * t_ms / 1000.0

    for k in range(300):
        t = k * 100.0
        first = {1: RED, 2: BLUE} if k == 0 else {}
        fusion.update_frames(seen(1, t, [(1, x(t), 10.0), (2, x(t), 11.2)], first))
        second = {11: RED, 12: BLUE} if k == 0 else {}
        fusion.update_frames(seen(2, t + 30.0, [(11, x(t - 240.0), 10.0), (12, x(t - 240.0), 11.2)], second))
        far = {31: RED} if k % 10 == 0 else {}
        fusion.update_frames(seen(3, t + 60.0, [(31, x(t + 60.0), 10.7)], far))
    skews = fusion.camera_skews_s
    assert skews[2] - skews[1] == pytest.approx(0.27, abs=0.05)


@pytest.mark.parametrize(("cameras", "seed"), [(1, 0), (2, 1), (3, 2), (3, 3)])
def test_a_crowd_of_look_alikes_with_random_misses_swaps_and_descriptors_breaks_no_invariant(
    cameras: int, seed: int
) -> None:
    """Random frames (empty ones, lost and off-floor rows, removed and reused local ids, descriptors of four
    colourings resent at random) of up to eight people within 3 m, seen by one to three cameras placing them up
    to 0.8 m off: the colour keeps, solo merges and carried merge clocks raise nothing, a frame never reports a
    global id twice nor one it ends, and the merge clocks hold pairs found within the last second only."""
    rng = np.random.default_rng(seed)
    palette = [RED, BLUE, UNIFORM, RED_TOP]
    fusion = SiteFusion(IMMEDIATE)
    people = rng.uniform(0.0, 3.0, size=(8, 2))
    for k in range(400):
        people = np.clip(people + rng.normal(0.0, 0.05, size=people.shape), 0.0, 3.0)
        for camera in range(1, cameras + 1):
            present = (
                np.flatnonzero(rng.random(8) < 0.7) if rng.random() > 0.05 else np.zeros(0, dtype=np.int64)
            )
            rows = [
                (camera * 100 + int(p) + 10 * int(rng.random() < 0.02), *(people[p] + rng.normal(0, 0.3, 2)))
                for p in present
            ]
            rows = list({row[0]: row for row in rows}.values())
            sent = {row[0]: palette[int(rng.integers(4))] for row in rows if rng.random() < 0.2}
            frame = seen(
                camera,
                k * 100.0 + camera * 20.0,
                [(local, float(x), float(y)) for local, x, y in rows],
                sent,
                confirmed=[bool(rng.random() < 0.85) for _ in rows],
                removed=[int(local) for local in rng.choice(np.arange(camera * 100, camera * 100 + 20), 2)]
                if rng.random() < 0.05
                else [],
            )
            for fused in fusion.update_frames(frame):
                ids = fused.global_ids.tolist()
                assert len(ids) == len(set(ids))
                assert not {person.global_id for person in fused.ended} & set(ids)
        held = set(fusion._global_id[fusion._active].tolist())  # internal: the merge clocks' keys
        checked = fusion._last_merge_check_us
        for clocks in (fusion._merge_since_us, fusion._wide_since_us):
            # Bounded: every pair was found together within the last second (a miss the clocks survive).
            assert all(checked - last <= 1_000_000 for _, last in clocks.values()), clocks
            assert len(clocks) <= len(held) ** 2
