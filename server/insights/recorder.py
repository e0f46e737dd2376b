"""Buffers analytics results in memory and writes them to the database in batches (off the hot path)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from django.db import transaction

from server.analytics.types import AnalyticsUpdate, FloorGrid, HeatmapBucket
from server.fusion.types import FusedFrame
from server.insights.models import (
    DistancingViolation,
    HeatmapHour,
    HeatmapSlice,
    PersonVisit,
    ZoneDwell,
    ZoneTransition,
)

logger = logging.getLogger(__name__)
HOUR_US = 3600 * 10**6


def to_datetime(time_us: int) -> datetime:
    return datetime.fromtimestamp(time_us / 1e6, tz=UTC)


@dataclass
class _HeatHour:
    grid: FloorGrid
    person_s: npt.NDArray[np.float64]
    displacement: npt.NDArray[np.float64]  # (cells, 2)


@dataclass
class _Pending:
    visits_started: list[PersonVisit] = field(default_factory=list)
    visits_ended: list[tuple[int, int, datetime]] = field(default_factory=list)
    dwells: list[ZoneDwell] = field(default_factory=list)
    transitions: list[ZoneTransition] = field(default_factory=list)
    violations: dict[tuple[int, int, int, int], DistancingViolation] = field(default_factory=dict)
    heat: dict[tuple[int, int], _HeatHour] = field(default_factory=dict)
    heat_slices: list[HeatmapSlice] = field(default_factory=list)

    def empty(self) -> bool:
        return not (
            self.visits_started
            or self.visits_ended
            or self.dwells
            or self.transitions
            or self.violations
            or self.heat
            or self.heat_slices
        )


class InsightsRecorder:
    """`add` is called on the event loop for every analytics update; `flush` runs in a worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending = _Pending()
        self._known_persons: dict[int, set[int]] = {}
        self.flushed_rows = 0

    def add(self, fused: FusedFrame | None, update: AnalyticsUpdate, grid: FloorGrid) -> None:
        """Record one analytics update (`fused` None for the end-of-stream flush of the analytics)."""
        site_id = update.site_id
        known = self._known_persons.setdefault(site_id, set())
        with self._lock:
            pending = self._pending
            if fused is not None:
                started_at = to_datetime(fused.time_us)
                for person_id in fused.global_ids.tolist():
                    if person_id not in known:
                        known.add(person_id)
                        pending.visits_started.append(
                            PersonVisit(site_id=site_id, person_id=person_id, started_at=started_at)
                        )
            for ended in () if fused is None else fused.ended:
                known.discard(ended.global_id)
                pending.visits_ended.append((site_id, ended.global_id, to_datetime(ended.last_seen_us)))
            for dwell in update.dwell:
                pending.dwells.append(
                    ZoneDwell(
                        site_id=site_id,
                        zone_id=dwell.zone_id,
                        person_id=dwell.global_id,
                        entered_at=to_datetime(dwell.enter_us),
                        exited_at=to_datetime(dwell.exit_us),
                        dwell_s=(dwell.exit_us - dwell.enter_us) / 1e6,
                    )
                )
            for transition in update.transitions:
                pending.transitions.append(
                    ZoneTransition(
                        site_id=site_id,
                        person_id=transition.global_id,
                        from_zone_id=transition.from_zone_id,
                        to_zone_id=transition.to_zone_id,
                        at=to_datetime(transition.time_us),
                    )
                )
            for violation in (
                *update.violations_started,
                *update.violations_updated,
                *update.violations_ended,
            ):
                key = (site_id, violation.person_a, violation.person_b, violation.start_us)
                pending.violations[key] = DistancingViolation(
                    site_id=site_id,
                    person_a=violation.person_a,
                    person_b=violation.person_b,
                    started_at=to_datetime(violation.start_us),
                    ended_at=None if violation.end_us is None else to_datetime(violation.end_us),
                    last_close_at=to_datetime(violation.last_close_us),
                    min_distance_m=violation.min_distance_m,
                )
            for bucket in update.heat_buckets:
                hour_us = bucket.bucket_start_us - bucket.bucket_start_us % HOUR_US
                hour = pending.heat.get((site_id, hour_us))
                if hour is None or hour.grid != grid:
                    hour = _HeatHour(grid, np.zeros(grid.cells), np.zeros((grid.cells, 2)))
                    pending.heat[(site_id, hour_us)] = hour
                np.add.at(hour.person_s, bucket.cell_index, bucket.person_s)
                np.add.at(hour.displacement, bucket.cell_index, bucket.displacement_m)
                pending.heat_slices.append(_heat_slice(site_id, bucket, grid))

    def end_visits(self, site_id: int, persons: list[tuple[int, int]]) -> None:
        """End the open visits of (person id, last seen µs) pairs, e.g. at shutdown."""
        known = self._known_persons.setdefault(site_id, set())
        with self._lock:
            for person_id, last_seen_us in persons:
                known.discard(person_id)
                self._pending.visits_ended.append((site_id, person_id, to_datetime(last_seen_us)))

    def flush(self) -> int:
        """Write everything buffered; returns the number of rows written. Runs in a thread (sync ORM)."""
        with self._lock:
            pending, self._pending = self._pending, _Pending()
        if pending.empty():
            return 0
        try:
            rows = _write(pending)
        except Exception:
            logger.exception("writing analytics records failed; they are kept for the next flush")
            with self._lock:
                _merge_back(self._pending, pending)
            raise
        self.flushed_rows += rows
        return rows


def _merge_back(target: _Pending, failed: _Pending) -> None:
    target.visits_started[:0] = failed.visits_started
    target.visits_ended[:0] = failed.visits_ended
    target.dwells[:0] = failed.dwells
    target.transitions[:0] = failed.transitions
    target.heat_slices[:0] = failed.heat_slices
    for key, violation in failed.violations.items():
        target.violations.setdefault(key, violation)
    for hour_key, hour in failed.heat.items():
        if hour_key in target.heat and target.heat[hour_key].grid == hour.grid:
            target.heat[hour_key].person_s += hour.person_s
            target.heat[hour_key].displacement += hour.displacement
        else:
            target.heat[hour_key] = hour


@transaction.atomic
def _write(pending: _Pending) -> int:
    rows = 0
    PersonVisit.objects.bulk_create(pending.visits_started)
    rows += len(pending.visits_started)
    for site_id, person_id, ended_at in pending.visits_ended:
        rows += PersonVisit.objects.filter(
            site_id=site_id, person_id=person_id, ended_at__isnull=True
        ).update(ended_at=ended_at)
    ZoneDwell.objects.bulk_create(pending.dwells)
    ZoneTransition.objects.bulk_create(pending.transitions)
    rows += len(pending.dwells) + len(pending.transitions)
    if pending.violations:
        DistancingViolation.objects.bulk_create(
            list(pending.violations.values()),
            update_conflicts=True,
            unique_fields=["site", "person_a", "person_b", "started_at"],
            update_fields=["ended_at", "last_close_at", "min_distance_m"],
        )
        rows += len(pending.violations)
    for (site_id, hour_us), hour in pending.heat.items():
        rows += _add_heat_hour(site_id, hour_us, hour)
    HeatmapSlice.objects.bulk_create(pending.heat_slices)
    rows += len(pending.heat_slices)
    return rows


def _heat_slice(site_id: int, bucket: HeatmapBucket, grid: FloorGrid) -> HeatmapSlice:
    """The bucket's cells summed per cell (a bucket has one row per person counted), sparse."""
    cells, inverse = np.unique(np.asarray(bucket.cell_index, dtype=np.int64), return_inverse=True)
    person_s = np.bincount(inverse, weights=bucket.person_s, minlength=cells.size)
    displacement = np.asarray(bucket.displacement_m, dtype=np.float64).reshape(-1, 2)
    dx = np.bincount(inverse, weights=displacement[:, 0], minlength=cells.size)
    dy = np.bincount(inverse, weights=displacement[:, 1], minlength=cells.size)
    return HeatmapSlice(
        site_id=site_id,
        start=to_datetime(bucket.bucket_start_us),
        duration_s=bucket.bucket_s,
        columns=grid.nx,
        rows=grid.ny,
        cell_m=grid.cell_m,
        cell_index=cells.astype("<i4").tobytes(),
        person_s=person_s.astype("<f4").tobytes(),
        displacement_x_m=dx.astype("<f4").tobytes(),
        displacement_y_m=dy.astype("<f4").tobytes(),
    )


def _add_heat_hour(site_id: int, hour_us: int, hour: _HeatHour) -> int:
    hour_start = to_datetime(hour_us)
    existing = HeatmapHour.objects.select_for_update().filter(site_id=site_id, hour_start=hour_start).first()
    person_s = hour.person_s.astype(np.float32)
    displacement = hour.displacement.astype(np.float32)
    if existing is not None and existing.columns == hour.grid.nx and existing.rows == hour.grid.ny:
        person_s += np.frombuffer(bytes(existing.person_s), dtype="<f4")
        displacement[:, 0] += np.frombuffer(bytes(existing.displacement_x_m), dtype="<f4")
        displacement[:, 1] += np.frombuffer(bytes(existing.displacement_y_m), dtype="<f4")
    HeatmapHour.objects.update_or_create(
        site_id=site_id,
        hour_start=hour_start,
        defaults={
            "columns": hour.grid.nx,
            "rows": hour.grid.ny,
            "cell_m": hour.grid.cell_m,
            "person_s": person_s.astype("<f4").tobytes(),
            "displacement_x_m": np.ascontiguousarray(displacement[:, 0]).astype("<f4").tobytes(),
            "displacement_y_m": np.ascontiguousarray(displacement[:, 1]).astype("<f4").tobytes(),
        },
    )
    return 1
