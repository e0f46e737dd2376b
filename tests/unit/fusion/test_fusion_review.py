"""Adversarial checks of the far-camera rules of SiteFusion: colours that keep an association the camera-consistency
check would drop, merge clocks that survive short misses, and solo duplicates merged by colours."""

from __future__ import annotations

from server.fusion import FusedFrame, SiteFusion
from tests.unit.fusion.helpers import obs
from tests.unit.fusion.test_appearance_fusion import IMMEDIATE, gid_near


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
