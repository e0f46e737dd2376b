"""The appearance cue in the fusion: colours decide between plausible candidates at a hand-over, re-acquire a
person after a gap, correct one camera's id swap, and never merge look-alikes by colour alone."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from server.fusion import CameraObservations, FusedFrame, FusionConfig, SiteFusion
from server.fusion.appearance import CLASSES, PARTS, pack
from tests.unit.fusion.helpers import SITE, obs

IMMEDIATE = FusionConfig(site_id=SITE, reorder_window_us=0, arrival_jitter_us=0)


def colours(upper: int, lower: int) -> np.ndarray:  # type: ignore[type-arg]
    """Shares of a person in a ``upper`` top and ``lower`` trousers (colour classes), a little of the rest."""
    shares = np.full((PARTS, CLASSES), 0.01)
    shares[0, upper] = 0.8
    shares[1, lower] = 0.8
    normalised: np.ndarray = shares / shares.sum(axis=1, keepdims=True)  # type: ignore[type-arg]
    return normalised


RED = colours(4, 11)
BLUE = colours(10, 0)
UNIFORM = colours(2, 14)
RED_TOP = colours(4, 0)  # RED's top, BLUE's trousers: neither agrees nor disagrees with RED (0.58)


def seen(
    camera: int,
    t_ms: float,
    rows: Sequence[tuple[int, float, float]],
    sent: Mapping[int, np.ndarray],  # type: ignore[type-arg]
    *,
    confirmed: bool | Sequence[bool] = True,
    removed: Sequence[int] = (),
) -> CameraObservations:
    """``obs`` with the descriptors ``sent`` (local id -> shares) of this frame."""
    frame = obs(camera, t_ms, rows, confirmed=confirmed, removed=removed)
    indices = [k for k, row in enumerate(rows) if row[0] in sent]
    if not indices:
        return frame
    shares = np.stack([sent[rows[k][0]] for k in indices])
    return dataclasses.replace(
        frame, appearance_rows=np.array(indices, dtype=np.int64), appearance=pack(shares)
    )


def gid_near(frame: FusedFrame, x: float, y: float) -> int:
    distance = np.hypot(frame.floor_xy_m[:, 0] - x, frame.floor_xy_m[:, 1] - y)
    assert distance.size
    assert distance.min() < 0.35, (frame.floor_xy_m, x, y)
    return int(frame.global_ids[int(np.argmin(distance))])


def test_a_hand_over_with_two_plausible_candidates_joins_the_one_whose_colours_match() -> None:
    """Camera 1 sees A (red) and B (blue) walking side by side 0.8 m apart; camera 2, calibrated 0.6 m off,
    picks up A where B is closer, then B; camera 1 loses them. A's global id stays with A and B's never passes
    to A (nor A's to B)."""
    fusion = SiteFusion(IMMEDIATE)
    a_id = b_id = 0
    frame = fusion.update(obs(1, 0.0, []))
    for k in range(60):
        x = 2.0 + 0.1 * k
        if k < 30:
            rows = [(1, x, 10.0), (2, x, 10.8)]
            frame = fusion.update(seen(1, k * 100.0, rows, {1: RED, 2: BLUE} if k == 0 else {}))
        elif k == 30:
            fusion.update(obs(1, k * 100.0, [], removed=[1, 2]))
        if k == 15:
            a_id, b_id = gid_near(frame, x, 10.0), gid_near(frame, x, 10.8)
        if k >= 20:
            rows = [(21, x, 10.6)] + ([(22, x, 11.4)] if k >= 25 else [])
            confirmed = [k >= 22] + ([k >= 27] if k >= 25 else [])
            sent = {21: RED} if k == 20 else {22: BLUE} if k == 25 else {}
            frame = fusion.update(seen(2, k * 100.0 + 50.0, rows, sent, confirmed=confirmed))
    x = 2.0 + 0.1 * 59
    assert gid_near(frame, x, 10.6) == a_id
    assert gid_near(frame, x, 11.4) != a_id
    assert gid_near(frame, x, 11.4) == b_id


def _gap(
    people: Sequence[tuple[np.ndarray, float, float]],  # type: ignore[type-arg]
    *,
    late_colours: bool = False,
    fusion: SiteFusion | None = None,
) -> tuple[list[int], FusedFrame]:
    """People (colours, y before, y after) walk along x with one camera; all are missed for 2 s (the edge holds
    them LOST for 1 s, then removes the tracks) and come back with new local ids at their "after" lanes.
    ``late_colours``: the frame carrying the new tracks' descriptors arrives after the next one (too late).
    Return their global ids before the gap and the last frame."""
    fusion = fusion or SiteFusion(IMMEDIATE)
    late: CameraObservations | None = None
    before: list[int] = []
    frame = fusion.update(obs(1, 0.0, []))
    for k in range(60):
        x = 2.0 + 0.1 * k
        if k < 20:
            rows = [(1 + i, x, y) for i, (_, y, _) in enumerate(people)]
            sent = {1 + i: shares for i, (shares, _, _) in enumerate(people)} if k == 0 else {}
            frame = fusion.update(seen(1, k * 100.0, rows, sent))
        elif k < 30:
            rows = [(1 + i, 3.9, y) for i, (_, y, _) in enumerate(people)]
            frame = fusion.update(seen(1, k * 100.0, rows, {}, confirmed=False))
        elif k < 40:
            removed = [1 + i for i in range(len(people))] if k == 30 else []
            frame = fusion.update(obs(1, k * 100.0, [], removed=removed))
        else:
            rows = [(11 + i, x, y) for i, (_, _, y) in enumerate(people)]
            sent = {11 + i: shares for i, (shares, _, _) in enumerate(people)} if k == 40 else {}
            current = seen(1, k * 100.0, rows, sent, confirmed=k >= 42)
            if late_colours and k == 40:
                late = current  # delivered after frame 41
                continue
            frame = fusion.update(current)
            if late is not None and k == 41:
                fusion.update(late)
        if k == 15:
            before = [gid_near(frame, x, y) for _, y, _ in people]
    return before, frame


def test_colours_re_acquire_people_after_a_2_s_gap_where_positions_are_ambiguous() -> None:
    """A (red) and B (blue), 0.8 m apart, vanish for 2 s and come back 0.2 m apart, crossed over: by position
    either could be either (refused, new uncertain persons); their colours tell them apart."""
    before, frame = _gap([(RED, 5.0, 5.5), (BLUE, 5.8, 5.3)])
    x = 2.0 + 0.1 * 59
    assert gid_near(frame, x, 5.5) == before[0]
    assert gid_near(frame, x, 5.3) == before[1]
    assert not frame.uncertain_ids


def test_look_alikes_are_not_told_apart_by_colour_alone() -> None:
    """Two people in the same uniform and one in red vanish for 2 s; the uniformed ones come back crossed
    over, the red one between their lane and the lane of one of them. The red one is re-acquired by colour;
    the look-alikes take neither id (colour does not decide between them): new persons, marked uncertain."""
    before, frame = _gap([(UNIFORM, 5.0, 5.5), (UNIFORM, 5.8, 5.3), (RED, 6.6, 6.2)])
    x = 2.0 + 0.1 * 59
    assert gid_near(frame, x, 6.2) == before[2]
    look_alikes = {gid_near(frame, x, 5.5), gid_near(frame, x, 5.3)}
    assert look_alikes.isdisjoint(before)
    assert look_alikes <= frame.uncertain_ids
    assert before[2] not in frame.uncertain_ids


def test_one_cameras_id_swap_is_corrected_by_colours_where_positions_are_too_close_to_tell() -> None:
    """A (red) and B (blue) walk 0.45 m apart (closer than the 0.5 m camera-disagreement check), seen by two
    cameras; at 3 s camera 1's tracker swaps their local ids and its edge sends the changed descriptors 0.3 s
    later. Camera 2 and the colours disagree with camera 1: both persons stay on their own lanes."""
    fusion = SiteFusion(IMMEDIATE)
    frames: list[FusedFrame] = []
    for k in range(100):
        for camera, offset in ((1, 0.0), (2, 50.0)):
            t = k * 100 + offset
            x = 2.0 + 1.0 * t / 1000
            first, second = (camera * 10 + 1, camera * 10 + 2)
            if camera == 1 and k >= 30:
                first, second = second, first  # camera 1 now reports A as 12 and B as 11
            rows = [(first, x, 5.0), (second, x, 5.45)]
            sent: dict[int, np.ndarray] = {}  # type: ignore[type-arg]
            if k == 0:
                sent = {first: RED, second: BLUE}
            elif camera == 1 and k == 33:
                sent = {first: RED, second: BLUE}  # the tracks' averages drifted to their new persons
            frames.extend(fusion.update_frames(seen(camera, t, rows, sent)))
    before = frames[40]
    lower = int(before.global_ids[np.argmin(before.floor_xy_m[:, 1])])
    late = [frame for frame in frames[-40:] if frame.size == 2]
    assert len(late) == 40
    for frame in late:
        order = np.argsort(frame.floor_xy_m[:, 1])
        assert int(frame.global_ids[order[0]]) == lower
        assert frame.floor_xy_m[order, 1] == pytest.approx([5.0, 5.45], abs=0.08)


def test_a_swap_whose_descriptors_drift_to_the_new_person_is_corrected_before_the_colours_mix() -> None:
    """A (red) and B (blue) walk 0.2 m apart (too close for positions to tell), seen by two cameras; at 3 s
    camera 1's tracker swaps their local ids, and its edge's descriptors of the two tracks drift to their new
    persons over ten updates (a tenth more each time). No descriptor ever disagrees outright with the
    person it is tied to, yet each matches the other person clearly better: the swap is undone, and A's and
    B's global ids stay on their own lanes."""
    fusion = SiteFusion(IMMEDIATE)
    frames: list[FusedFrame] = []
    for k in range(100):
        for camera, offset in ((1, 0.0), (2, 50.0)):
            t = k * 100 + offset
            x = 2.0 + 1.0 * t / 1000
            first, second = (camera * 10 + 1, camera * 10 + 2)
            if camera == 1 and k >= 30:
                first, second = second, first  # camera 1 now reports A as 12 and B as 11
            rows = [(first, x, 5.0), (second, x, 5.2)]
            sent: dict[int, np.ndarray] = {}  # type: ignore[type-arg]
            if k == 0:
                sent = {first: RED, second: BLUE}
            elif camera == 1 and 31 <= k <= 40:
                w = (k - 30) / 10  # the track of B (now on A) drifts from blue to red, and the other way
                sent = {first: (1 - w) * BLUE + w * RED, second: (1 - w) * RED + w * BLUE}
            frames.extend(fusion.update_frames(seen(camera, t, rows, sent)))
    before = frames[40]
    lower = int(before.global_ids[np.argmin(before.floor_xy_m[:, 1])])
    late = [frame for frame in frames[-40:] if frame.size == 2]
    assert len(late) == 40
    for frame in late:
        order = np.argsort(frame.floor_xy_m[:, 1])
        assert int(frame.global_ids[order[0]]) == lower
        assert frame.floor_xy_m[order, 1] == pytest.approx([5.0, 5.2], abs=0.08)


def test_two_people_side_by_side_each_seen_by_one_camera_are_not_merged_when_their_colours_disagree() -> None:
    """A (red) seen by camera 1 only and B (blue) seen by camera 2 only walk together 0.4 m apart for 5 s:
    close enough, and never seen together by one camera, to pass for one person seen twice. Their colours
    disagree: they stay two persons (a merge would hand B's track, and later B, to A's id and binding)."""
    fusion = SiteFusion(IMMEDIATE)
    frames: list[FusedFrame] = []
    for k in range(50):
        x = 2.0 + 0.1 * k
        frames.extend(fusion.update_frames(seen(1, k * 100.0, [(1, x, 5.0)], {1: RED} if k == 0 else {})))
        frames.extend(
            fusion.update_frames(seen(2, k * 100.0 + 50.0, [(21, x, 5.4)], {21: BLUE} if k == 0 else {}))
        )
    assert fusion.merged_total == 0
    assert all(frame.size == 2 for frame in frames[20:])


def test_a_close_call_goes_to_the_recently_seen_person_whose_colours_clearly_agree() -> None:
    """A (red top, blue trousers) walks along y = 5 seen by camera 1; B (red), seen by camera 2 only, walks
    3 m beside and closes in to 1.2 m while camera 1 misses A for 2 s (LOST for 1 s, then removed) and picks
    up a red track right where A's walk leads, 1.2 m from B's position by camera 2: by position a close call
    between stale A and B, but its colours clearly agree with B's and A's do not (nor disagree). It is B seen
    by one more camera: it joins B (no new, uncertain person)."""
    fusion = SiteFusion(IMMEDIATE)
    b_id = 0
    frame = fusion.update(obs(1, 0.0, []))
    for k in range(60):
        x = 2.0 + 0.1 * k
        b_y = 8.0 - 0.18 * min(max(k - 20, 0), 10)
        frame = fusion.update(seen(2, k * 100.0 - 50.0, [(21, x, b_y)], {21: RED} if k == 1 else {}))
        if k < 20:
            frame = fusion.update(seen(1, k * 100.0, [(4, x, 5.0)], {4: RED_TOP} if k == 1 else {}))
        elif k < 30:
            frame = fusion.update(seen(1, k * 100.0, [(4, 3.9, 5.0)], {}, confirmed=False))
        elif k < 40:
            frame = fusion.update(obs(1, k * 100.0, [], removed=[4] if k == 30 else []))
        else:
            frame = fusion.update(
                seen(1, k * 100.0, [(9, x, 5.0)], {9: RED} if k == 42 else {}, confirmed=k >= 42)
            )
        if k == 15:
            b_id = gid_near(frame, x, b_y)
        if k >= 43:
            assert frame.global_ids.tolist() == [b_id], (k, frame.global_ids, frame.floor_xy_m)
            assert not frame.uncertain_ids


def test_a_look_alike_beside_a_person_whose_colours_are_somebody_elses_keeps_their_association() -> None:
    """A and B walk side by side 0.25 m apart in the same uniform, seen by one camera. A's person learnt red
    colours first (the edge's first descriptor of A's track caught somebody in red), so the uniform of A's
    later descriptors is never folded into them and matches B's person far better than A's own. That is no
    id swap while B's track still matches B as well: B's track is not the swap's other half (both are
    uniform). The two associations are kept; dropped, both tracks would be up for a new assignment, and one
    frame of 0.15 m noise that brings them closer to each other's person (as in a tight group) tied them
    crosswise: B's id (and a badge binding on it) walked on with A."""
    fusion = SiteFusion(IMMEDIATE)
    a_id = b_id = 0
    frame = fusion.update(obs(1, 0.0, []))
    for k in range(40):
        x = 2.0 + 0.1 * k
        a_y, b_y = (5.15, 5.1) if k == 11 else (5.0, 5.25)  # one noisy frame, each nearer the other's lane
        sent = {1: RED, 2: UNIFORM} if k == 0 else {1: UNIFORM} if k == 10 else {}
        frame = fusion.update(seen(1, k * 100.0, [(1, x, a_y), (2, x, b_y)], sent))
        if k == 8:
            a_id, b_id = gid_near(frame, x, 5.0), gid_near(frame, x, 5.25)
    assert a_id != b_id
    x = 2.0 + 0.1 * 39
    assert gid_near(frame, x, 5.25) == b_id
    assert gid_near(frame, x, 5.0) == a_id
    assert fusion.colour_reassociated_total == 0


def test_colours_of_a_frame_dropped_as_too_late_still_reach_their_tracks() -> None:
    """As the 2 s gap above, but the one frame that carries the new tracks' descriptors (an edge sends a track's
    colours on first sighting, then only on change) arrives after the next frame and is dropped as too late.
    Its positions are stale, but its colours are still the tracks' own: they re-acquire A and B. Before, the
    colours were lost with the frame and both came back as new, identity-uncertain persons (gaps seed 73: 12
    descriptors in 15 late frames in 120 s)."""
    fusion = SiteFusion(IMMEDIATE)
    before, frame = _gap([(RED, 5.0, 5.5), (BLUE, 5.8, 5.3)], late_colours=True, fusion=fusion)
    assert fusion.dropped_late_frames == 1
    x = 2.0 + 0.1 * 59
    assert gid_near(frame, x, 5.5) == before[0]
    assert gid_near(frame, x, 5.3) == before[1]
