"""A far ceiling camera places the members of a standing group 0.5-0.9 m off, more than they stand apart: its
tracks must not start duplicates of people the other cameras see (the person-count error of the tilted-ceiling
scenario families, benchmarks/identity_families.py)."""

from __future__ import annotations

from server.fusion import FusedFrame, SiteFusion
from tests.unit.fusion.helpers import obs
from tests.unit.fusion.test_appearance_fusion import BLUE, IMMEDIATE, RED, gid_near, seen


def test_a_far_cameras_offset_person_keeps_its_association_when_the_colours_confirm_it() -> None:
    """A (red) and B (blue) stand 0.9 m apart, seen right by cameras 1 and 2. Camera 3, far away, places A 0.8 m
    off, towards B, for 10 s: by positions a disagreement with two cameras, by colours clearly A (B disagrees).
    The association stays: A is never dropped by camera 3, never joined to B, never duplicated."""
    fusion = SiteFusion(IMMEDIATE)
    frames: list[FusedFrame] = []
    for k in range(120):
        t = k * 100.0
        first = {1: RED, 2: BLUE} if k == 0 else {}
        frames.extend(fusion.update_frames(seen(1, t, [(1, 5.0, 10.0), (2, 5.0, 10.9)], first)))
        second = {11: RED, 12: BLUE} if k == 0 else {}
        frames.extend(fusion.update_frames(seen(2, t + 30.0, [(11, 5.02, 10.0), (12, 5.0, 10.88)], second)))
        if k == 4:
            a_id, b_id = gid_near(frames[-1], 5.0, 10.0), gid_near(frames[-1], 5.0, 10.9)
        if k >= 5:
            # The edge resends a descriptor when it changes: every second or so for a far, noisy track.
            far = {31: RED} if k % 10 == 5 else {}
            frames.extend(fusion.update_frames(seen(3, t + 60.0, [(31, 5.55, 10.55)], far)))
    assert a_id != b_id
    late = frames[len(frames) // 4 :]
    assert all(frame.size == 2 for frame in late), [
        frame.global_ids.tolist() for frame in late if frame.size != 2
    ]
    assert all(set(frame.global_ids.tolist()) == {a_id, b_id} for frame in late)
    assert fusion.colour_kept_total > 0


def test_a_duplicate_missed_every_few_frames_is_still_merged() -> None:
    """Camera 2 sees A (red) 1.4 m from where camera 1 does (its calibration is off; beyond the gate), standing,
    and misses A for 0.6 s every second (a far camera's misses): the two are one person seen twice and are
    merged, although they are never both observed for the merge's 2 s in a row."""
    fusion = SiteFusion(IMMEDIATE)
    frames: list[FusedFrame] = []
    for k in range(150):
        t = k * 100.0
        frames.extend(fusion.update_frames(seen(1, t, [(1, 5.0, 10.0)], {1: RED} if k == 0 else {})))
        if k % 10 < 4:
            frames.extend(
                fusion.update_frames(seen(2, t + 50.0, [(21, 5.0, 11.4)], {21: RED} if k == 0 else {}))
            )
        else:
            frames.extend(fusion.update_frames(obs(2, t + 50.0, [])))
    assert fusion.merged_total == 1
    assert all(frame.size == 1 for frame in frames[-40:])
