"""Distancing: close contacts and social-distancing violations between pairs of persons.

A pair is *close* in a frame when both are present and their distance is below ``distancing_distance_m`` (D),
after an optional exponential smoothing of each pair's distance (``distancing_smoothing_s``). A contact starts at
the first close frame and survives non-close frames while ``t - last_close <= distancing_gap_s``; it ends at the
first frame beyond that (or when either person leaves the frame) with end = last close frame. A contact becomes a
**violation** at the first frame where ``last_close - start >= distancing_min_duration_s`` (T)
(``violations_started``); active violations are re-sent every ``violation_update_interval_s``
(``violations_updated``) and once more when they end (``violations_ended``). ``min_distance_m`` is the smallest
close distance. A person's contacts are the distinct persons they had a violation with during their visit.

Cost: the candidate pairs of a frame come from a k-d tree (``scipy.spatial.cKDTree.query_pairs``: O(n log n + k)
for n persons and k pairs within reach) above a few dozen persons, from the all-pairs distance matrix below (a
bounded cost, faster there). The persons are taken in global-id order, so that a pair's rank among the frame's
pairs is its pair code's: the k pairs are put in order by their small integer ranks (``ascending_ranks``: marked
in an n x n table of flags where k is a good share of n², sorted otherwise), and the pairs followed live in one
table sorted by pair code (``PairTable``: the smoothed distance and the open contact side by side), looked up once
per frame (O(k + K) for the K pairs followed: one merge of two sorted runs) and grown in place around the rows
kept. At a bounded crowd density k and K grow linearly with n, so a frame costs O(n log n); in a crowd packed on a
fixed floor they grow with n², and so does the cost. A frame repeating the last one (same time, persons and
positions) costs nothing (``Distancing.update``); the violation records re-sent every
``violation_update_interval_s`` are built without the frozen dataclass's __init__ (``violation_records``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial import cKDTree

from server.analytics.geometry import BoolArray, FloatArray, IntArray
from server.analytics.types import AnalyticsConfig, DistancingViolation

_EMPTY_INT: IntArray = np.zeros(0, dtype=np.int64)
_PAIR_SHIFT = np.int64(1 << 32)
# Pairs up to this far beyond the distancing threshold are followed when distances are smoothed.
_SMOOTHING_MARGIN_M = 0.5
# Above this many persons a k-d tree finds the close pairs faster than the all-pairs distance matrix (measured:
# 160 persons 34 us vs 318 us; 50 persons about equal).
KD_TREE_MIN_PERSONS = 64
# Rows of pairs no longer followed are dropped from the table once they are this share of it (until then they
# cost a little room and nothing else: a row not followed reads as absent).
_COMPACT_SHARE = 0.25
# ``ascending_ranks`` marks the ranks in a table of flags while it has at most this many per rank (measured: a
# flag costs about 0.12 ns to clear and read back, a rank 15-35 ns to sort).
_FLAGS_PER_RANK = 128
# ``PairTable.seen_us`` of a pair without a smoothed distance (far enough in the past for any gap: t - it cannot
# overflow).
_UNSMOOTHED = np.int64(np.iinfo(np.int64).min // 2)


def pairs_within(xy: FloatArray, reach_m: float) -> tuple[IntArray, IntArray]:
    """Index pairs (i < j) of the points closer than `reach_m`, in ascending order of (i, j)."""
    first, second, _, _ = pair_offsets(xy, reach_m)
    return first, second


def pair_offsets(xy: FloatArray, reach_m: float) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """``pairs_within``'s pairs (i < j, ascending) and their offsets ``x_i - x_j``, ``y_i - y_j`` (computed once:
    the search's own test needs them, and so do the pairs' distances)."""
    count = xy.shape[0]
    if count >= KD_TREE_MIN_PERSONS:
        # Built unbalanced and without shrinking the nodes to their points: built faster, the same pairs.
        tree = cKDTree(xy, balanced_tree=False, compact_nodes=False)
        # The tree takes the pairs at the reach too, and rounds its distances its own way: proposed a hair
        # beyond, decided by the matrix's own test below (a pair exactly D apart is not close, whatever the crowd).
        pairs = tree.query_pairs(reach_m * (1.0 + 1e-9) + 1e-12, output_type="ndarray")
        # The tree gives them in its own order: ordered by their rank i * n + j.
        rank = pairs[:, 0].astype(np.int64) * count
        rank += pairs[:, 1]
        rank = ascending_ranks(rank, count * count)
        first = rank // count
        second = rank - first * count
        x, y = xy[:, 0].copy(), xy[:, 1].copy()  # contiguous: gathered faster than rows
        dx = x[first] - x[second]
        dy = y[first] - y[second]
        within = dx * dx + dy * dy < reach_m * reach_m
        if within.all():  # the usual case: the tree's slack only matters for pairs at the reach itself
            return first, second, dx, dy
        return first[within], second[within], dx[within], dy[within]
    dx_all = xy[:, 0:1] - xy[:, 0]
    dy_all = xy[:, 1:2] - xy[:, 1]
    first, second = np.nonzero(dx_all * dx_all + dy_all * dy_all < reach_m * reach_m)  # row-major: ascending
    upper = first < second
    first, second = first[upper].astype(np.int64), second[upper].astype(np.int64)
    return first, second, dx_all[first, second], dy_all[first, second]


def ascending_ranks(rank: IntArray, bound: int) -> IntArray:
    """``rank`` (distinct integers in ``[0, bound)``) in ascending order: marked in a table of ``bound``
    flags and read back in order where that table is small against their number (a packed crowd: 50,000 pairs
    of 400 persons, 1.7 ms sorted, 0.12 ms marked), sorted otherwise (a sparse crowd, where the flags would
    cost more than the sort). ``rank`` may be reordered in place."""
    if bound <= _FLAGS_PER_RANK * rank.size:
        flags = np.zeros(bound, dtype=np.bool_)
        flags[rank] = True
        ascending: IntArray = np.flatnonzero(flags)
        return ascending
    rank.sort()
    return rank


def smoothing_weight(elapsed_us: IntArray, time_constant_us: float) -> FloatArray:
    """The weight ``1 - exp(-elapsed / time constant)`` of a new distance in its pair's smoothed one, per
    element of ``elapsed_us``. Mostly every pair was last smoothed in the previous frame: then one weight, of
    shape (1,), computed by the same array expression (the same bits as computed per element; a test holds
    numpy to it), stands for all (an exponential less per pair)."""
    if elapsed_us.size > 1 and elapsed_us.min() == elapsed_us.max():
        elapsed_us = elapsed_us[:1]
    weight: FloatArray = 1.0 - np.exp(-elapsed_us / time_constant_us)
    return weight


class PairTable:
    """The pairs followed, as parallel arrays sorted by pair code ``low_gid * 2**32 + high_gid``: per pair its
    smoothed distance and the last frame it was smoothed (``seen_us``; ``_UNSMOOTHED`` for none), and its contact
    while one is open (``open``: start, last close frame, smallest close distance, violation, last report). A
    row with neither a smoothed distance nor an open contact reads as absent until the table drops it."""

    def __init__(self) -> None:
        self.code: IntArray = _EMPTY_INT
        self.value: FloatArray = np.zeros(0)
        self.seen_us: IntArray = _EMPTY_INT
        self.open: BoolArray = np.zeros(0, dtype=np.bool_)
        self.start_us: IntArray = _EMPTY_INT
        self.last_us: IntArray = _EMPTY_INT
        self.min_m: FloatArray = np.zeros(0)
        self.violation: BoolArray = np.zeros(0, dtype=np.bool_)
        self.reported_us: IntArray = _EMPTY_INT

    @property
    def size(self) -> int:
        return int(self.code.shape[0])

    def locate(self, codes: IntArray) -> tuple[BoolArray, IntArray, IntArray | None]:
        """For sorted unique ``codes``: which have a row, those rows (in the order of ``codes``), and the order
        that puts the table and all of ``codes`` together without the codes found (None when all are found: for
        ``insert``). Both runs sorted: one stable sort merges them in linear time, and a code found sits right
        after its row (cheaper than a binary search of each)."""
        size = self.size
        if size == 0:
            return np.zeros(codes.shape, dtype=np.bool_), _EMPTY_INT, np.arange(codes.size)
        together = np.concatenate((self.code, codes))
        order = np.argsort(together, kind="stable")
        ordered = together[order]
        repeated = np.flatnonzero(ordered[1:] == ordered[:-1])  # a row's code, then the same code of `codes`
        found = np.zeros(codes.shape, dtype=np.bool_)
        found[order[repeated + 1] - size] = True
        rows = order[repeated]
        if repeated.size == codes.size:
            return found, rows, None
        keep = np.ones(together.shape, dtype=np.bool_)
        keep[repeated + 1] = False
        return found, rows, order[keep]

    def insert(
        self,
        order: IntArray,
        codes: IntArray,
        value: FloatArray,
        t_us: int,
        smoothed: bool,
        close: BoolArray,
        distance_m: FloatArray,
    ) -> None:
        """Rows for the codes of the last ``locate`` that had none (``order``: its merging order; the other
        arguments cover all its codes): smoothed now when ``smoothed`` (``value``), a contact opened where
        ``close``."""
        size = self.size
        slots = np.flatnonzero(order >= size)  # where the new rows go (the old keep their order around them)
        fresh = order[slots] - size  # and which of `codes` each is
        old = np.ones(order.shape, dtype=np.bool_)
        old[slots] = False

        def merged(current: np.ndarray, incoming: np.ndarray | int | bool) -> np.ndarray:
            out = np.empty(order.shape, dtype=current.dtype)
            out[slots] = incoming
            out[old] = current
            return out

        self.code = merged(self.code, codes[fresh])
        self.value = merged(self.value, value[fresh])
        self.seen_us = merged(self.seen_us, t_us if smoothed else int(_UNSMOOTHED))
        self.open = merged(self.open, close[fresh])
        self.start_us = merged(self.start_us, t_us)
        self.last_us = merged(self.last_us, t_us)
        self.min_m = merged(self.min_m, distance_m[fresh])
        self.violation = merged(self.violation, False)
        self.reported_us = merged(self.reported_us, 0)

    def involving(self, gids: IntArray) -> BoolArray:
        """Mask of the rows of pairs with any of ``gids``."""
        low = self.code // _PAIR_SHIFT
        high = self.code % _PAIR_SHIFT
        result: BoolArray = np.isin(low, gids) | np.isin(high, gids)
        return result

    def keep(self, mask: BoolArray) -> None:
        self.code = self.code[mask]
        self.value = self.value[mask]
        self.seen_us = self.seen_us[mask]
        self.open = self.open[mask]
        self.start_us = self.start_us[mask]
        self.last_us = self.last_us[mask]
        self.min_m = self.min_m[mask]
        self.violation = self.violation[mask]
        self.reported_us = self.reported_us[mask]

    def records(self, rows: IntArray, *, ended: bool) -> list[DistancingViolation]:
        """The violation records of the contacts of `rows` (``end_us`` set when `ended`)."""
        if rows.size == 0:
            return []
        codes = self.code[rows]
        return violation_records(
            (codes >> 32).tolist(),
            (codes & 0xFFFFFFFF).tolist(),
            self.start_us[rows].tolist(),
            self.last_us[rows].tolist(),
            self.min_m[rows].tolist(),
            ended=ended,
        )


# What `violation_records` writes, in the order of the dataclass's fields.
_VIOLATION_FIELDS = ("person_a", "person_b", "start_us", "last_close_us", "end_us", "min_distance_m")
# Whether `violation_records` may fill the instances' __dict__ itself: DistancingViolation is still a frozen
# dataclass of exactly those fields, with no __post_init__ and no slots, so that __init__ does nothing else.
_FILL_DIRECTLY = (
    tuple(field.name for field in dataclasses.fields(DistancingViolation)) == _VIOLATION_FIELDS
    and not hasattr(DistancingViolation, "__post_init__")
    and "__slots__" not in vars(DistancingViolation)
)


def violation_records(
    person_a: list[int],
    person_b: list[int],
    start_us: list[int],
    last_close_us: list[int],
    min_distance_m: list[float],
    *,
    ended: bool,
) -> list[DistancingViolation]:
    """One DistancingViolation per position of the lists (``end_us`` = ``last_close_us`` when `ended`, else None),
    equal in every field to what its constructor builds. A frozen dataclass's __init__ sets each field through
    ``object.__setattr__`` (1.7 us a record on the development VM, and a crowd re-sends hundreds a frame):
    this fills each new instance's __dict__ instead (0.4 us), which is all that __init__ does for this class
    (``_FILL_DIRECTLY``; the constructor is used should the class change)."""
    rows = zip(person_a, person_b, start_us, last_close_us, min_distance_m, strict=True)
    if not _FILL_DIRECTLY:
        return [
            DistancingViolation(low, high, start, last, last if ended else None, distance)
            for low, high, start, last, distance in rows
        ]
    new = object.__new__
    out: list[DistancingViolation] = []
    append = out.append
    for low, high, start, last, distance in rows:
        record = new(DistancingViolation)
        fields = record.__dict__
        fields["person_a"] = low
        fields["person_b"] = high
        fields["start_us"] = start
        fields["last_close_us"] = last
        fields["end_us"] = last if ended else None
        fields["min_distance_m"] = distance
        append(record)
    return out


class Distancing:
    """The pairs followed (smoothed distances and open contacts) and each person's violation partners."""

    def __init__(self, config: AnalyticsConfig) -> None:
        # The last frame taken (time, global ids, positions), while nothing but frames came since.
        self._last_frame: tuple[int, IntArray, FloatArray] | None = None
        self.configure(config)
        self.pairs = PairTable()
        self._partners: dict[int, set[int]] = {}
        # `contacts_per_person` as last built; None once the partners changed. Every frame's update carries it,
        # and it changes only when a violation starts or a person leaves: not rebuilt per frame.
        self._contacts: dict[int, int] | None = None

    def configure(self, config: AnalyticsConfig) -> None:
        self._last_frame = None
        self._limit_m = config.distancing_distance_m
        self._gap_us = int(config.distancing_gap_s * 1e6)
        self._smoothing_us = config.distancing_smoothing_s * 1e6
        self._min_violation_us = int(config.distancing_min_duration_s * 1e6)
        self._update_interval_us = int(config.violation_update_interval_s * 1e6)

    def contacts_per_person(self) -> dict[int, int]:
        """Global id -> the number of distinct persons they had a violation with (persons present). The same
        mapping while it does not change: read it, do not modify it."""
        if self._contacts is None:
            self._contacts = {gid: len(partners) for gid, partners in self._partners.items() if partners}
        return self._contacts

    def forget(self, gone: IntArray, ended: list[DistancingViolation]) -> None:
        """The persons `gone` left the frame: their contacts end (violations reported in `ended`). Their pairs'
        smoothed distances are kept for the gap, as for anybody missed in a frame."""
        if gone.size:
            self._last_frame = None
        for gid in gone.tolist():
            if self._partners.pop(gid, None):
                self._contacts = None
        table = self.pairs
        if table.open.any():
            leaving = table.open & table.involving(np.unique(gone))
            ended.extend(table.records(np.flatnonzero(leaving & table.violation), ended=True))
            table.open[leaving] = False
            table.violation[leaving] = False

    def update(
        self,
        t_us: int,
        xy: FloatArray,
        global_ids: IntArray,
        started: list[DistancingViolation],
        updated: list[DistancingViolation],
        ended: list[DistancingViolation],
    ) -> None:
        """Take the positions of one frame: contacts refreshed, opened, become violations, ended.

        A frame that repeats the last one taken (the same time, persons and positions, nothing configured or
        forgotten in between: in the simulated store half the TrackFrames, the second camera's of an instant
        both filmed, fuse so) changes nothing and reports nothing, so it is not worked through. Its candidate
        pairs are the last frame's, each with a row smoothed at that very time (elapsed 0: weight 0, the
        smoothed distance unchanged, close exactly where it was; unsmoothed, all close again); a close pair's
        contact is open, with this time as its last close frame and this distance in its minimum; the
        contacts that could become violations, were due or finished did so at that frame and are marked so;
        and no smoothed distance is older than the gap that was not given up then."""
        table = self.pairs
        last = self._last_frame
        if (
            last is not None
            and last[0] == t_us
            and np.array_equal(last[1], global_ids)
            and np.array_equal(last[2], xy)
        ):
            return
        self._last_frame = (t_us, global_ids.copy(), xy.copy())
        if xy.shape[0] >= 2:
            self._follow(t_us, xy, global_ids)
        if not table.open.any():
            self._compact()
            return
        last_us = table.last_us
        contact = table.open
        close_now = contact & (last_us == t_us)
        finished = contact & ((t_us - last_us) > self._gap_us)  # never a pair close now: the gap is >= 0
        becomes = close_now & ~table.violation & ((last_us - table.start_us) >= self._min_violation_us)
        due = table.violation & ~finished & ((t_us - table.reported_us) >= self._update_interval_us)
        if becomes.any():
            for violation in table.records(np.flatnonzero(becomes), ended=False):
                started.append(violation)
                low, high = violation.person_a, violation.person_b
                self._partners.setdefault(low, set()).add(high)
                self._partners.setdefault(high, set()).add(low)
            self._contacts = None
        if due.any():
            updated.extend(table.records(np.flatnonzero(due), ended=False))
        table.reported_us[becomes | due] = t_us
        table.violation |= becomes
        if finished.any():
            ended.extend(table.records(np.flatnonzero(finished & table.violation), ended=True))
            table.open[finished] = False
            table.violation[finished] = False
        self._compact()

    def _follow(self, t_us: int, xy: FloatArray, global_ids: IntArray) -> None:
        """The frame's candidate pairs: their distances (smoothed), and their contacts refreshed or opened."""
        limit = self._limit_m
        smoothing = self._smoothing_us > 0
        # With smoothing, pairs a little beyond D are followed too, so that their smoothed distance exists.
        reach = limit + (_SMOOTHING_MARGIN_M if smoothing else 0.0)
        # In global-id order, pairs (i < j) in ascending order are in ascending pair code, as the table is.
        by_id = np.argsort(global_ids)
        gids = global_ids[by_id]
        points = xy[by_id]
        first, second, dx, dy = pair_offsets(points, reach)
        if first.size == 0:
            return
        codes = gids[first] * _PAIR_SHIFT + gids[second]
        distance = np.hypot(dx, dy)
        table = self.pairs
        found, rows, merging = table.locate(codes)
        # Usually every candidate already has a row (in a packed crowd 1 frame in 2 brings new pairs, 1 % of
        # them): then `rows` is in the order of `codes`, and nothing needs picking out by `found`.
        every = merging is None
        known_distance = distance if every else distance[found]
        value = distance
        if smoothing:
            # A smoothed distance not renewed for longer than the gap is given up now, whatever the gap becomes
            # later; one kept while smoothing was off (or while no pair was a candidate) resumes.
            seen = table.seen_us
            seen[seen < t_us - self._gap_us] = _UNSMOOTHED  # t - seen > gap, one pass less
            previous_us = seen[rows]
            followed = previous_us != _UNSMOOTHED
            every_followed = every and bool(followed.all())
            elapsed_us = previous_us if every_followed else previous_us[followed]
            elapsed_us = t_us - elapsed_us
            weight = smoothing_weight(elapsed_us, self._smoothing_us)
            if every_followed:
                before = table.value[rows]
                value = before + weight * (distance - before)
                table.value[rows] = value
            else:
                value = distance.copy()
                recent = rows[followed]
                targets = np.flatnonzero(found)[followed]
                value[targets] = table.value[recent] + weight * (value[targets] - table.value[recent])
                table.value[rows] = value if every else value[found]
            seen[rows] = t_us
            close: BoolArray = value < limit
        else:
            close = np.ones(codes.shape, dtype=np.bool_)
        # Known rows close now: an open contact is refreshed, any other (none yet, ended, or not followed) opens.
        close_known = close if every else close[found]
        refreshed = close_known & table.open[rows]
        opened = close_known & ~refreshed
        if refreshed.any():
            again = rows[refreshed]
            table.last_us[again] = t_us
            table.min_m[again] = np.minimum(table.min_m[again], known_distance[refreshed])
        if opened.any():
            anew = rows[opened]
            table.open[anew] = True
            table.start_us[anew] = t_us
            table.last_us[anew] = t_us
            table.min_m[anew] = known_distance[opened]
            table.violation[anew] = False
            table.reported_us[anew] = 0
        if merging is not None:
            table.insert(merging, codes, value, t_us, smoothing, close, distance)

    def _compact(self) -> None:
        """Drop the rows of pairs no longer followed (no smoothed distance, no open contact) once they are a good
        share of the table."""
        table = self.pairs
        if table.size == 0:
            return
        stale = table.seen_us == _UNSMOOTHED
        stale &= ~table.open
        if np.count_nonzero(stale) > _COMPACT_SHARE * table.size:
            table.keep(~stale)
