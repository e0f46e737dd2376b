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
bounded cost, faster there). The contact and smoothing tables hold only pairs within reach, kept sorted by pair
code: each frame sorts its k candidate pairs by code (O(k log k)) and merges them into the tables (two sorted runs:
O(k + K) for the K pairs followed). At a bounded crowd density k and K grow linearly with n, so a frame costs
O(n log n).
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


def pairs_within(xy: FloatArray, reach_m: float) -> tuple[IntArray, IntArray]:
    """Index pairs (i < j) of the points closer than `reach_m`."""
    if xy.shape[0] >= KD_TREE_MIN_PERSONS:
        # Built unbalanced and without shrinking the nodes to their points: built faster, the same pairs.
        tree = cKDTree(xy, balanced_tree=False, compact_nodes=False)
        pairs = tree.query_pairs(reach_m, output_type="ndarray")
        return pairs[:, 0].astype(np.int64, copy=False), pairs[:, 1].astype(np.int64, copy=False)
    dx = xy[:, 0:1] - xy[:, 0]
    dy = xy[:, 1:2] - xy[:, 1]
    first, second = np.nonzero(dx * dx + dy * dy < reach_m * reach_m)
    upper = first < second
    return first[upper].astype(np.int64), second[upper].astype(np.int64)


class ContactTable:
    """Open contacts as parallel arrays sorted by pair code ``low_gid * 2**32 + high_gid`` (vectorised)."""

    def __init__(self) -> None:
        self.code: IntArray = _EMPTY_INT
        self.start_us: IntArray = _EMPTY_INT
        self.last_us: IntArray = _EMPTY_INT
        self.min_m: FloatArray = np.zeros(0)
        self.violation: BoolArray = np.zeros(0, dtype=np.bool_)
        self.reported_us: IntArray = _EMPTY_INT

    @property
    def size(self) -> int:
        return int(self.code.shape[0])

    def merge(self, t_us: int, codes: IntArray, distance_m: FloatArray) -> None:
        """Record the close pairs of a frame: refresh known contacts, open new ones (``codes`` unique)."""
        position = np.searchsorted(self.code, codes)
        clipped = np.minimum(position, max(self.size - 1, 0))
        known = (
            (position < self.size) & (self.code[clipped] == codes)
            if self.size
            else np.zeros(codes.shape, bool)
        )
        if known.any():
            rows = position[known]
            self.last_us[rows] = t_us
            self.min_m[rows] = np.minimum(self.min_m[rows], distance_m[known])
        fresh = ~known
        if fresh.any():
            count = int(fresh.sum())
            code = np.concatenate([self.code, codes[fresh]])
            order = np.argsort(code, kind="stable")
            self.code = code[order]
            self.start_us = np.concatenate([self.start_us, np.full(count, t_us, dtype=np.int64)])[order]
            self.last_us = np.concatenate([self.last_us, np.full(count, t_us, dtype=np.int64)])[order]
            self.min_m = np.concatenate([self.min_m, distance_m[fresh]])[order]
            self.violation = np.concatenate([self.violation, np.zeros(count, dtype=np.bool_)])[order]
            self.reported_us = np.concatenate([self.reported_us, np.zeros(count, dtype=np.int64)])[order]

    def involving(self, gids: IntArray) -> BoolArray:
        """Mask of the contacts of any of ``gids``."""
        low = self.code // _PAIR_SHIFT
        high = self.code % _PAIR_SHIFT
        result: BoolArray = np.isin(low, gids) | np.isin(high, gids)
        return result

    def remove(self, mask: BoolArray) -> None:
        keep = ~mask
        self.code = self.code[keep]
        self.start_us = self.start_us[keep]
        self.last_us = self.last_us[keep]
        self.min_m = self.min_m[keep]
        self.violation = self.violation[keep]
        self.reported_us = self.reported_us[keep]

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
    """The open contacts, the smoothed pair distances and each person's violation partners."""

    def __init__(self, config: AnalyticsConfig) -> None:
        self.configure(config)
        # Smoothed distance per candidate pair when smoothing is on: pair code (sorted), distance, time.
        self._pair_code: IntArray = _EMPTY_INT
        self._pair_value: FloatArray = np.zeros(0)
        self._pair_time: IntArray = _EMPTY_INT
        self.contacts = ContactTable()
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
        """The persons `gone` left the frame: their contacts end (violations reported in `ended`)."""
        for gid in gone.tolist():
            if self._partners.pop(gid, None):
                self._contacts = None
        if self.contacts.size:
            leaving = self.contacts.involving(np.unique(gone))
            ended.extend(self.contacts.records(np.flatnonzero(leaving & self.contacts.violation), ended=True))
            self.contacts.remove(leaving)

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
        table = self.contacts
        if xy.shape[0] < 2 and table.size == 0:
            return
        if xy.shape[0] >= 2:
            limit = self._limit_m
            # With smoothing, pairs a little beyond D are followed too, so that their smoothed distance exists.
            reach = limit + (_SMOOTHING_MARGIN_M if self._smoothing_us > 0 else 0.0)
            first, second = pairs_within(xy, reach)
            if first.size:
                a = global_ids[first]
                b = global_ids[second]
                codes = np.minimum(a, b) * _PAIR_SHIFT + np.maximum(a, b)
                # In pair code order: the tables are sorted by it, and merging two sorted runs is linear.
                by_code = np.argsort(codes)
                codes, first, second = codes[by_code], first[by_code], second[by_code]
                distance = np.hypot(xy[first, 0] - xy[second, 0], xy[first, 1] - xy[second, 1])
                if self._smoothing_us > 0:
                    close = self._smoothed(t_us, codes, distance) < limit
                    codes, distance = codes[close], distance[close]
                if codes.size:
                    table.merge(t_us, codes, distance)
        if table.size == 0:
            return
        last_us = table.last_us
        close_now = last_us == t_us
        finished = (t_us - last_us) > self._gap_us  # never a pair close now: the gap is >= 0
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
            table.remove(finished)

    def _smoothed(self, t_us: int, codes: IntArray, distance_m: FloatArray) -> FloatArray:
        """Exponentially smoothed distance of each candidate pair (time constant `distancing_smoothing_s`); a
        pair not followed in the previous `distancing_gap_s` starts again from its raw distance. Vectorised over
        a table sorted by pair code, like the contact table (``codes``: sorted too)."""
        old_code, old_value, old_time = self._pair_code, self._pair_value, self._pair_time
        smoothed = distance_m.astype(np.float64, copy=True)
        keep_old = (t_us - old_time) <= self._gap_us
        if old_code.size and codes.size:
            position = np.searchsorted(old_code, codes)
            clipped = np.minimum(position, old_code.size - 1)
            seen = old_code[clipped] == codes  # a code past the end meets the last (smaller) code: unseen
            rows = clipped[seen]
            recent = keep_old[rows]
            rows_recent = rows[recent]
            weight = 1.0 - np.exp(-(t_us - old_time[rows_recent]) / self._smoothing_us)
            targets = np.flatnonzero(seen)[recent]
            smoothed[targets] = old_value[rows_recent] + weight * (smoothed[targets] - old_value[rows_recent])
            keep_old[rows] = False  # replaced by this frame's entry
        if not keep_old.any():  # the usual frame: every pair followed is a candidate again, or given up
            self._pair_code, self._pair_value = codes, smoothed
            self._pair_time = np.full(codes.size, t_us, dtype=np.int64)
            return smoothed
        # Pairs not candidates in this frame keep their state for the gap (a person missed for a frame).
        code = np.concatenate([old_code[keep_old], codes])
        order = np.argsort(code, kind="stable")
        self._pair_code = code[order]
        self._pair_value = np.concatenate([old_value[keep_old], smoothed])[order]
        self._pair_time = np.concatenate([old_time[keep_old], np.full(codes.size, t_us, dtype=np.int64)])[
            order
        ]
        return smoothed
