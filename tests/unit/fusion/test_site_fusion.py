"""SiteFusion on hand-made scenes: overlap, hand-over, skew, reorder, id stability, life cycle, bad input."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from server.fusion import (
    EndedPerson,
    FusedFrame,
    FusionConfig,
    FusionConfigError,
    FusionInputError,
    SiteFusion,
)
from tests.unit.fusion.helpers import SITE, T0_US, obs

IMMEDIATE = FusionConfig(site_id=SITE, reorder_window_us=0, arrival_jitter_us=0)


def walk(x0: float, y0: float, vx: float, vy: float, t_ms: float) -> tuple[float, float]:
    return x0 + vx * t_ms / 1000, y0 + vy * t_ms / 1000


def everywhere(x: float, y: float) -> bool:
    return True


def run_two_cameras(
    fusion: SiteFusion,
    *,
    seconds: float,
    path,
    sees_1=everywhere,
    sees_2=everywhere,
    skew_2_ms: float = 0.0,
    noise_m: float = 0.0,
    seed: int = 0,
) -> list[FusedFrame]:
    """Camera 1 at t = 0, 100, ... ms; camera 2 at t = 50, 150, ... ms (+ its clock skew)."""
    rng = np.random.default_rng(seed)
    frames: list[FusedFrame] = []
    for k in range(int(seconds * 10)):
        for camera, offset_ms, sees, skew in ((1, 0.0, sees_1, 0.0), (2, 50.0, sees_2, skew_2_ms)):
            t_ms = k * 100 + offset_ms
            x, y = path(t_ms)
            rows = []
            if sees(x, y):
                nx, ny = rng.normal(0.0, noise_m, 2) if noise_m else (0.0, 0.0)
                rows = [(10 + camera, x + nx, y + ny)]
            frames.extend(fusion.update_frames(obs(camera, t_ms + skew, rows)))
    frames.extend(fusion.flush())
    return frames


def ids_over(frames: list[FusedFrame]) -> set[int]:
    return {int(g) for frame in frames for g in frame.global_ids.tolist()}


@pytest.mark.parametrize("skew_ms", [0.0, 100.0, -200.0, 300.0])
@pytest.mark.parametrize("noise_m", [0.0, 0.1])
def test_person_seen_by_two_overlapping_cameras_is_one_global_person(skew_ms: float, noise_m: float) -> None:
    config = dataclasses.replace(IMMEDIATE, reorder_window_us=700_000)
    fusion = SiteFusion(config)
    frames = run_two_cameras(
        fusion,
        seconds=8,
        path=lambda t: walk(2.0, 5.0, 1.4, 0.0, t),
        skew_2_ms=skew_ms,
        noise_m=noise_m,
    )
    # Frames of camera 2 stamped before camera 1's first (already applied) frame arrive too late: the
    # buffer cannot wait for a camera it has never heard of.
    too_early = sum(1 for k in range(80) if k * 100 + 50 + skew_ms < 0)
    assert ids_over(frames) == {1}
    assert max(frame.size for frame in frames) == 1
    assert fusion.dropped_late_frames == too_early
    assert sum(frame.processed_frames for frame in frames) == 160 - too_early
    last = next(frame for frame in reversed(frames) if frame.size)
    assert last.source_camera_ids == ((1, 2),)


@pytest.mark.parametrize(
    ("edge_1_m", "edge_2_m"),
    [(11.0, 9.0), (10.0, 10.0), (9.0, 9.6)],  # overlap, touching, 0.6 m gap without any camera
    ids=["overlap", "touching", "gap"],
)
def test_hand_over_between_cameras_keeps_the_global_id(edge_1_m: float, edge_2_m: float) -> None:
    fusion = SiteFusion(IMMEDIATE)
    frames = run_two_cameras(
        fusion,
        seconds=14,
        sees_1=lambda x, y: x < edge_1_m,
        sees_2=lambda x, y: x >= edge_2_m,
        path=lambda t: walk(1.0, 5.0, 1.3, 0.0, t),
        noise_m=0.05,
    )
    assert ids_over(frames) == {1}
    seen = [frame for frame in frames if frame.size]
    assert seen[-1].floor_xy_m[0, 0] > 15.0
    assert seen[-1].source_camera_ids == ((2,),)


def test_two_people_walking_together_stay_two_persons() -> None:
    fusion = SiteFusion(IMMEDIATE)
    frames: list[FusedFrame] = []
    for k in range(60):
        for camera, offset in ((1, 0.0), (2, 50.0)):
            t = k * 100 + offset
            x, y = walk(2.0, 5.0, 1.0, 0.0, t)
            rows = [(camera * 10 + 1, x, y), (camera * 10 + 2, x, y + 0.7)]
            frames.extend(fusion.update_frames(obs(camera, t, rows)))
    assert ids_over(frames) == {1, 2}
    final = frames[-1]
    order = np.argsort(final.global_ids)
    assert final.floor_xy_m[order, 1] == pytest.approx([5.0, 5.7], abs=0.05)


def _crosswise_start(config: FusionConfig) -> tuple[SiteFusion, list[FusedFrame]]:
    """Two people start 0.3 m apart and walk apart sideways (0.5 m/s each). Camera 2's first frame ties its
    local tracks crosswise to the two global persons camera 1 created (its noise put each person nearer
    the other's track), then both cameras see each person where they are."""
    fusion = SiteFusion(config)
    frames = list(fusion.update_frames(obs(1, 0.0, [(1, 0.0, 5.0), (2, 0.3, 5.0)])))
    frames += fusion.update_frames(obs(2, 50.0, [(21, 0.28, 5.0), (22, 0.02, 5.0)]))
    for k in range(1, 80):
        for camera, offset in ((1, 0.0), (2, 50.0)):
            t = k * 100 + offset
            a = walk(0.0, 5.0, -0.5, 0.0, t)
            b = walk(0.3, 5.0, 0.5, 0.0, t)
            ids = (1, 2) if camera == 1 else (21, 22)
            frames += fusion.update_frames(obs(camera, t, [(ids[0], *a), (ids[1], *b)]))
    return fusion, frames


def test_cameras_that_disagree_about_a_person_are_re_associated() -> None:
    """A crosswise tie leaves both global persons between the two people (every camera keeps its tie while
    the person stays within the 2.5 m memory gate); the consistency and swap checks undo it as the two
    cameras place a person apart, so the distance between the two persons is right again."""
    # (Camera 2's new tracks would wait for the people to part: the tie is made on purpose here.)
    fusion, frames = _crosswise_start(dataclasses.replace(IMMEDIATE, join_margin_m=0.0))
    assert fusion.reassociated_total >= 2
    seen = [f for f in frames if f.size == 2]
    late = [f for f in seen if f.time_us >= T0_US + 3_000_000]  # the people are 3.3-8.2 m apart
    assert late
    for frame in late:
        truth = sorted([0.0 - 0.5 * (frame.time_us - T0_US) / 1e6, 0.3 + 0.5 * (frame.time_us - T0_US) / 1e6])
        assert sorted(frame.floor_xy_m[:, 0].tolist()) == pytest.approx(truth, abs=0.15)
    assert ids_over(frames) == {1, 2}

    # Without the check (a disagreement threshold beyond the memory gate, and no swap check), the tie holds for
    # seconds.
    _, untied = _crosswise_start(
        dataclasses.replace(IMMEDIATE, camera_disagreement_m=100.0, join_margin_m=0.0, swap_saving_m=0.0)
    )
    mixed = [f for f in untied if f.size == 2][5]  # t ~ 0.5 s: the people are 0.8 m apart
    assert abs(mixed.floor_xy_m[0, 0] - mixed.floor_xy_m[1, 0]) < 0.5  # the tie pulls both to the middle
    at_3s = next(f for f in untied if f.size == 2 and f.time_us >= T0_US + 3_000_000)
    assert abs(at_3s.floor_xy_m[0, 0] - at_3s.floor_xy_m[1, 0]) < 1.0


def test_a_camera_with_a_steady_offset_keeps_its_association() -> None:
    """A camera that sees a walker 0.45 m ahead (300 ms of clock skew at 1.5 m/s) agrees within the
    threshold: no association is dropped, the person stays one, fed by both cameras."""
    fusion = SiteFusion(dataclasses.replace(IMMEDIATE, reorder_window_us=700_000))
    frames = run_two_cameras(
        fusion,
        seconds=8,
        path=lambda t: walk(2.0, 5.0, 1.5, 0.0, t),
        skew_2_ms=-300.0,
        noise_m=0.1,
    )
    assert ids_over(frames) == {1}
    assert all(f.source_camera_ids == ((1, 2),) for f in frames[20:] if f.size)
    assert fusion.reassociated_total == 0


@pytest.mark.parametrize("skew_ms", [200.0, -300.0])
def test_relative_clock_skew_is_estimated_and_corrected(skew_ms: float) -> None:
    """Camera 2 stamps its frames ``skew_ms`` off. The fusion estimates the relative skews (mean zero) from the
    walker both cameras see, and moves camera 2's observations to the common clock: the fused track no longer
    zigzags between the cameras (each camera's frame pulled it v * skew back and forth)."""

    def jitter(config: FusionConfig) -> tuple[SiteFusion, float]:
        fusion = SiteFusion(config)
        frames = run_two_cameras(
            fusion,
            seconds=12,
            path=lambda t: walk(1.0, 5.0, 1.4, 0.0, t),
            skew_2_ms=skew_ms,
            noise_m=0.02,
        )
        late = [f for f in frames if f.size and f.time_us >= T0_US + 6_000_000]
        x = np.array([f.floor_xy_m[0, 0] for f in late])
        t_s = np.array([(f.time_us - T0_US) / 1e6 for f in late])
        return fusion, float(np.std(np.diff(x) - 1.4 * np.diff(t_s)))

    config = dataclasses.replace(IMMEDIATE, reorder_window_us=700_000)
    fusion, corrected = jitter(config)
    half = skew_ms / 2000.0
    assert fusion.camera_skews_s == pytest.approx({1: -half, 2: half}, abs=0.02)
    _, uncorrected = jitter(dataclasses.replace(config, max_skew_s=0.0))
    assert corrected < 0.5 * uncorrected


def test_crossing_people_keep_their_ids_through_the_crossing() -> None:
    fusion = SiteFusion(IMMEDIATE)
    first_ids: dict[int, int] = {}
    frame = None
    for k in range(100):
        t = k * 100.0
        a = walk(0.0, 5.0, 1.0, 0.0, t)
        b = walk(10.0, 5.4, -1.0, 0.0, t)
        frame = fusion.update(obs(1, t, [(1, *a), (2, *b)]))
        if frame.size == 2 and not first_ids:
            first_ids = {
                int(g): round(float(x)) for g, x in zip(frame.global_ids, frame.floor_xy_m[:, 0], strict=True)
            }
    assert frame is not None
    assert first_ids
    final = {int(g): float(x) for g, x in zip(frame.global_ids, frame.floor_xy_m[:, 0], strict=True)}
    assert set(final) == set(first_ids)
    for gid, start_x in first_ids.items():
        assert (final[gid] > 5.0) == (start_x < 5.0)  # each id crossed over with its own person


def _stop_at_4_2(t_ms: float) -> tuple[float, float]:
    """Walk along x at 1.2 m/s from x = 0.6, stop for good at x = 4.2 (t = 3 s)."""
    return walk(0.6, 5.0, 1.2, 0.0, min(t_ms, 3000.0))


@pytest.mark.parametrize("standing_gain", [0.15, 0.0])
def test_a_walker_who_stops_is_reported_standing_still(standing_gain: float) -> None:
    config = dataclasses.replace(IMMEDIATE, standing_gain=standing_gain)
    frames = run_two_cameras(SiteFusion(config), seconds=8, path=_stop_at_4_2, noise_m=0.1, seed=2)
    settled = [f for f in frames if f.size and f.time_us >= T0_US + 4_500_000]
    error = np.mean([abs(float(f.floor_xy_m[0, 0]) - 4.2) for f in settled])
    still = all(not f.velocities_mps.any() for f in settled)
    if standing_gain:
        assert still  # standing persons are reported with zero velocity
        assert error < 0.04
    else:
        assert not still  # the walking model's velocity keeps wandering with the noise


def test_the_standing_model_cuts_the_jitter_of_a_standing_person_and_leaves_walkers_alone() -> None:
    def jitter(standing_gain: float, path) -> float:
        config = dataclasses.replace(IMMEDIATE, standing_gain=standing_gain)
        frames = run_two_cameras(SiteFusion(config), seconds=12, path=path, noise_m=0.12, seed=3)
        xy = np.array([f.floor_xy_m[0] for f in frames if f.size and f.time_us >= T0_US + 4_000_000])
        truth = np.array(
            [path((f.time_us - T0_US) / 1000) for f in frames if f.size and f.time_us >= T0_US + 4_000_000]
        )
        return float(np.sqrt(np.mean(np.sum((xy - truth) ** 2, axis=1))))

    def standing(t_ms: float) -> tuple[float, float]:
        return 6.0, 4.0

    def walking(t_ms: float) -> tuple[float, float]:
        return walk(1.0, 4.0, 1.1, 0.0, t_ms)

    assert jitter(0.15, standing) < 0.75 * jitter(0.0, standing)
    assert jitter(0.15, walking) < 1.1 * jitter(0.0, walking)


def _doorway(config: FusionConfig) -> tuple[int, int]:
    """Person A walks out through a door at x = 0 at 1.2 m/s; as their local track is lost at x = 0.3 (the
    edge tracker keeps it for 6 frames), person B comes in 0.3 m behind them, walking the other way. Return
    the global ids of A and of B."""
    fusion = SiteFusion(config)
    a_id = b_id = 0
    for k in range(60):
        t = k * 100.0
        rows: list[tuple[int, float, float]] = []
        confirmed: list[bool] = []
        if k <= 45:  # lost (last position held) from k = 40 until removed
            rows.append((1, 5.0 - 1.2 * min(t, 3900) / 1000, 5.0))  # x = 0.32 at k = 39
            confirmed.append(k <= 39)
        if k >= 39:
            rows.append((2, 0.6 + 1.2 * (t - 3900) / 1000, 5.0))
            confirmed.append(k >= 42)  # tentative for its first three frames
        frame = fusion.update(obs(1, t, rows, confirmed=confirmed, removed=[1] if k == 46 else []))
        if k == 30:
            a_id = int(frame.global_ids[0])
        if k == 50:
            b_id = int(frame.global_ids[np.argmax(frame.floor_xy_m[:, 0])])
    return a_id, b_id


def test_a_person_passing_a_walker_the_other_way_does_not_take_over_their_id() -> None:
    # The camera still holds the walker with a lost track, so its new track is somebody else, although distance
    # alone (0.8 m apart, inside the 1.3 m gate) would hand the walker's id to the newcomer.
    a_id, b_id = _doorway(IMMEDIATE)
    assert a_id != b_id


def test_local_id_switch_keeps_the_global_id() -> None:
    fusion = SiteFusion(IMMEDIATE)
    gids: set[int] = set()
    for k in range(50):
        t = k * 100.0
        x, y = walk(1.0, 2.0, 1.2, 0.0, t)
        local = 1 if k < 25 else 2
        removed = [1] if k == 25 else []
        confirmed = k < 25 or k >= 28  # the new local track is tentative for 3 frames
        frame = fusion.update(obs(1, t, [(local, x, y)], confirmed=confirmed, removed=removed))
        gids.update(frame.global_ids.tolist())
    assert gids == {1}


def test_global_ids_are_stable_while_local_tracks_persist_and_start_at_first_global_id() -> None:
    fusion = SiteFusion(dataclasses.replace(IMMEDIATE, first_global_id=500))
    history: list[list[int]] = []
    for k in range(40):
        t = k * 100.0
        rows = [(i + 1, 2.0 + 3.0 * i, 4.0 + 0.01 * k) for i in range(4)]
        frame = fusion.update(obs(1, t, rows))
        if frame.size == 4:
            history.append(frame.global_ids[np.argsort(frame.floor_xy_m[:, 0])].tolist())
    assert history
    assert all(ids == [500, 501, 502, 503] for ids in history)


@pytest.mark.parametrize(("score", "first_frame"), [(0.9, 2), (0.6, 2), (0.5, 5)])
def test_confirmation_time_depends_on_the_score_and_false_positive_tracklets_never_show(
    score: float, first_frame: int
) -> None:
    fusion = SiteFusion(IMMEDIATE)
    sizes = []
    for k in range(12):
        rows = [(1, 3.0, 3.0)] + ([(9, 8.0, 8.0)] if k < 4 else [])  # a 4-frame, low-score false positive
        scores = [score] + ([0.4] if k < 4 else [])
        sizes.append(fusion.update(obs(1, k * 100.0, rows, score=scores)).size)
    # confident observations (mean score >= 0.6) confirm after 0.2 s, others after 0.5 s; both need 3 hits
    assert sizes[:first_frame] == [0] * first_frame
    assert sizes[first_frame:] == [1] * (12 - first_frame)


@pytest.mark.parametrize(
    ("min_score", "frames", "shown"), [(0.0, 10, True), (0.45, 10, False), (0.45, 18, True)]
)
def test_a_low_score_tracklet_needs_the_minimum_mean_score_or_persistence(
    min_score: float, frames: int, shown: bool
) -> None:
    """A 1 s tracklet scoring 0.40 outlives confirm_after_s: the mean-score floor keeps it off the floor plan,
    while a real person (0.8) next to it is confirmed either way; seen for longer than
    low_score_confirm_after_s (1.5 s), the poorly detected one is confirmed too."""
    fusion = SiteFusion(dataclasses.replace(IMMEDIATE, confirm_min_score=min_score))
    seen: set[int] = set()
    for k in range(frames):
        frame = fusion.update(obs(1, k * 100.0, [(1, 3.0, 3.0), (9, 8.0, 8.0)], score=[0.8, 0.4]))
        seen.update(frame.global_ids.tolist())
    assert seen == ({1, 2} if shown else {1})


@pytest.mark.parametrize(
    ("confirmed", "valid"),
    [(False, True), (True, False), (False, False)],
    ids=["tentative", "off-floor", "both"],
)
def test_rows_that_are_not_confirmed_or_off_the_floor_create_nobody(confirmed: bool, valid: bool) -> None:
    fusion = SiteFusion(IMMEDIATE)
    for k in range(20):
        frame = fusion.update(obs(1, k * 100.0, [(1, 3.0, 3.0)], confirmed=confirmed, valid=valid))
        assert frame.size == 0


def test_lost_rows_do_not_move_the_person() -> None:
    fusion = SiteFusion(IMMEDIATE)
    for k in range(10):
        fusion.update(obs(1, k * 100.0, [(1, 3.0, 3.0)]))
    frame = fusion.update(obs(1, 1000.0, [(1, 9.0, 9.0)], confirmed=False))
    assert frame.floor_xy_m[0] == pytest.approx([3.0, 3.0], abs=0.05)


def test_person_ends_after_being_unseen_and_is_reported_once() -> None:
    fusion = SiteFusion(IMMEDIATE)
    for k in range(10):
        fusion.update(obs(1, k * 100.0, [(1, 3.0, 3.0)]))
    ended: list[EndedPerson] = []
    sizes: dict[int, int] = {}
    for k in range(10, 45):
        frame = fusion.update(obs(1, k * 100.0, []))
        sizes[k] = frame.size
        ended.extend(frame.ended)
        if frame.ended:
            assert frame.size == 0
            assert k * 100 - 900 > 3000  # kept for re-acquisition for reacquire_within_s
    # Reported for end_after_s (1.3 s) after last seen, then no longer (but not ended yet).
    assert sizes[22] == 1
    assert sizes[23] == 0
    assert sizes[30] == 0
    assert [(e.global_id, e.first_seen_us, e.last_seen_us) for e in ended] == [(1, T0_US, T0_US + 900_000)]


def test_duplicate_persons_from_two_cameras_are_merged_into_the_older_id() -> None:
    # A tight gate lets camera 2's biased view start a second person; the merge rule joins them.
    config = dataclasses.replace(IMMEDIATE, gate_distance_m=0.2)
    fusion = SiteFusion(config)
    ended: list[EndedPerson] = []
    sizes = []
    for k in range(40):
        ended.extend(fusion.update(obs(1, k * 100.0, [(1, 5.0, 5.0)])).ended)
        if k >= 5:
            frame = fusion.update(obs(2, k * 100.0 + 50, [(1, 5.4, 5.0)]))
            ended.extend(frame.ended)
            sizes.append(frame.size)
    assert max(sizes) == 2
    assert sizes[-1] == 1
    assert [e.global_id for e in ended] == [2]
    assert fusion.merged_total == 1


def test_frame_waiting_for_a_slower_camera_returns_an_unprocessed_snapshot() -> None:
    fusion = SiteFusion(dataclasses.replace(IMMEDIATE, reorder_window_us=500_000))
    fusion.update(obs(1, 0.0, [(1, 1.0, 1.0)]))
    fusion.update(obs(2, 0.0, [(1, 1.0, 1.0)]))
    frame = fusion.update(obs(1, 100.0, [(1, 1.1, 1.0)]))
    assert frame.processed_frames == 0
    assert fusion.pending_frames == 1
    frame = fusion.update(obs(2, 120.0, [(1, 1.1, 1.0)]))
    assert frame.processed_frames == 1
    assert frame.time_us == T0_US + 100_000


def test_late_frame_inside_the_window_is_reordered_and_one_beyond_is_dropped() -> None:
    fusion = SiteFusion(dataclasses.replace(IMMEDIATE, reorder_window_us=300_000))
    times: list[int] = []
    for camera, t in ((1, 0.0), (2, 10.0), (1, 100.0), (1, 200.0), (2, 50.0), (1, 300.0), (1, 700.0)):
        times.extend(frame.time_us for frame in fusion.update_frames(obs(camera, t, [(1, 2.0, 2.0)])))
    assert fusion.dropped_late_frames == 0
    fusion.update_frames(obs(2, 150.0, [(1, 2.0, 2.0)]))  # older than the released frames: too late
    times.extend(frame.time_us for frame in fusion.flush())
    assert fusion.dropped_late_frames == 1
    assert times == sorted(times)
    assert [t - T0_US for t in times] == [0, 10_000, 50_000, 100_000, 200_000, 300_000, 700_000]


BAD = [
    ("nan", {"floor_xy_m": np.array([[np.nan, 1.0]])}, "non_finite"),
    ("inf", {"floor_xy_m": np.array([[np.inf, 1.0]])}, "non_finite"),
    ("nan score", {"scores": np.array([np.nan], dtype=np.float32)}, "non_finite"),
    ("absurd", {"floor_xy_m": np.array([[1e7, 1.0]])}, "out_of_range"),
    ("shape", {"floor_xy_m": np.array([1.0, 1.0])}, "bad_shape"),
    ("column length", {"confirmed": np.array([True, False])}, "bad_shape"),
    ("ids 2-d", {"local_ids": np.array([[1]])}, "bad_shape"),
    ("float ids", {"local_ids": np.array([1.0])}, "bad_dtype"),
    ("int flags", {"valid_floor": np.array([1])}, "bad_dtype"),
    ("int positions", {"floor_xy_m": np.array([[1, 1]])}, "bad_dtype"),
]


@pytest.mark.parametrize(("case", "change", "code"), BAD, ids=[case[0] for case in BAD])
def test_bad_observations_raise_a_typed_error(case: str, change: dict[str, Any], code: str) -> None:
    fusion = SiteFusion(IMMEDIATE)
    bad = dataclasses.replace(obs(1, 0.0, [(1, 1.0, 1.0)]), **change)
    with pytest.raises(FusionInputError) as error:
        fusion.update(bad)
    assert error.value.code == code
    assert fusion.update(obs(1, 100.0, [(1, 1.0, 1.0)])).processed_frames == 1  # the stream goes on


def test_duplicate_local_ids_and_wrong_site_are_rejected() -> None:
    fusion = SiteFusion(IMMEDIATE)
    with pytest.raises(FusionInputError) as duplicate:
        fusion.update(obs(1, 0.0, [(1, 1.0, 1.0), (1, 2.0, 2.0)]))
    assert duplicate.value.code == "duplicate_local_id"
    with pytest.raises(FusionInputError) as wrong_site:
        fusion.update(obs(1, 0.0, [(1, 1.0, 1.0)], site_id=SITE + 1))
    assert wrong_site.value.code == "wrong_site"


def test_empty_frames_are_fine() -> None:
    fusion = SiteFusion(IMMEDIATE)
    frame = fusion.update(obs(1, 0.0, []))
    assert frame.size == 0
    assert frame.floor_xy_m.shape == (0, 2)
    assert frame.source_camera_ids == ()


@pytest.mark.parametrize(
    "change",
    [
        {"gate_distance_m": 0.0},
        {"gate_distance_m": float("nan")},
        {"position_gain": 0.0},
        {"velocity_gain": 1.5},
        {"reorder_window_us": -1},
        {"confirm_min_hits": 0},
        {"first_global_id": 0},
        {"end_after_s": -1.0},
        {"arrival_jitter_us": -5},
        {"camera_disagreement_m": 0.0},
        {"max_skew_s": -0.1},
        {"confirm_min_score": 1.5},
        {"low_score_confirm_after_s": -1.0},
        {"held_max_s": -0.5},
        {"standing_gain": 1.5},
        {"reacquire_speed_mps": float("nan")},
        {"reacquire_within_s": 0.5},
        {"entry_regions_m": ((1.0, 0.0, 0.0, 1.0),)},
    ],
)
def test_bad_config_raises_a_typed_error(change: dict[str, Any]) -> None:
    with pytest.raises(FusionConfigError):
        SiteFusion(dataclasses.replace(IMMEDIATE, **change))


def test_a_new_track_between_two_people_about_as_close_waits_instead_of_guessing() -> None:
    """The crosswise start with the wait on: camera 2's tracks join once the people have parted, so the two
    persons are never pulled together and no association has to be undone."""
    fusion, frames = _crosswise_start(IMMEDIATE)
    assert fusion.reassociated_total == 0
    seen = [f for f in frames if f.size == 2]
    assert abs(seen[5].floor_xy_m[0, 0] - seen[5].floor_xy_m[1, 0]) > 0.6  # t ~ 0.5 s: 0.8 m apart
    late = [f for f in seen if f.time_us >= T0_US + 3_000_000]
    assert all(len(f.source_camera_ids[0]) == 2 for f in late)  # camera 2 joined both
    assert ids_over(frames) == {1, 2}
