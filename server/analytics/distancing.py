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
pairs is its pair code's: the k pairs are ordered by sorting small integer keys (no permutation to apply), and
the pairs followed live in one table sorted by pair code (``PairTable``: the smoothed distance and the open
contact side by side), looked up once per frame (O(k log K) for the K pairs followed) and grown by merging two
sorted runs. At a bounded crowd density k and K grow linearly with n, so a frame costs O(n log n); in a crowd
packed on a fixed floor they grow with n², and so does the cost.
"""

from __future__ import annotations

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
        # The tree gives them in its own order: ordered by their rank i * n + j (sorting the ranks themselves
        # costs less than sorting the pairs by them and applying the permutation).
        rank = pairs[:, 0].astype(np.int64) * count
        rank += pairs[:, 1]
        rank.sort()
        first = rank // count
        second = rank - first * count
        x, y = xy[:, 0].copy(), xy[:, 1].copy()  # contiguous: gathered faster than rows
        dx = x[first] - x[second]
        dy = y[first] - y[second]
        within = dx * dx + dy * dy < reach_m * reach_m
        return first[within], second[within], dx[within], dy[within]
    dx_all = xy[:, 0:1] - xy[:, 0]
    dy_all = xy[:, 1:2] - xy[:, 1]
    first, second = np.nonzero(dx_all * dx_all + dy_all * dy_all < reach_m * reach_m)  # row-major: ascending
    upper = first < second
    first, second = first[upper].astype(np.int64), second[upper].astype(np.int64)
    return first, second, dx_all[first, second], dy_all[first, second]


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
        count = codes.size
        now = np.full(count, t_us, dtype=np.int64)
        seen = now if smoothed else np.full(count, _UNSMOOTHED, dtype=np.int64)
        self.code = np.concatenate((self.code, codes))[order]
        self.value = np.concatenate((self.value, value))[order]
        self.seen_us = np.concatenate((self.seen_us, seen))[order]
        self.open = np.concatenate((self.open, close))[order]
        self.start_us = np.concatenate((self.start_us, now))[order]
        self.last_us = np.concatenate((self.last_us, now))[order]
        self.min_m = np.concatenate((self.min_m, distance_m))[order]
        self.violation = np.concatenate((self.violation, np.zeros(count, dtype=np.bool_)))[order]
        self.reported_us = np.concatenate((self.reported_us, np.zeros(count, dtype=np.int64)))[order]

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
        codes = self.code[rows].tolist()
        lasts = self.last_us[rows].tolist()
        return [
            DistancingViolation(
                person_a=code // (1 << 32),
                person_b=code % (1 << 32),
                start_us=start,
                last_close_us=last,
                end_us=last if ended else None,
                min_distance_m=distance,
            )
            for code, start, last, distance in zip(
                codes, self.start_us[rows].tolist(), lasts, self.min_m[rows].tolist(), strict=True
            )
        ]


class Distancing:
    """The pairs followed (smoothed distances and open contacts) and each person's violation partners."""

    def __init__(self, config: AnalyticsConfig) -> None:
        self.configure(config)
        self.pairs = PairTable()
        self._partners: dict[int, set[int]] = {}
        # `contacts_per_person` as last built; None once the partners changed. Every frame's update carries it,
        # and it changes only when a violation starts or a person leaves: not rebuilt per frame.
        self._contacts: dict[int, int] | None = None

    def configure(self, config: AnalyticsConfig) -> None:
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
        """Take the positions of one frame: contacts refreshed, opened, become violations, ended."""
        table = self.pairs
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
        value = distance
        if smoothing:
            # A smoothed distance not renewed for longer than the gap is given up now, whatever the gap becomes
            # later; one kept while smoothing was off (or while no pair was a candidate) resumes.
            seen = table.seen_us
            seen[(t_us - seen) > self._gap_us] = _UNSMOOTHED
            followed = seen[rows] != _UNSMOOTHED
            value = distance.copy()
            recent = rows[followed]
            weight = 1.0 - np.exp(-(t_us - seen[recent]) / self._smoothing_us)
            targets = np.flatnonzero(found)[followed]
            value[targets] = table.value[recent] + weight * (value[targets] - table.value[recent])
            table.value[rows] = value[found]
            seen[rows] = t_us
            close: BoolArray = value < limit
        else:
            close = np.ones(codes.shape, dtype=np.bool_)
        # Known rows close now: an open contact is refreshed, any other (none yet, ended, or not followed) opens.
        close_known = close[found]
        refreshed = close_known & table.open[rows]
        opened = close_known & ~refreshed
        if refreshed.any():
            again = rows[refreshed]
            table.last_us[again] = t_us
            table.min_m[again] = np.minimum(table.min_m[again], distance[found][refreshed])
        if opened.any():
            anew = rows[opened]
            table.open[anew] = True
            table.start_us[anew] = t_us
            table.last_us[anew] = t_us
            table.min_m[anew] = distance[found][opened]
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
