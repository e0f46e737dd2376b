"""DoorCounter: counting lines with hysteresis, counted occupancy, closing-time reset and capacity (tables)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
import pytest

from server.analytics import (
    AnalyticsConfigError,
    CountingLine,
    CrossingDirection,
    PersonIdentity,
    SiteAnalytics,
)
from server.analytics.doors import next_closing_us
from tests.unit.analytics.helpers import SITE, frame, site_config, us

IN, OUT = CrossingDirection.IN, CrossingDirection.OUT
# A door from (10, 5) to (14, 5): walking towards +y (left of the direction +x) goes in.
# The geometric table commits at once (commit_s 0); the hold in time has its own test.
DOOR = CountingLine(
    1, "Front door", ((10.0, 5.0), (14.0, 5.0)), entrance=True, hysteresis_m=0.3, commit_s=0.0
)
# A V-shaped line (two segments), not an entrance.
AISLE = CountingLine(2, "Aisle", ((20.0, 2.0), (22.0, 4.0), (24.0, 2.0)), entrance=False, commit_s=0.0)


def _ys(*values: float, x: float = 12.0) -> list[tuple[float, float]]:
    return [(x, y) for y in values]


def _run(
    paths: Mapping[int, Sequence[tuple[float, float] | None]],
    *,
    lines: tuple[CountingLine, ...] = (DOOR,),
    identities: dict[int, PersonIdentity] | None = None,
    first_seen_s: dict[int, float] | None = None,
    **config: object,
) -> tuple[list[tuple[int, int, CrossingDirection, bool]], list[int | None], SiteAnalytics]:
    """Feed each person's path (one position per 0.1 s frame; None: not there yet; a person is gone after their
    path ends; ``first_seen_s``: when each was first observed, else at their first frame)."""
    analytics = SiteAnalytics(site_config(lines=lines, **config))
    steps = max(len(path) for path in paths.values())
    crossings: list[tuple[int, int, CrossingDirection, bool]] = []
    occupancy: list[int | None] = []
    for k in range(steps + 1):
        people = {gid: p for gid, path in paths.items() if k < len(path) and (p := path[k]) is not None}
        seen = {g: first_seen_s.get(g, k * 0.1) for g in people} if first_seen_s is not None else None
        update = analytics.update(frame(k * 0.1, people, first_seen_s=seen), identities or {})
        crossings += [(c.line_id, c.global_id, c.direction, c.staff) for c in update.crossings]
        occupancy.append(update.counted_occupancy)
    return crossings, occupancy, analytics


BEHIND_THE_EDGE = [*_ys(3.0, 4.0, 4.6, 4.9), (12.0, 5.1)]

CASES = [
    ("walks in", {1: _ys(3.0, 4.0, 5.0, 6.0, 7.0)}, [(1, 1, IN, False)]),
    ("walks out", {1: _ys(7.0, 6.0, 5.0, 4.0, 3.0)}, [(1, 1, OUT, False)]),
    ("steps into the band and back", {1: _ys(3.0, 4.0, 4.8, 5.2, 4.8, 4.0, 3.0)}, []),
    (
        "in, then back out",
        {1: _ys(3.0, 4.0, 5.0, 6.0, 5.0, 4.0, 3.0)},
        [(1, 1, IN, False), (1, 1, OUT, False)],
    ),
    ("dithers on the line, then in", {1: _ys(3.0, 4.9, 5.1, 4.9, 5.1, 4.9, 5.2, 6.0)}, [(1, 1, IN, False)]),
    ("just past the line, never beyond the band", {1: _ys(3.0, 4.0, 5.1, 5.2, 5.1, 4.0)}, []),
    (
        "walks round the end of the line",
        {1: [(12.0, 3.0), (15.0, 3.0), (16.0, 5.0), (15.0, 7.0), (12.0, 7.0)]},
        [],
    ),
    ("first seen inside, walks further in", {1: _ys(6.0, 7.0, 8.0)}, []),
    ("leaves the floor in the band after passing", {1: BEHIND_THE_EDGE}, [(1, 1, IN, False)]),
    (
        "two side by side",
        {1: _ys(3.0, 4.5, 5.5, 6.5), 2: _ys(3.0, 4.5, 5.5, 6.5, x=12.5)},
        [(1, 1, IN, False), (1, 2, IN, False)],
    ),
    ("a jump across the line in one step", {1: _ys(3.0, 7.0)}, [(1, 1, IN, False)]),
]


@pytest.mark.parametrize(("paths", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_crossings(paths: dict[int, Sequence[tuple[float, float]]], expected: list[object]) -> None:
    crossings, _, _ = _run(paths)
    assert crossings == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ([(21.0, 1.0), (21.0, 2.0), (21.0, 4.0), (21.0, 5.0)], [(2, 1, IN, False)]),  # left arm, upwards
        ([(23.0, 5.0), (23.0, 4.0), (23.0, 2.0), (23.0, 1.0)], [(2, 1, OUT, False)]),  # right arm, downwards
        (
            [(19.0, 2.5), (19.5, 1.0), (22.0, 1.0), (24.5, 1.0), (25.0, 2.5)],
            [],
        ),  # under the V, round both ends
    ],
)
def test_polyline(path: list[tuple[float, float]], expected: list[object]) -> None:
    crossings, occupancy, _ = _run({1: path}, lines=(AISLE,))
    assert crossings == expected
    assert set(occupancy) == {None}  # no entrance line: no counted occupancy


@pytest.mark.parametrize(
    ("ys", "expected"),
    [
        ([3.0, 4.0, 5.4, 4.0, 3.0], []),  # beyond the band for one frame (0.1 s) only: noise, not a crossing
        ([3.0, 4.0, 5.4, 5.4, 4.0, 3.0], []),  # 0.1 s held
        ([3.0, 4.0, 5.4, 5.4, 5.4, 5.4, 4.0, 3.0], [IN, OUT]),  # held 0.3 s: in; then out (held by the end)
        ([3.0, 4.0, 5.4, 5.4, 5.4, 5.4], [IN]),
    ],
)
def test_a_side_commits_once_held_commit_s(ys: list[float], expected: list[CrossingDirection]) -> None:
    held = dataclasses.replace(DOOR, commit_s=0.3)
    crossings, _, _ = _run({1: _ys(*ys, *([3.0] * 5 if expected == [IN, OUT] else []))}, lines=(held,))
    assert [c[2] for c in crossings] == expected


def test_the_default_hold_ignores_the_overshoot_of_a_stop_at_the_door() -> None:
    # A person stops just past the line and turns back; their fused position overshoots by 0.6 m for 0.4 s (the
    # fused positions of back-and-forth at the door, benchmarks/retail_kpis.py): no crossing at all. A real
    # entry, held beyond the band, counts.
    line = dataclasses.replace(DOOR, hysteresis_m=CountingLine.hysteresis_m, commit_s=CountingLine.commit_s)
    overshoot, _, _ = _run(
        {1: _ys(3.0, 4.0, 4.8, 5.6, 5.6, 5.6, 5.6, 4.8, 4.0, 3.0, 3.0, 3.0)}, lines=(line,)
    )
    assert overshoot == []
    entry, _, _ = _run({1: _ys(3.0, 4.0, 4.8, 5.6, 5.6, 5.6, 5.6, 5.8, 6.2, 6.6)}, lines=(line,))
    assert [c[2] for c in entry] == [IN]


def _fused(
    track: Sequence[tuple[float, float, bool]], *, stream_stops: bool = False
) -> list[tuple[int, int, CrossingDirection, bool]]:
    """One person's fused track through DOOR (default band and hold) at x 12, a frame every 0.1 s: (signed
    distance past the line, velocity towards the inside, observed in that frame); when not observed the frame's
    last_seen_us is that of the person's latest observed frame (the fusion extrapolated them). Then gone (the
    fusion ended them), or (``stream_stops``) the stream stops with them there (SiteAnalytics.flush)."""
    line = dataclasses.replace(DOOR, hysteresis_m=CountingLine.hysteresis_m, commit_s=CountingLine.commit_s)
    analytics = SiteAnalytics(site_config(lines=(line,)))
    crossings: list[tuple[int, int, CrossingDirection, bool]] = []
    seen_s = 0.0
    for k, (past_m, speed, observed) in enumerate(track):
        seen_s = k * 0.1 if observed else seen_s
        fused = frame(k * 0.1, {1: (12.0, 5.0 + past_m)}, velocities={1: (0.0, speed)})
        fused = dataclasses.replace(fused, last_seen_us=np.array([us(seen_s)], dtype=np.int64))
        crossings += [
            (c.line_id, c.global_id, c.direction, c.staff) for c in analytics.update(fused, {}).crossings
        ]
    gone = analytics.flush() if stream_stops else analytics.update(frame(len(track) * 0.1, {}), {})
    return crossings + [(c.line_id, c.global_id, c.direction, c.staff) for c in gone.crossings]


# A person walks to 0.15 m past the line, stops there for a second and walks back out (back-and-forth at the
# door); the fused position, observed every frame, runs on to 0.5-0.6 m past the line for 0.7 s while its
# velocity decays (the fusion's constant-velocity model after a stop: back_forth seed 99 of
# benchmarks/door_replay.py, person 11, distances and velocities as the fusion reported them).
STOP_OVERSHOOT = [
    (-1.13, 0.31),
    (-0.95, 0.81),
    (-0.76, 1.16),
    (-0.60, 1.31),
    (-0.42, 1.46),
    (-0.23, 1.62),
    (-0.04, 1.72),
    (0.13, 1.69),
    (0.27, 1.62),
    (0.39, 1.45),
    (0.53, 1.45),
    (0.51, 1.18),
    (0.54, 0.86),
    (0.58, 0.72),
    (0.55, 0.37),
    (0.57, 0.37),
    (0.54, 0.24),
    (0.46, -0.13),
    (0.38, -0.34),
    (0.31, -0.46),
    (0.18, -0.74),
    (0.06, -0.89),
    (-0.09, -1.11),
    (-0.25, -1.26),
    (-0.48, -1.59),
    (-0.68, -1.74),
    (-0.86, -1.77),
    (-1.03, -1.73),
    (-1.2, -1.0),
    (-1.3, -0.5),
    (-1.3, 0.0),
]


def test_the_overshoot_of_the_fused_position_after_a_stop_past_the_line_is_no_crossing() -> None:
    assert _fused([(past, speed, True) for past, speed in STOP_OVERSHOOT]) == []


def test_one_who_walks_in_and_stops_past_the_band_counts_in() -> None:
    # The fused position leads them as well (to 0.9 m for a stop at 0.7 m); they stay: in, once.
    walk = [(-1.2 + 0.12 * k, 1.2, True) for k in range(16)]  # to 0.6 m past, walking
    stop = [(0.9, 0.8), (0.9, 0.5), (0.85, 0.3), (0.8, 0.1), (0.75, 0.0)] + [(0.7, 0.0)] * 10
    assert _fused(walk + [(past, speed, True) for past, speed in stop]) == [(1, 1, IN, False)]


def test_one_who_walks_through_counts_in() -> None:
    assert _fused([(-1.5 + 0.12 * k, 1.2, True) for k in range(30)]) == [(1, 1, IN, False)]


def test_positions_extrapolated_while_unseen_do_not_hold_a_side() -> None:
    # Seen up to 0.42 m past the line walking in, then unseen for 0.3 s while the fusion extrapolates them to
    # 0.76 m; seen again at 0.57 m, stopping, and they walk back out (back_forth seed 99, person 14): beyond the
    # band for 0.5 s of frames, but for 0.2 s of observations only: no crossing.
    track = [(-1.2 + 0.12 * k, 0.0, True) for k in range(14)]  # to 0.36 m
    track += [(0.42, 0.0, True), (0.53, 0.0, False), (0.65, 0.0, False), (0.76, 0.0, False)]
    track += [(0.57, 0.0, True), (0.54, 0.0, True), (0.51, 0.0, True), (0.35, 0.0, True)]
    track += [(0.35 - 0.12 * k, 0.0, True) for k in range(1, 15)]
    assert _fused(track) == []


def test_a_passage_extrapolated_while_unseen_counts_when_the_person_ends_past_it() -> None:
    # A door at the edge of the cameras' view: seen inside until 0.6 m past the line walking out, then
    # extrapolated through it while unseen; the fusion ends them: out, at their end.
    track = [(2.0 - 0.12 * k, -1.2, True) for k in range(12)]  # to 0.68 m
    track += [(0.68 - 0.12 * k, -1.2, False) for k in range(1, 12)]  # to -0.64 m, unseen
    assert _fused(track) == [(1, 1, OUT, False)]


def test_a_walker_who_ends_just_past_the_line_counts_where_the_fusion_placed_them() -> None:
    # Walking out and gone 0.1 m past the line (the run ends): the crossing counts at their end, the leading
    # velocity notwithstanding.
    track = [(1.5 - 0.12 * k, -1.2, True) for k in range(14)]  # to -0.06 m
    assert _fused(track) == [(1, 1, OUT, False)]


def test_a_stream_that_stops_counts_only_what_was_observed() -> None:
    # Walking out, last observed 0.07 m inside the line when the cameras stop, extrapolated 0.1 m past it by the
    # fusion's last frames (two_cameras seed 48 of benchmarks/door_replay.py, gid 45 at 120 s): the crossing was
    # never seen, the flush counts nothing. Observed past the line when the stream stops, it counts.
    walk = [(1.5 - 0.12 * k, -1.2, True) for k in range(12)]  # to 0.18 m
    unseen = [*walk, (0.07, -1.2, True), (-0.05, -1.2, False)]
    seen = [*walk, (0.07, -1.2, True), (-0.05, -1.2, True)]
    assert _fused(unseen, stream_stops=True) == []
    assert _fused(seen, stream_stops=True) == [(1, 1, OUT, False)]
    # The fusion ending them there (a door at the edge of the cameras' view) still counts the crossing.
    assert _fused(unseen) == [(1, 1, OUT, False)]


def test_a_ghost_observed_once_and_extrapolated_across_the_line_counts_nothing() -> None:
    # A false track observed in one frame 0.3 m inside the line, moving out at 0.4 m/s, extrapolated 1.3 s
    # across it (to 0.2 m outside) and ended (two_cameras seed 43, gid 61): no observation beyond the line, no
    # observed walk towards it: no exit.
    track = [(0.3, -0.4, True)] + [(0.3 - 0.04 * k, -0.4, False) for k in range(1, 14)]
    assert _fused(track) == []


def test_a_person_back_with_the_same_id_continues_their_crossing() -> None:
    # Walking in at 1.2 m/s, last observed on the line, extrapolated to 0.67 m past it, missing from two fused
    # frames (no end reported: they are gone from the counter) and back with the same id, observed 0.65 m past
    # it, their door position in the band, first observed long before (doorway seed 609, gid 48 at 37.5 s): one
    # entry, not a second one for a person "reported past the line".
    line = dataclasses.replace(DOOR, hysteresis_m=CountingLine.hysteresis_m, commit_s=CountingLine.commit_s)
    analytics = SiteAnalytics(site_config(lines=(line,)))
    track: list[tuple[float, bool] | None] = [(-1.2 + 0.12 * k, True) for k in range(11)]  # to 0.0 m
    track += [(0.12 * k, False) for k in range(1, 6)]  # to 0.6 m, unseen
    track += [None, None]
    track += [(0.65 + 0.12 * k, True) for k in range(15)]
    crossings = []
    seen_s = 0.0
    for k, step in enumerate(track):
        people = {} if step is None else {1: (12.0, 5.0 + step[0])}
        fused = frame(k * 0.1, people, velocities={1: (0.0, 1.2)}, first_seen_s={1: 0.0})
        if step is not None:
            seen_s = k * 0.1 if step[1] else seen_s
            fused = dataclasses.replace(fused, last_seen_us=np.array([us(seen_s)], dtype=np.int64))
        crossings += [(c.global_id, c.direction) for c in analytics.update(fused, {}).crossings]
    assert crossings == [(1, IN)]


# The fusion reports a person once it has confirmed them: one walking through the door at 1.2 m/s, first
# observed at 0.0 s outside, can be reported first at 0.8 s already past the line, in the band (y 5.2).
LATE = [None] * 8
CONFIRMED_LATE_CASES = [
    (
        "reported past the line 0.8 s after first observed, walks in",
        {1: [*LATE, *_ys(5.2, 5.32, 5.44)]},
        {1: 0.0},
        [IN],
    ),
    (
        # persons come onto the floor from outside: a new id past the line going out is an id replaced
        "reported past the line 0.8 s after first observed, walks out",
        {1: [*LATE, *_ys(4.8, 4.68, 4.56)]},
        {1: 0.0},
        [],
    ),
    ("first observed where reported, walks in", {1: [*LATE, *_ys(5.2, 5.32, 5.44)]}, {}, []),
    (
        "observed 0.1 s before: could not have come from the other side",
        {1: [*LATE, *_ys(5.2, 5.32, 5.44)]},
        {1: 0.7},
        [],
    ),
    (
        "reported past the line, turns back through it and out",
        {1: [*LATE, *_ys(5.2, 5.0, 4.8, 4.6)]},
        {1: 0.0},
        [OUT],
    ),
    ("reported past the line, standing", {1: [*LATE, *_ys(5.2, 5.2, 5.2, 5.2)]}, {1: 0.0}, []),
    (
        "reported beside the line inside the store, walks along it",
        {1: [*LATE, (12.0, 5.2), (12.3, 5.2), (12.6, 5.2)]},
        {1: 0.0},
        [],
    ),
]


@pytest.mark.parametrize(
    ("paths", "first_seen", "expected"),
    [case[1:] for case in CONFIRMED_LATE_CASES],
    ids=[case[0] for case in CONFIRMED_LATE_CASES],
)
def test_a_person_reported_past_the_line_came_through_it_when_their_first_observation_says_so(
    paths: dict[int, Sequence[tuple[float, float] | None]],
    first_seen: dict[int, float],
    expected: list[CrossingDirection],
) -> None:
    crossings, _, _ = _run(paths, first_seen_s=first_seen)
    assert [c[2] for c in crossings] == expected


def test_a_person_reported_past_a_line_that_is_not_an_entrance_counts_only_their_own_passages() -> None:
    # Persons come onto the floor through the entrances; elsewhere a new id past a line is someone already in.
    aisle = dataclasses.replace(DOOR, entrance=False)
    crossings, _, _ = _run({1: [*LATE, *_ys(5.2, 5.32, 5.44)]}, first_seen_s={1: 0.0}, lines=(aisle,))
    assert crossings == []


ABSENT = [None] * 4  # 0.4 s not there yet
# The fusion replaces a person's id at the door: person 1 ends in the band, person 2 appears there 0.2 s later
# (frame 4) unless said otherwise.
HANDOVER_CASES = [
    (
        "id replaced in the band before the line, new id goes in",
        {1: _ys(3.0, 4.0, 4.8), 2: [*ABSENT, *_ys(5.1, 6.0, 7.0)]},
        [(1, 2, IN, False)],
    ),
    (
        "id replaced in the band past the line (counted at the end), new id goes in",
        {1: _ys(3.0, 4.0, 5.1), 2: [*ABSENT, *_ys(5.2, 6.0, 7.0)]},
        [(1, 1, IN, False)],
    ),
    (
        "id replaced in the band, new id turns back out",
        {1: _ys(3.0, 4.0, 4.8), 2: [*ABSENT, *_ys(4.9, 4.0, 3.0)]},
        [],
    ),
    (
        "a new person 2 m from where one ended is someone else",
        {1: _ys(3.0, 4.0, 4.8), 2: [*ABSENT, *_ys(5.1, 6.0, 7.0, x=14.0)]},
        [],
    ),
    (
        "a person appearing in the band 2.2 s after one ended there is someone else",
        {1: _ys(3.0, 4.0, 4.8), 2: [*ABSENT * 6, *_ys(5.1, 6.0, 7.0)]},
        [],
    ),
]


@pytest.mark.parametrize(
    ("paths", "expected"), [case[1:] for case in HANDOVER_CASES], ids=[case[0] for case in HANDOVER_CASES]
)
def test_a_person_appearing_in_the_band_takes_over_one_who_ended_there(
    paths: dict[int, Sequence[tuple[float, float] | None]], expected: list[object]
) -> None:
    crossings, _, _ = _run(paths)
    assert crossings == expected


def test_staff_is_taken_over_at_the_door() -> None:
    # An employee's id is replaced at the door before their binding reached the new id: their entry is staff's.
    kim = PersonIdentity(employee_id=7, display_name="Kim", level=1)
    crossings, _, _ = _run({1: _ys(3.0, 4.0, 4.8), 2: [*ABSENT, *_ys(5.1, 6.0, 7.0)]}, identities={1: kim})
    assert crossings == [(1, 2, IN, True)]


def test_staff_crossings_are_marked() -> None:
    kim = PersonIdentity(employee_id=7, display_name="Kim", level=1)
    crossings, _, _ = _run({1: _ys(3.0, 4.0, 6.0), 2: _ys(3.0, 4.0, 6.0, x=13.0)}, identities={2: kim})
    assert crossings == [(1, 1, IN, False), (1, 2, IN, True)]


def test_counted_occupancy_never_below_zero() -> None:
    # Two walk out that were never counted in (the store opened with them inside), then one walks in.
    _, occupancy, _ = _run(
        {1: _ys(7.0, 6.0, 4.0, 3.0), 2: _ys(7.0, 6.0, 4.0, 3.0, x=13.0), 3: _ys(3.0, 3.0, 3.0, 3.0, 4.0, 6.0)}
    )
    assert occupancy[3] == 0
    assert occupancy[-1] == 1


def test_counted_occupancy_resets_at_closing_time() -> None:
    t0 = datetime.fromtimestamp(us(0) / 1e6, UTC)
    closing_s = (
        t0.hour * 3600 + t0.minute * 60 + t0.second + 1
    ) % 86_400  # 1 s after the first frame or less
    analytics = SiteAnalytics(site_config(lines=(DOOR,), closing_time_s=closing_s))
    path = _ys(3.0, 4.0, 6.0, 7.0)
    counted = [analytics.update(frame(k * 0.1, {1: p}), {}).counted_occupancy for k, p in enumerate(path)]
    assert counted[-1] == 1
    after = analytics.update(frame(2.5, {1: (12.0, 7.0)}), {})
    assert after.counted_occupancy == 0


@pytest.mark.parametrize(
    ("zone", "t", "closing_s", "expected"),
    [
        ("UTC", "2026-03-01T10:00:00+00:00", 22 * 3600, "2026-03-01T22:00:00+00:00"),
        ("UTC", "2026-03-01T23:00:00+00:00", 22 * 3600, "2026-03-02T22:00:00+00:00"),
        ("Europe/Paris", "2026-03-01T10:00:00+00:00", 22 * 3600, "2026-03-01T21:00:00+00:00"),
        ("Europe/Paris", "2026-03-29T10:00:00+00:00", 22 * 3600, "2026-03-29T20:00:00+00:00"),  # summer time
        ("UTC", "2026-03-01T22:00:00+00:00", 22 * 3600, "2026-03-02T22:00:00+00:00"),  # strictly after
    ],
)
def test_next_closing(zone: str, t: str, closing_s: int, expected: str) -> None:
    from zoneinfo import ZoneInfo

    t_us = int(datetime.fromisoformat(t).timestamp() * 1e6)
    assert next_closing_us(t_us, closing_s, ZoneInfo(zone)) == int(
        datetime.fromisoformat(expected).timestamp() * 1e6
    )


def test_capacity_events() -> None:
    analytics = SiteAnalytics(site_config(lines=(DOOR,), capacity=1))
    events = []
    paths = {
        1: _ys(3.0, 4.0, 6.0, 7.0, 7.0, 7.0, 7.0, 7.0),
        2: _ys(3.0, 3.0, 3.0, 4.0, 6.0, 4.0, 3.0, 3.0, x=13.0),
    }
    for k in range(8):
        update = analytics.update(frame(k * 0.1, {g: p[k] for g, p in paths.items()}), {})
        events += [(e.over, e.occupancy, e.capacity) for e in update.capacity_events]
    assert events == [(True, 2, 1), (False, 1, 1)]


def test_capacity_from_fused_occupancy_without_entrances() -> None:
    analytics = SiteAnalytics(site_config(capacity=1))
    update = analytics.update(frame(0.0, {1: (1.0, 1.0), 2: (2.0, 2.0)}), {})
    assert [(e.over, e.occupancy) for e in update.capacity_events] == [(True, 2)]


def test_a_redrawn_line_starts_again() -> None:
    analytics = SiteAnalytics(site_config(lines=(DOOR,)))
    analytics.update(frame(0.0, {1: (12.0, 3.0)}), {})
    analytics.update(frame(0.1, {1: (12.0, 4.9)}), {})
    analytics.reconfigure(
        site_config(lines=(dataclasses.replace(DOOR, name="Main door"),))
    )  # same points: kept
    analytics.update(frame(0.2, {1: (12.0, 5.1)}), {})
    kept = analytics.update(frame(0.3, {1: (12.0, 6.0)}), {})
    assert [c.direction for c in kept.crossings] == [IN]
    moved = dataclasses.replace(DOOR, points_m=((10.0, 8.0), (14.0, 8.0)))
    analytics.reconfigure(site_config(lines=(moved,)))
    assert (
        analytics.update(frame(0.4, {1: (12.0, 7.5)}), {}).crossings == []
    )  # no passage seen of the new line


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ((CountingLine(1, "one point", ((0.0, 0.0),)),), "invalid_line"),
        ((CountingLine(1, "nan", ((0.0, 0.0), (float("nan"), 1.0))),), "invalid_line"),
        ((CountingLine(1, "repeated point", ((0.0, 0.0), (0.0, 0.01))),), "invalid_line"),
        ((CountingLine(1, "no band", ((0.0, 0.0), (1.0, 0.0)), hysteresis_m=0.0),), "invalid_line"),
        ((CountingLine(1, "handover", ((0.0, 0.0), (1.0, 0.0)), handover_s=-1.0),), "invalid_line"),
        ((CountingLine(1, "handover", ((0.0, 0.0), (1.0, 0.0)), handover_m=float("inf")),), "invalid_line"),
        ((DOOR, dataclasses.replace(DOOR, name="again")), "duplicate_line"),
    ],
)
def test_bad_lines(lines: tuple[CountingLine, ...], code: str) -> None:
    with pytest.raises(AnalyticsConfigError) as error:
        SiteAnalytics(site_config(lines=lines))
    assert error.value.code == code


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"closing_time_s": 86_400}, "invalid_threshold"),
        ({"capacity": 0}, "invalid_threshold"),
        ({"timezone": "Mars/Olympus"}, "invalid_timezone"),
    ],
)
def test_bad_door_settings(changes: dict[str, object], code: str) -> None:
    with pytest.raises(AnalyticsConfigError) as error:
        SiteAnalytics(site_config(**changes))
    assert error.value.code == code
    assert SITE == 3
