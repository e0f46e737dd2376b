"""Pure aggregation helpers over stored analytics records, for any time range ``[start_us, end_us)``.

The selectors load columns from the database (one NumPy array per column) and call these; nothing here does
I/O. All helpers are vectorised (``np.bincount``), so a 30-day range of heat-map rows aggregates in
milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from server.analytics.errors import AnalyticsInputError, UnknownZoneError
from server.analytics.geometry import FloatArray, IntArray
from server.analytics.types import FloorGrid, Zone

HOUR_S = 3600
DAY_S = 86_400


def _check_same_length(**columns: np.ndarray) -> int:  # type: ignore[type-arg]
    lengths = {name: column.shape[0] for name, column in columns.items()}
    if len(set(lengths.values())) > 1:
        raise AnalyticsInputError(f"columns differ in length: {lengths}", code="bad_shape")
    return next(iter(lengths.values()), 0)


def _zone_positions(zone_order: Sequence[int], zone_ids: IntArray) -> IntArray:
    """Position of each record's zone in ``zone_order``; raises UnknownZoneError for an id not in it."""
    order = np.asarray(zone_order, dtype=np.int64)
    if zone_ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    if order.size == 0:
        raise UnknownZoneError(f"unknown zone id {int(zone_ids[0])}")
    sorter = np.argsort(order)
    sorted_order = order[sorter]
    found = np.clip(np.searchsorted(sorted_order, zone_ids), 0, order.size - 1)
    unknown = sorted_order[found] != zone_ids
    if unknown.any():
        raise UnknownZoneError(f"unknown zone id {int(zone_ids[np.flatnonzero(unknown)[0]])}")
    positions: IntArray = sorter[found]
    return positions


def heatmap_grid(grid: FloorGrid, cell_index: IntArray, person_s: FloatArray) -> FloatArray:
    """(ny, nx) person-seconds per cell: the sum of the rows of each cell (rows of any buckets in the range).

    Rows with a cell index outside the grid raise :class:`AnalyticsInputError` (code ``bad_cell``).
    """
    _check_same_length(cell_index=cell_index, person_s=person_s)
    if cell_index.size and (cell_index.min() < 0 or cell_index.max() >= grid.cells):
        raise AnalyticsInputError("a heat-map row has a cell index outside the grid", code="bad_cell")
    totals = np.bincount(cell_index, weights=person_s, minlength=grid.cells).astype(np.float64)
    result: FloatArray = totals.reshape(grid.ny, grid.nx)
    return result


def direction_grid(
    grid: FloorGrid, cell_index: IntArray, person_s: FloatArray, displacement_m: FloatArray
) -> FloatArray:
    """(ny, nx, 2) mean velocity (m/s) per cell: displacement sum / person-seconds (0: empty)."""
    _check_same_length(cell_index=cell_index, person_s=person_s, displacement_m=displacement_m)
    seconds = np.bincount(cell_index, weights=person_s, minlength=grid.cells)
    dx = np.bincount(cell_index, weights=displacement_m[:, 0], minlength=grid.cells)
    dy = np.bincount(cell_index, weights=displacement_m[:, 1], minlength=grid.cells)
    safe = np.where(seconds > 0, seconds, 1.0)
    velocity = np.stack([dx / safe, dy / safe], axis=1) * (seconds > 0)[:, None]
    result: FloatArray = velocity.reshape(grid.ny, grid.nx, 2)
    return result


@dataclass(frozen=True)
class ZoneInterest:
    """Interest of one zone over a range.

    ``dwell_s`` is the clipped dwell of the *engaged* visits (dwell >= ``min_dwell_s``);
    ``person_s_per_m2 = dwell_s / area``; ``score`` is ``person_s_per_m2`` divided by the largest value over
    the zones asked for (1.0 for the most interesting zone, 0.0 everywhere when no zone has dwell).
    """

    zone_id: int
    visits: int
    engaged_visits: int
    dwell_s: float
    mean_dwell_s: float
    person_s_per_m2: float
    score: float


def clipped_dwell_s(enter_us: IntArray, exit_us: IntArray, start_us: int, end_us: int) -> FloatArray:
    """Seconds of each visit ``[enter, exit]`` that fall inside ``[start_us, end_us)`` (0 when disjoint)."""
    overlap = np.minimum(exit_us, end_us) - np.maximum(enter_us, start_us)
    result: FloatArray = np.maximum(overlap, 0) * 1e-6
    return result


def interest_scores(
    zones: Sequence[Zone],
    zone_ids: IntArray,
    enter_us: IntArray,
    exit_us: IntArray,
    *,
    start_us: int,
    end_us: int,
    min_dwell_s: float = 3.0,
) -> dict[int, ZoneInterest]:
    """Dwell-weighted interest per zone from dwell records (see :class:`ZoneInterest`).

    A record counts as a visit of the range when its visit overlaps the range; its dwell is clipped to the
    range. A visit is engaged when its whole (unclipped) dwell is at least ``min_dwell_s`` (passers-by do not
    count).
    """
    _check_same_length(zone_ids=zone_ids, enter_us=enter_us, exit_us=exit_us)
    order = [zone.zone_id for zone in zones]
    positions = _zone_positions(order, zone_ids)
    clipped = clipped_dwell_s(enter_us, exit_us, start_us, end_us)
    overlaps = (exit_us >= start_us) & (enter_us < end_us)
    engaged = overlaps & ((exit_us - enter_us) * 1e-6 >= min_dwell_s)
    count = len(order)
    visits = np.bincount(positions[overlaps], minlength=count)
    engaged_visits = np.bincount(positions[engaged], minlength=count)
    dwell = np.bincount(positions[engaged], weights=clipped[engaged], minlength=count)
    areas = np.array([zone.area_m2 for zone in zones])
    density = dwell / areas if count else np.zeros(0)
    top = float(density.max()) if count else 0.0
    return {
        zone_id: ZoneInterest(
            zone_id=zone_id,
            visits=int(visits[z]),
            engaged_visits=int(engaged_visits[z]),
            dwell_s=float(dwell[z]),
            mean_dwell_s=float(dwell[z] / engaged_visits[z]) if engaged_visits[z] else 0.0,
            person_s_per_m2=float(density[z]),
            score=float(density[z] / top) if top > 0 else 0.0,
        )
        for z, zone_id in enumerate(order)
    }


@dataclass(frozen=True)
class FlowMatrix:
    """Transition counts: ``counts[i, j]`` persons went from ``zone_ids[i]`` to ``zone_ids[j]``;
    ``from_outside[j]`` entered ``zone_ids[j]`` as their first zone."""

    zone_ids: tuple[int, ...]
    counts: IntArray
    from_outside: IntArray

    def arrows(self) -> list[tuple[int, int, int]]:
        """Non-zero (from_zone_id, to_zone_id, count), largest first: what the dashboard draws."""
        rows, cols = np.nonzero(self.counts)
        values = self.counts[rows, cols]
        order = np.argsort(-values, kind="stable")
        return [
            (self.zone_ids[int(rows[k])], self.zone_ids[int(cols[k])], int(values[k])) for k in order.tolist()
        ]


def flow_matrix(
    zone_order: Sequence[int],
    from_zone_ids: IntArray,
    to_zone_ids: IntArray,
    times_us: IntArray,
    *,
    start_us: int,
    end_us: int,
) -> FlowMatrix:
    """Count transitions with ``start_us <= time < end_us``. A from-zone id of -1 means "from outside"."""
    _check_same_length(from_zone_ids=from_zone_ids, to_zone_ids=to_zone_ids, times_us=times_us)
    selected = (times_us >= start_us) & (times_us < end_us)
    from_ids = from_zone_ids[selected]
    to_positions = _zone_positions(zone_order, to_zone_ids[selected])
    outside = from_ids < 0
    from_positions = _zone_positions(zone_order, from_ids[~outside])
    count = len(zone_order)
    flat = from_positions * count + to_positions[~outside]
    counts = np.bincount(flat, minlength=count * count).reshape(count, count).astype(np.int64)
    from_outside = np.bincount(to_positions[outside], minlength=count).astype(np.int64)
    return FlowMatrix(tuple(int(z) for z in zone_order), counts, from_outside)


@dataclass(frozen=True)
class TimeBuckets:
    """Counts per consecutive bucket: bucket ``k`` starts at ``bucket_start_us[k]``."""

    bucket_start_us: IntArray
    bucket_s: int
    counts: IntArray


def _bucket_edges(start_us: int, end_us: int, bucket_s: int, utc_offset_s: int) -> tuple[int, int, int]:
    if bucket_s <= 0 or end_us <= start_us:
        raise AnalyticsInputError("need bucket_s > 0 and end_us > start_us", code="bad_range")
    bucket_us = bucket_s * 1_000_000
    offset_us = utc_offset_s * 1_000_000
    first = (start_us + offset_us) // bucket_us * bucket_us - offset_us
    buckets = -(-(end_us - first) // bucket_us)
    return first, bucket_us, int(buckets)


def count_per_bucket(
    times_us: IntArray, *, start_us: int, end_us: int, bucket_s: int, utc_offset_s: int = 0
) -> TimeBuckets:
    """Events per bucket aligned to local time (``utc_offset_s``), for events with ``start <= t < end``.

    Visits per hour: the entry times with ``bucket_s=HOUR_S``; per day: ``DAY_S`` (midnight in local time).
    """
    first, bucket_us, buckets = _bucket_edges(start_us, end_us, bucket_s, utc_offset_s)
    selected = times_us[(times_us >= start_us) & (times_us < end_us)]
    counts = np.bincount((selected - first) // bucket_us, minlength=buckets).astype(np.int64)
    starts = first + np.arange(buckets, dtype=np.int64) * bucket_us
    return TimeBuckets(starts, bucket_s, counts)


@dataclass(frozen=True)
class ViolationBuckets:
    """Violations over time: ``started[k]`` began in bucket k; ``active_s[k]`` violation-seconds inside it."""

    bucket_start_us: IntArray
    bucket_s: int
    started: IntArray
    active_s: FloatArray


def violations_over_time(
    start_times_us: IntArray,
    end_times_us: IntArray,
    *,
    start_us: int,
    end_us: int,
    bucket_s: int,
    utc_offset_s: int = 0,
) -> ViolationBuckets:
    """Distancing violations per bucket: how many started, violation-seconds per bucket."""
    _check_same_length(start_times_us=start_times_us, end_times_us=end_times_us)
    started = count_per_bucket(
        start_times_us, start_us=start_us, end_us=end_us, bucket_s=bucket_s, utc_offset_s=utc_offset_s
    )
    starts = started.bucket_start_us
    bucket_us = bucket_s * 1_000_000
    if start_times_us.size:
        overlap = np.minimum(end_times_us[:, None], starts[None, :] + bucket_us) - np.maximum(
            start_times_us[:, None], starts[None, :]
        )
        active = np.maximum(overlap, 0).sum(axis=0) * 1e-6
    else:
        active = np.zeros(starts.shape[0])
    return ViolationBuckets(starts, bucket_s, started.counts, active.astype(np.float64))


def contacts_per_person(person_a: IntArray, person_b: IntArray) -> dict[int, int]:
    """Distinct violation partners per person, from violation records (pairs may repeat)."""
    _check_same_length(person_a=person_a, person_b=person_b)
    if person_a.size == 0:
        return {}
    low = np.minimum(person_a, person_b)
    high = np.maximum(person_a, person_b)
    pairs = np.unique(np.stack([low, high], axis=1), axis=0)
    people, counts = np.unique(pairs.ravel(), return_counts=True)
    return {int(p): int(c) for p, c in zip(people.tolist(), counts.tolist(), strict=True)}


@dataclass(frozen=True)
class ZoneDwell:
    """Dwell statistics of a zone: visits in the range, total, mean and median dwell."""

    zone_id: int
    visits: int
    total_dwell_s: float
    mean_dwell_s: float
    median_dwell_s: float


def dwell_per_zone(
    zone_order: Sequence[int],
    zone_ids: IntArray,
    enter_us: IntArray,
    exit_us: IntArray,
    *,
    start_us: int,
    end_us: int,
) -> dict[int, ZoneDwell]:
    """Dwell time per zone over a range (visits clipped to the range; mean/median of the clipped dwell)."""
    _check_same_length(zone_ids=zone_ids, enter_us=enter_us, exit_us=exit_us)
    positions = _zone_positions(zone_order, zone_ids)
    overlaps = (exit_us >= start_us) & (enter_us < end_us)
    clipped = clipped_dwell_s(enter_us, exit_us, start_us, end_us)
    result: dict[int, ZoneDwell] = {}
    for z, zone_id in enumerate(zone_order):
        mine = clipped[overlaps & (positions == z)]
        result[int(zone_id)] = ZoneDwell(
            zone_id=int(zone_id),
            visits=int(mine.size),
            total_dwell_s=float(mine.sum()),
            mean_dwell_s=float(mine.mean()) if mine.size else 0.0,
            median_dwell_s=float(np.median(mine)) if mine.size else 0.0,
        )
    return result
