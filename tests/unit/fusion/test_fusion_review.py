"""Adversarial checks of the far-camera rules of SiteFusion: colours that keep an association the camera-consistency
check would drop, merge clocks that survive short misses, and solo duplicates merged by colours."""

from __future__ import annotations

import pytest

from server.fusion import FusedFrame, SiteFusion
from tests.unit.fusion.helpers import obs
from tests.unit.fusion.test_appearance_fusion import BLUE, IMMEDIATE, RED, gid_near, seen


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


def test_a_clock_skew_is_learnt_while_a_third_cameras_association_is_kept_by_colours() -> None:
    """Two walkers seen by cameras 1 and 2 (stamped 0.27 s late: it sees them 0.22 m behind); camera 3, in step
    with the others, places A 0.7 m to the side, kept by A's colours (and so teaching no skew). The skew of
    camera 2 against camera 1 is learnt from their own checks: the skew sampling (every third check) was counted
    over all cameras, so with three cameras in step only camera 3's checks were ever sampled."""
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
    assert fusion.colour_kept_total > 0
    skews = fusion.camera_skews_s
    assert skews[2] - skews[1] == pytest.approx(0.27, abs=0.05)


@pytest.mark.parametrize("second_camera", [True, False])
def test_an_association_kept_by_colours_teaches_no_skew_through_the_other_cameras_checks(
    second_camera: bool,
) -> None:
    """Two walkers seen right by camera 1 (and camera 2, or not); camera 3 places A 0.7 m behind along the walk
    for 30 s (its projection, not its clock), kept by A's colours. Kept, it teaches no skew: not in camera 3's
    own checks, nor in the others', which compare their offsets of A with camera 3's (camera 1's taught camera 3
    a skew of 0.44 s, which then moved every walker it sees by 0.35 m)."""
    fusion = SiteFusion(IMMEDIATE)

    def x(t_ms: float) -> float:
        return 2.0 + 0.8 * t_ms / 1000.0

    for k in range(300):
        t = k * 100.0
        first = {1: RED, 2: BLUE} if k == 0 else {}
        fusion.update_frames(seen(1, t, [(1, x(t), 10.0), (2, x(t), 11.2)], first))
        if second_camera:
            second = {11: RED, 12: BLUE} if k == 0 else {}
            rows = [(11, x(t + 30.0), 10.0), (12, x(t + 30.0), 11.2)]
            fusion.update_frames(seen(2, t + 30.0, rows, second))
        far = {31: RED} if k % 10 == 0 else {}
        fusion.update_frames(seen(3, t + 60.0, [(31, x(t + 60.0) - 0.7, 10.0)], far))
    assert fusion.colour_kept_total > 0
    assert all(abs(skew) < 0.05 for skew in fusion.camera_skews_s.values()), fusion.camera_skews_s
