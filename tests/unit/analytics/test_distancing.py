"""Distancing alone (D = 2 m, T = 5 s, gap 1 s): contacts, violations and the close-pair search."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from server.analytics.distancing import (
    _FILL_DIRECTLY,
    _VIOLATION_FIELDS,
    KD_TREE_MIN_PERSONS,
    Distancing,
    ascending_ranks,
    pairs_within,
    smoothing_weight,
    violation_records,
)
from server.analytics.types import AnalyticsConfig, DistancingViolation
from tests.unit.analytics.helpers import site_config, us


def _run(distances: list[float | None], step_s: float = 0.5) -> tuple[list[int], list[int], list[int]]:
    """Persons 1 and 2 `distance` apart every step (None: person 2 missing, and so gone)."""
    distancing = Distancing(site_config())
    started: list[DistancingViolation] = []
    updated: list[DistancingViolation] = []
    ended: list[DistancingViolation] = []
    for k, distance in enumerate(distances):
        if distance is None:
            distancing.forget(np.array([2], dtype=np.int64), ended)
            xy, gids = np.array([[0.0, 0.0]]), np.array([1], dtype=np.int64)
        else:
            xy, gids = np.array([[0.0, 0.0], [distance, 0.0]]), np.array([1, 2], dtype=np.int64)
        distancing.update(us(k * step_s), xy, gids, started, updated, ended)
    return (
        [v.start_us for v in started],
        [v.last_close_us for v in ended],
        list(distancing.contacts_per_person()),
    )


@pytest.mark.parametrize(
    ("distances", "started", "ended", "partners"),
    [
        ([1.0] * 10, [], [], []),  # 4.5 s: not yet a violation
        ([1.0] * 11, [us(0)], [], [1, 2]),  # 5 s close: a violation
        (
            [1.0] * 11 + [3.0] * 4,
            [us(0)],
            [us(5.0)],
            [1, 2],
        ),  # ends after the 1 s gap, at the last close frame
        ([1.0] * 6 + [3.0] + [1.0] * 5, [us(0)], [], [1, 2]),  # a 0.5 s gap does not split it
        ([1.0] * 6 + [3.0] * 3 + [1.0] * 11, [us(4.5)], [], [1, 2]),  # a 1.5 s gap does
        ([1.0] * 11 + [None], [us(0)], [us(5.0)], [1]),  # a person leaves: it ends at once
        ([2.0] * 12, [], [], []),  # exactly D is not close
    ],
)
def test_distancing_table(
    distances: list[float | None], started: list[int], ended: list[int], partners: list[int]
) -> None:
    assert _run(distances) == (started, ended, partners)


@pytest.mark.parametrize("persons", [2, 30, KD_TREE_MIN_PERSONS - 1, KD_TREE_MIN_PERSONS, 200, 1000])
def test_close_pairs_are_the_same_with_the_matrix_and_the_kd_tree(persons: int) -> None:
    rng = np.random.default_rng(persons)
    xy = rng.uniform(0.0, np.sqrt(persons * 10.0), size=(persons, 2))
    first, second = pairs_within(xy, 2.0)
    found = list(zip(first.tolist(), second.tolist(), strict=True))
    assert found == sorted(found)  # in ascending (i, j) order: the pair table's order in global-id order
    distance = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    i, j = np.nonzero(np.triu(distance < 2.0, k=1))
    assert set(found) == set(zip(i.tolist(), j.tolist(), strict=True))


class _PlainDistancing:
    """The rules of the module docstring written the straightforward way (a dict per pair, every pair of every
    frame), to hold the vectorised table to."""

    def __init__(
        self, limit_m: float, gap_s: float, smoothing_s: float, min_s: float, every_s: float
    ) -> None:
        self.limit, self.gap, self.tau = limit_m, int(gap_s * 1e6), smoothing_s * 1e6
        self.min_us, self.every_us = int(min_s * 1e6), int(every_s * 1e6)
        self.smoothed: dict[tuple[int, int], tuple[float, int]] = {}  # pair -> (distance, last candidate)
        # pair -> [start, last close, min distance, violation, last report]
        self.contacts: dict[tuple[int, int], list[float]] = {}

    def _record(self, pair: tuple[int, int], ended: bool) -> tuple[int, int, int, int, int | None, float]:
        start, last, least = self.contacts[pair][:3]
        return (*pair, int(start), int(last), int(last) if ended else None, least)

    def forget(self, gone: set[int], ended: list[object]) -> None:
        for pair in sorted(self.contacts):
            if pair[0] in gone or pair[1] in gone:
                if self.contacts[pair][3]:
                    ended.append(self._record(pair, ended=True))
                del self.contacts[pair]

    def update(self, t: int, xy: np.ndarray, gids: list[int], out: tuple[list[object], ...]) -> None:
        started, updated, ended = out
        reach = self.limit + (0.5 if self.tau > 0 else 0.0)
        for i, j in itertools.combinations(range(len(gids)), 2):
            raw = float(np.hypot(xy[i, 0] - xy[j, 0], xy[i, 1] - xy[j, 1]))
            if not raw * raw < reach * reach:
                continue
            pair = (min(gids[i], gids[j]), max(gids[i], gids[j]))
            value = raw
            if self.tau > 0:
                old = self.smoothed.get(pair)
                if old is not None and t - old[1] <= self.gap:
                    weight = 1.0 - np.exp(-(t - old[1]) / self.tau)
                    value = old[0] + weight * (raw - old[0])
                self.smoothed[pair] = (value, t)
                if not value < self.limit:
                    continue
            contact = self.contacts.get(pair)
            if contact is None:
                self.contacts[pair] = [t, t, raw, False, 0]
            else:
                contact[1], contact[2] = t, min(contact[2], raw)
        for pair in sorted(self.contacts):
            start, last, _, violation, reported = self.contacts[pair]
            finished = t - last > self.gap
            if last == t and not violation and last - start >= self.min_us:
                started.append(self._record(pair, ended=False))
                self.contacts[pair][3:] = [True, t]
            elif violation and not finished and t - reported >= self.every_us:
                updated.append(self._record(pair, ended=False))
                self.contacts[pair][4] = t
            if finished:
                if self.contacts[pair][3]:
                    ended.append(self._record(pair, ended=True))
                del self.contacts[pair]


def _as_tuple(v: DistancingViolation) -> tuple[int, int, int, int, int | None, float]:
    return (v.person_a, v.person_b, v.start_us, v.last_close_us, v.end_us, v.min_distance_m)


@pytest.mark.parametrize("repeats", [False, True])
@pytest.mark.parametrize("smoothing_s", [0.0, 0.5])
@pytest.mark.parametrize("persons", [12, KD_TREE_MIN_PERSONS + 6])
def test_the_pair_table_gives_what_the_plain_rules_give(
    persons: int, smoothing_s: float, repeats: bool
) -> None:
    """Random walks in a small room (pairs come close, part, are missed for a frame, persons leave and new ones
    come): every violation started, updated and ended, in order and to the bit, as the dict-per-pair rules.
    With `repeats`, every other frame has the persons and positions of the one before (as two cameras filmed
    at the same instants give), at the same time or 50 ms later: the pairs reused, not searched again."""
    config = site_config(
        distancing_smoothing_s=smoothing_s, distancing_min_duration_s=1.0, violation_update_interval_s=0.5
    )
    fast = Distancing(config)
    plain = _PlainDistancing(
        config.distancing_distance_m,
        config.distancing_gap_s,
        smoothing_s,
        1.0,
        config.violation_update_interval_s,
    )
    rng = np.random.default_rng(persons + int(smoothing_s * 10))
    side = float(np.sqrt(persons * 3.0))
    xy = rng.uniform(0.0, side, size=(persons, 2))
    gids = rng.permutation(np.arange(1, persons + 1)).astype(
        np.int64
    )  # not in id order, as fusion gives them
    next_gid = persons + 1
    previous: set[int] = set()
    counts = [0, 0, 0]
    present = np.ones(persons, dtype=np.bool_)
    for k in range(300):
        repeated = repeats and k % 2 == 1
        if not repeated:
            xy = np.clip(xy + rng.normal(0.0, 0.15, size=xy.shape), 0.0, side)
            if k % 40 == 39:  # somebody leaves, somebody new comes in
                gids = gids.copy()
                gids[rng.integers(persons)] = next_gid
                next_gid += 1
            present = rng.random(persons) > (0.05 if k % 50 < 25 else 0.4)  # missed now and then, or often
        frame_gids = gids[present]
        gone = previous - set(frame_gids.tolist())
        previous = set(frame_gids.tolist())
        fast_out: tuple[list[DistancingViolation], ...] = ([], [], [])
        plain_out: tuple[list[object], ...] = ([], [], [])
        if gone:
            fast.forget(np.array(sorted(gone), dtype=np.int64), fast_out[2])
            plain.forget(gone, plain_out[2])
        t_us = us((k - 1) * 0.1 + (0.05 if k % 4 == 3 else 0.0)) if repeated else us(k * 0.1)
        fast.update(t_us, xy[present], frame_gids, *fast_out)
        plain.update(t_us, xy[present], frame_gids.tolist(), plain_out)
        for kind in range(3):
            assert [_as_tuple(v) for v in fast_out[kind]] == plain_out[kind], (k, kind)
            counts[kind] += len(plain_out[kind])
    assert min(counts) > 0  # every kind of record happened


def _violations(
    distancing: Distancing, steps: list[tuple[float, dict[int, tuple[float, float]], AnalyticsConfig | None]]
) -> list[list[tuple[int, int, int, int | None]]]:
    """Per step (t_s, {gid: position}, configuration to take first or None): the violations started and ended,
    as (a, b, last close in us since 0, end)."""
    out = []
    for t_s, people, config in steps:
        if config is not None:
            distancing.configure(config)
        started: list[DistancingViolation] = []
        ended: list[DistancingViolation] = []
        gids = np.array(sorted(people), dtype=np.int64)
        xy = np.array([people[g] for g in gids.tolist()], dtype=np.float64)
        distancing.update(us(t_s), xy, gids, started, [], ended)
        out.append(
            [
                (v.person_a, v.person_b, v.last_close_us - us(0), v.end_us)
                for v in started + ended
                if v.person_a < 3
            ]
        )
    return out


def test_smoothing_switched_off_and_on_resumes_from_the_distance_smoothed_before() -> None:
    """An admin turns smoothing off and on again within the gap: the pair's smoothed distance is the one of
    before the switch (1.0 m at 0 s, not the raw 1.9 m of 0.5 s), so 2.4 m at 0.9 s smooths to 1.83 m: close."""
    on = site_config(distancing_smoothing_s=1.0, distancing_min_duration_s=0.0)
    off = dataclasses.replace(on, distancing_smoothing_s=0.0)
    far = {1: (0.0, 0.0), 2: (50.0, 0.0)}
    steps = [
        (0.0, {1: (0.0, 0.0), 2: (1.0, 0.0)}, None),
        (0.5, {1: (0.0, 0.0), 2: (1.9, 0.0)}, off),
        (0.9, {1: (0.0, 0.0), 2: (2.4, 0.0)}, on),
        (3.0, far, None),
    ]
    result = _violations(Distancing(on), steps)
    assert result == [[(1, 2, 0, None)], [], [], [(1, 2, us(0.9) - us(0), us(0.9))]]


def test_a_smoothed_distance_given_up_stays_given_up_when_the_gap_grows() -> None:
    """A pair not a candidate for longer than the gap (1 s) loses its smoothed distance; a gap raised to 5 s
    later does not bring it back: 2.1 m is then raw, not close (other pairs keep the table busy meanwhile)."""
    narrow = site_config(distancing_smoothing_s=1.0, distancing_min_duration_s=0.0)
    wide = dataclasses.replace(narrow, distancing_gap_s=5.0)
    cluster = {3: (30.0, 0.0), 4: (30.5, 0.0), 5: (30.0, 0.5), 6: (30.5, 0.5)}
    steps: list[tuple[float, dict[int, tuple[float, float]], AnalyticsConfig | None]] = [
        (0.0, {1: (0.0, 0.0), 2: (1.0, 0.0), **cluster}, None),
        (1.5, {1: (0.0, 0.0), 2: (9.0, 0.0), **cluster}, None),
        (2.0, {1: (0.0, 0.0), 2: (2.1, 0.0), **cluster}, wide),
        (9.0, {1: (0.0, 0.0), 2: (9.0, 0.0), **cluster}, None),
    ]
    result = _violations(Distancing(narrow), steps)
    assert result == [[(1, 2, 0, None)], [(1, 2, 0, us(0))], [], []]


@pytest.mark.parametrize("persons", [KD_TREE_MIN_PERSONS - 1, KD_TREE_MIN_PERSONS, 200])
def test_a_pair_exactly_the_distance_apart_is_not_close_in_any_crowd(persons: int) -> None:
    """Persons on a 2 m grid (D = 2 m, unsmoothed): neighbours exactly D apart are not closer than D, with the
    matrix or the k-d tree (which takes the pairs at its radius too); one pair a hair inside is."""
    side = int(np.ceil(np.sqrt(persons)))
    xy = np.array([[2.0 * (k % side), 2.0 * (k // side)] for k in range(persons)])
    xy[1, 0] -= 1e-9
    first, second = pairs_within(xy, 2.0)
    assert list(zip(first.tolist(), second.tolist(), strict=True)) == [(0, 1)]
    distancing = Distancing(site_config(distancing_min_duration_s=0.0))
    started: list[DistancingViolation] = []
    distancing.update(us(0), xy, np.arange(1, persons + 1, dtype=np.int64), started, [], [])
    assert [(v.person_a, v.person_b) for v in started] == [(1, 2)]


@pytest.mark.parametrize(
    ("count", "bound"),
    [
        (0, 10),
        (1, 1),
        (5, 5),  # every rank: the flags
        (50, 160_000),  # few ranks in a large bound: sorted
        (2_000, 160_000),  # a packed crowd: the flags
        (20_000, 160_000),
    ],
)
def test_ascending_ranks_sorts_distinct_ranks_whichever_way_it_takes(count: int, bound: int) -> None:
    rng = np.random.default_rng(count)
    rank = rng.choice(bound, size=count, replace=False).astype(np.int64)
    expected = np.sort(rank)
    result = ascending_ranks(rank.copy(), bound)
    assert result.dtype == np.int64
    assert result.tolist() == expected.tolist()


@pytest.mark.parametrize("ended", [False, True])
def test_violation_records_equal_what_the_constructor_builds(ended: bool) -> None:
    import copy

    lows, highs, starts, lasts = [1, 7, 2**31], [2, 9, 2**32 - 1], [0, 5, 10**15], [3, 6, 10**15 + 1]
    distances = [0.25, 1.9999999999999998, 0.0]
    records = violation_records(lows, highs, starts, lasts, distances, ended=ended)
    expected = [
        DistancingViolation(a, b, start, last, last if ended else None, distance)
        for a, b, start, last, distance in zip(lows, highs, starts, lasts, distances, strict=True)
    ]
    assert records == expected
    assert [repr(r) for r in records] == [repr(r) for r in expected]
    assert [hash(r) for r in records] == [hash(r) for r in expected]
    assert [vars(r) for r in records] == [vars(e) for e in expected]  # the same fields, in the same order
    assert [list(vars(r)) for r in records] == [list(vars(e)) for e in expected]
    assert [type(v) for r in records for v in vars(r).values()] == [
        type(v) for e in expected for v in vars(e).values()
    ]
    assert copy.deepcopy(records) == expected  # copied (and pickled) through __reduce_ex__ as the others
    assert [r.duration_s for r in records] == [r.duration_s for r in expected]
    with pytest.raises(dataclasses.FrozenInstanceError):
        records[0].person_a = 3  # type: ignore[misc]


def test_violation_records_fill_the_instances_while_the_class_lets_them() -> None:
    """The short cut is taken (the class is still the frozen six-field dataclass it was written for); a field
    added to DistancingViolation turns it off, and this test fails to say so."""
    assert _FILL_DIRECTLY
    assert [f.name for f in dataclasses.fields(DistancingViolation)] == list(_VIOLATION_FIELDS)


@pytest.mark.parametrize(
    "elapsed_us",
    [
        [100_000],
        [100_000] * 40,  # the usual frame: one weight for all
        [50_000, 100_000, 100_000, 950_000],
        list(range(1, 2_000_001, 997)),
    ],
)
def test_smoothing_weight_has_the_bits_of_the_per_element_formula(elapsed_us: list[int]) -> None:
    elapsed = np.array(elapsed_us, dtype=np.int64)
    weight = np.broadcast_to(smoothing_weight(elapsed, 0.5e6), elapsed.shape)
    each = [float(1.0 - np.exp(-np.array([e]) / 0.5e6)[0]) for e in elapsed_us]
    full = 1.0 - np.exp(-elapsed / 0.5e6)
    assert weight.tobytes() == full.tobytes()
    assert weight.tolist() == each


def _table_state(distancing: Distancing) -> list[bytes]:
    table = distancing.pairs
    columns = (table.code, table.value, table.seen_us, table.open, table.start_us, table.last_us, table.min_m)
    return [column.tobytes() for column in (*columns, table.violation, table.reported_us)]


@pytest.mark.parametrize("smoothing_s", [0.0, 0.5])
def test_a_frame_repeated_at_the_same_time_changes_and_reports_nothing(smoothing_s: float) -> None:
    """The same persons at the same places at the same time (the second camera's TrackFrame of an instant):
    no record, the table to the byte as it was; a frame at the same time with one person moved is worked
    through."""
    config = site_config(
        distancing_smoothing_s=smoothing_s, distancing_min_duration_s=1.0, violation_update_interval_s=0.5
    )
    distancing = Distancing(config)
    rng = np.random.default_rng(5)
    xy = rng.uniform(0.0, 6.0, size=(20, 2))
    gids = rng.permutation(np.arange(1, 21)).astype(np.int64)
    counts = [0, 0, 0]
    for k in range(40):
        xy = np.clip(xy + rng.normal(0.0, 0.1, size=xy.shape), 0.0, 6.0)
        first: tuple[list[DistancingViolation], ...] = ([], [], [])
        distancing.update(us(k * 0.1), xy, gids, *first)
        counts = [c + len(out) for c, out in zip(counts, first, strict=True)]
        before = _table_state(distancing)
        again: tuple[list[DistancingViolation], ...] = ([], [], [])
        distancing.update(us(k * 0.1), xy.copy(), gids.copy(), *again)
        assert again == ([], [], [])
        assert _table_state(distancing) == before
    assert min(counts) > 0  # violations started, were updated and ended meanwhile
    moved = xy.copy()
    moved[0] = moved[1]  # on top of another person: a contact opens now
    distancing.update(us(39 * 0.1), moved, gids, [], [], [])
    assert _table_state(distancing) != before


def test_a_repeated_frame_after_a_new_threshold_or_a_departure_is_worked_through() -> None:
    """Persons 1, 2 and 3 within 1.2 m of each other for 2 s (T = 5 s: no violation yet). The admin lowers T to
    1 s: the same frame again starts the violations at once. Person 3 is forgotten (their contacts end) and the
    same frame comes once more, 3 in it: their contacts open anew, from now."""
    config = site_config(distancing_min_duration_s=5.0)
    distancing = Distancing(config)
    xy = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, 1.0]])
    gids = np.array([1, 2, 3], dtype=np.int64)
    for k in range(5):
        distancing.update(us(k * 0.5), xy, gids, [], [], [])
    distancing.configure(dataclasses.replace(config, distancing_min_duration_s=1.0))
    started: list[DistancingViolation] = []
    distancing.update(us(2.0), xy, gids, started, [], [])
    assert [(v.person_a, v.person_b, v.start_us) for v in started] == [
        (1, 2, us(0)),
        (1, 3, us(0)),
        (2, 3, us(0)),
    ]
    ended: list[DistancingViolation] = []
    distancing.forget(np.array([3], dtype=np.int64), ended)
    assert [(v.person_a, v.person_b) for v in ended] == [(1, 3), (2, 3)]
    distancing.update(us(2.0), xy, gids, [], [], [])
    table = distancing.pairs
    assert table.open.tolist() == [True, True, True]
    assert table.start_us.tolist() == [us(0), us(2.0), us(2.0)]
