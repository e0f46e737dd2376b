"""Buffers analytics results in memory and writes them to the database in batches (off the hot path).

The records are written at the ingest's ack barrier (`checkpoint`, in the transaction that persists the stream
state), so that they are durable exactly when the frames they came from are acked (docs/operations.md,
"Durability"). A record the database refuses as bad data (a poison record) does not hold the others back: the
batch is written again record by record, the refused one is logged, counted (`dropped_records`,
``retail_analytics_records_dropped_total``) and dropped. A record of a zone deleted meanwhile is kept with the
zone's name and no zone reference. When the database cannot be written at all, the records stay buffered, the
frames stay unacked, and health reports the recorder degraded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from django.db import DataError, IntegrityError, connection, transaction

from server.analytics.types import AnalyticsUpdate, FloorGrid, HeatmapBucket
from server.fusion.types import FusedFrame
from server.insights.models import (
    DistancingViolation,
    HeatmapHour,
    HeatmapSlice,
    LineCount,
    LineCrossing,
    PersonVisit,
    QueueWait,
    ZoneDwell,
    ZoneTransition,
)
from server.insights.staff import (
    LINE_BUCKET_US,
    lock_line_counts,
    lock_persons,
    recheck_ended,
    set_person_staff,
)
from server.inventory.models import Site, Zone
from server.observability import metrics

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
    crossings: list[LineCrossing] = field(default_factory=list)
    queue_waits: list[QueueWait] = field(default_factory=list)
    # (site, line id or None, bucket start µs, entrance, line name) -> [in, out, staff in, staff out] to add.
    line_counts: dict[tuple[int, int | None, int, bool, str], list[int]] = field(default_factory=dict)
    # (site, person, staff): the live analytics found the person bound (True) or their binding revoked (False),
    # in order; written after the batch's records and counts (server.insights.staff.set_person_staff).
    staff_changes: list[tuple[int, int, bool]] = field(default_factory=list)

    def empty(self) -> bool:
        return not (
            self.crossings
            or self.line_counts
            or self.queue_waits
            or self.staff_changes
            or self.visits_started
            or self.visits_ended
            or self.dwells
            or self.transitions
            or self.violations
            or self.heat
            or self.heat_slices
        )

    def count(self) -> int:
        return (
            len(self.crossings)
            + len(self.line_counts)
            + len(self.queue_waits)
            + len(self.staff_changes)
            + len(self.visits_started)
            + len(self.visits_ended)
            + len(self.dwells)
            + len(self.transitions)
            + len(self.violations)
            + len(self.heat)
            + len(self.heat_slices)
        )


@dataclass(frozen=True, slots=True)
class RecorderStats:
    pending_records: int
    written_rows: int
    dropped_records: int
    failed_writes: int
    last_error: str
    healthy: bool


class InsightsRecorder:
    """`add` is called on the event loop for every analytics update; `checkpoint` too (the ack barrier), whose
    `commit` runs in a worker thread; `flush` writes everything buffered in its own transaction."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending = _Pending()
        self._known_persons: dict[int, set[int]] = {}
        # Per site: the present persons the live analytics report staff (their records marked as staff's).
        self._known_staff: dict[int, set[int]] = {}
        self._zone_names: dict[int, str] = {}
        self.flushed_rows = 0
        # Per site: the heat-map person-seconds this process made durable (a worker's status line).
        self.heat_committed: dict[int, float] = {}
        self.dropped_records = 0
        self.failed_writes = 0
        self.last_error = ""
        self.healthy = True

    def name_zones(self, names: Mapping[int, str]) -> None:
        """Zone names to record with dwell and flow records (kept for zones deleted since)."""
        self._zone_names.update(names)

    def stats(self) -> RecorderStats:
        with self._lock:
            pending = self._pending.count()
        return RecorderStats(
            pending_records=pending,
            written_rows=self.flushed_rows,
            dropped_records=self.dropped_records,
            failed_writes=self.failed_writes,
            last_error=self.last_error,
            healthy=self.healthy,
        )

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
            if update.staff_ids or update.unstaffed_ids:
                staff = self._known_staff.setdefault(site_id, set())
                for person_id in sorted(update.unstaffed_ids & staff):
                    staff.discard(person_id)
                    pending.staff_changes.append((site_id, person_id, False))
                for person_id in sorted(update.staff_ids - staff):
                    staff.add(person_id)
                    pending.staff_changes.append((site_id, person_id, True))
            for crossing in update.crossings:
                name = self._zone_names.get(crossing.line_id, "")
                bucket_us = crossing.time_us - crossing.time_us % LINE_BUCKET_US
                column = 0 if crossing.direction == "in" else 1
                counts = pending.line_counts.setdefault(
                    (site_id, crossing.line_id, bucket_us, crossing.entrance, name), [0, 0, 0, 0]
                )
                counts[column + (2 if crossing.staff else 0)] += 1
                pending.crossings.append(
                    LineCrossing(
                        site_id=site_id,
                        line_id=crossing.line_id,
                        line_name=self._zone_names.get(crossing.line_id, ""),
                        entrance=crossing.entrance,
                        person_id=crossing.global_id,
                        direction=str(crossing.direction),
                        staff=crossing.staff,
                        at=to_datetime(crossing.time_us),
                    )
                )
            for wait in update.queue_visits:
                pending.queue_waits.append(
                    QueueWait(
                        site_id=site_id,
                        zone_id=wait.zone_id,
                        zone_name=self._zone_names.get(wait.zone_id, ""),
                        person_id=wait.global_id,
                        joined_at=to_datetime(wait.joined_us),
                        served_at=None if wait.service_us is None else to_datetime(wait.service_us),
                        left_at=to_datetime(wait.left_us),
                        wait_s=wait.wait_s,
                    )
                )
            for ended in () if fused is None else fused.ended:
                known.discard(ended.global_id)
                self._known_staff.get(site_id, set()).discard(ended.global_id)
                pending.visits_ended.append((site_id, ended.global_id, to_datetime(ended.last_seen_us)))
            for dwell in update.dwell:
                pending.dwells.append(
                    ZoneDwell(
                        site_id=site_id,
                        zone_id=dwell.zone_id,
                        zone_name=self._zone_names.get(dwell.zone_id, ""),
                        person_id=dwell.global_id,
                        entered_at=to_datetime(dwell.enter_us),
                        exited_at=to_datetime(dwell.exit_us),
                        dwell_s=(dwell.exit_us - dwell.enter_us) / 1e6,
                        staff=dwell.staff,
                    )
                )
            for transition in update.transitions:
                pending.transitions.append(
                    ZoneTransition(
                        site_id=site_id,
                        person_id=transition.global_id,
                        from_zone_id=transition.from_zone_id,
                        from_zone_name=(
                            ""
                            if transition.from_zone_id is None
                            else self._zone_names.get(transition.from_zone_id, "")
                        ),
                        to_zone_id=transition.to_zone_id,
                        to_zone_name=self._zone_names.get(transition.to_zone_id, ""),
                        at=to_datetime(transition.time_us),
                        staff=transition.staff,
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
            self._add_heat_locked(site_id, update.heat_buckets, grid)

    def add_heat(self, site_id: int, buckets: Sequence[HeatmapBucket], grid: FloorGrid) -> None:
        """Record heat-map buckets (or parts of one) of `site_id`."""
        if buckets:
            with self._lock:
                self._add_heat_locked(site_id, buckets, grid)

    def _add_heat_locked(self, site_id: int, buckets: Sequence[HeatmapBucket], grid: FloorGrid) -> None:
        for bucket in buckets:
            hour_us = bucket.bucket_start_us - bucket.bucket_start_us % HOUR_US
            hour = self._pending.heat.get((site_id, hour_us))
            if hour is None or hour.grid != grid:
                hour = _HeatHour(grid, np.zeros(grid.cells), np.zeros((grid.cells, 2)))
                self._pending.heat[(site_id, hour_us)] = hour
            np.add.at(hour.person_s, bucket.cell_index, bucket.person_s)
            np.add.at(hour.displacement, bucket.cell_index, bucket.displacement_m)
            self._pending.heat_slices.append(_heat_slice(site_id, bucket, grid))

    def end_visits(self, site_id: int, persons: list[tuple[int, int]]) -> None:
        """End the open visits of (person id, last seen µs) pairs, e.g. at shutdown."""
        known = self._known_persons.setdefault(site_id, set())
        with self._lock:
            for person_id, last_seen_us in persons:
                known.discard(person_id)
                self._pending.visits_ended.append((site_id, person_id, to_datetime(last_seen_us)))

    def close_left_open(self, site_id: int, *, last_frame_us: int | None) -> int:
        """Before this process starts the analytics of `site_id`: end the visits and distancing violations that a
        crashed process left open (its in-memory state is gone). A visit ends at the site's last stored frame,
        `last_frame_us` (the ingest's stream state persisted with it, `server.ingest.selectors.site_last_frame_us`;
        None: none stored), a violation at its last close frame. Returns the records closed."""
        from django.db.models import F

        last_us = last_frame_us
        closed = 0
        with transaction.atomic():
            open_visits = PersonVisit.objects.filter(site_id=site_id, ended_at__isnull=True)
            # Their persons' staff-mark locks first, as a barrier storing visit ends takes them: a binding or an
            # unbinding made while they were on the floor was left to the stopped process's recorder, which may
            # not have stored it; re-checked below, as a visit end stored by a barrier is.
            persons = sorted(set(open_visits.values_list("person_id", flat=True)))
            lock_persons(site_id, persons)
            if last_us:
                closed += open_visits.filter(started_at__lte=to_datetime(last_us)).update(
                    ended_at=to_datetime(last_us)
                )
            closed += open_visits.update(ended_at=F("started_at"))
            closed += DistancingViolation.objects.filter(site_id=site_id, ended_at__isnull=True).update(
                ended_at=F("last_close_at")
            )
            recheck_ended(site_id, persons)
        if closed:
            logger.warning(
                "site %d: closed %d visit(s) and violation(s) left open by a process that stopped without "
                "closing them",
                site_id,
                closed,
            )
        return closed

    def discard_site(self, site_id: int) -> int:
        """Drop what is buffered of `site_id` and what the recorder knows of its persons (a site worker lost the
        site to another one, which applies those frames again): returns the records dropped."""
        self._known_persons.pop(site_id, None)
        self._known_staff.pop(site_id, None)
        with self._lock:
            before = self._pending.count()
            _drop_site(self._pending, site_id)
            return before - self._pending.count()

    def checkpoint(self) -> RecorderCheckpoint | None:
        """Take everything buffered (the ack barrier); None when nothing is."""
        with self._lock:
            if self._pending.empty():
                return None
            pending, self._pending = self._pending, _Pending()
        return RecorderCheckpoint(self, pending)

    def flush(self) -> int:
        """Write everything buffered in a transaction of its own; returns the number of rows written. Runs in a
        thread (sync ORM). Raises when the database cannot be written (the records stay buffered)."""
        checkpoint = self.checkpoint()
        if checkpoint is None:
            return 0
        try:
            with transaction.atomic():
                rows = checkpoint.write()
        except Exception:
            checkpoint.abandon()
            raise
        return rows

    def _put_back(self, pending: _Pending) -> None:
        with self._lock:
            _merge_back(self._pending, pending)

    def _failed(self, err: Exception) -> None:
        self.failed_writes += 1
        self.last_error = f"{type(err).__name__}: {err}"[:500]
        if self.healthy:
            logger.error("writing analytics records failed; they are kept for the next attempt: %s", err)
        self.healthy = False
        metrics.record_analytics_write_error()

    def _written(self, rows: int, dropped: int, heat: Mapping[int, float]) -> None:
        self.flushed_rows += rows
        for site_id, person_s in heat.items():
            self.heat_committed[site_id] = self.heat_committed.get(site_id, 0.0) + person_s
        self.dropped_records += dropped
        if not self.healthy:
            logger.info("analytics records written again")
        self.healthy = True


class RecorderCheckpoint:
    """The records buffered up to one ack barrier."""

    def __init__(self, recorder: InsightsRecorder, pending: _Pending) -> None:
        self._recorder = recorder
        self._pending = pending

    def commit(self) -> None:
        """Write the records inside the caller's transaction."""
        self.write()

    def write(self) -> int:
        """Write the records (inside a transaction); a poison record is dropped, any other failure raises."""
        recorder = self._recorder
        try:
            rows, dropped = _write_isolating(self._pending)
        except Exception as err:
            recorder._failed(err)
            raise
        heat: dict[int, float] = {}
        for (site_id, _), hour in self._pending.heat.items():
            heat[site_id] = heat.get(site_id, 0.0) + float(hour.person_s.sum())
        transaction.on_commit(lambda: recorder._written(rows, dropped, heat))
        return rows

    def abandon(self) -> None:
        self._recorder._put_back(self._pending)


# Errors that blame the data of one record, not the database: such a record is isolated and dropped.
_POISON = (IntegrityError, DataError, ValueError, TypeError, OverflowError)


def _write_isolating(pending: _Pending) -> tuple[int, int]:
    """Write `pending` in one savepoint; when the database refuses a record, write them one by one and drop
    the refused ones. Returns (rows written, records dropped). Raises on any other database error."""
    _detach_deleted_zones(pending)
    gone = _drop_deleted_sites(pending)
    _lock(pending)
    try:
        with transaction.atomic():
            rows = _write(pending)
            _check_constraints()
        return rows, gone
    except _POISON as err:
        logger.warning("an analytics record was refused (%s); writing the batch record by record", err)
    rows, dropped = 0, gone
    for single in _singles(pending):
        try:
            with transaction.atomic():
                written = _write(single)
                _check_constraints()
            rows += written
        except _POISON as err:
            dropped += 1
            metrics.record_analytics_dropped()
            logger.error("dropped an analytics record the database refuses: %s; record: %s", err, single)
    return rows, dropped


def _check_constraints() -> None:
    """Check the deferred foreign keys now, inside the savepoint, instead of at commit (where one bad record
    would fail the whole transaction). PostgreSQL only: SQLite can check only whole tables, too slow for every
    barrier; there the checks of deleted sites and zones before the write leave a race with a deletion, which
    fails that barrier's commit, and the next barrier sees the deletion."""
    if connection.vendor == "postgresql":
        connection.check_constraints()


def _drop_deleted_sites(pending: _Pending) -> int:
    """Drop (log, count) the records of sites deleted since they were produced: they can never be written.
    Returns how many were dropped."""
    ids = (
        {v.site_id for v in pending.visits_started}
        | {d.site_id for d in pending.dwells}
        | {t.site_id for t in pending.transitions}
        | {v.site_id for v in pending.violations.values()}
        | {site_id for site_id, _ in pending.heat}
        | {h.site_id for h in pending.heat_slices}
        | {c.site_id for c in pending.crossings}
        | {q.site_id for q in pending.queue_waits}
        | {key[0] for key in pending.line_counts}
        | {change[0] for change in pending.staff_changes}
    )
    if not ids:
        return 0
    missing = ids - set(Site.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if not missing:
        return 0
    before = pending.count()
    pending.visits_started[:] = [v for v in pending.visits_started if v.site_id not in missing]
    pending.visits_ended[:] = [v for v in pending.visits_ended if v[0] not in missing]
    pending.dwells[:] = [d for d in pending.dwells if d.site_id not in missing]
    pending.transitions[:] = [t for t in pending.transitions if t.site_id not in missing]
    pending.violations = {k: v for k, v in pending.violations.items() if v.site_id not in missing}
    pending.heat = {k: h for k, h in pending.heat.items() if k[0] not in missing}
    pending.heat_slices[:] = [h for h in pending.heat_slices if h.site_id not in missing]
    pending.crossings[:] = [c for c in pending.crossings if c.site_id not in missing]
    pending.queue_waits[:] = [q for q in pending.queue_waits if q.site_id not in missing]
    pending.line_counts = {k: v for k, v in pending.line_counts.items() if k[0] not in missing}
    pending.staff_changes[:] = [v for v in pending.staff_changes if v[0] not in missing]
    dropped = before - pending.count()
    metrics.record_analytics_dropped(dropped)
    logger.error("dropped %d analytics record(s) of deleted site(s) %s", dropped, sorted(missing))
    return dropped


def _detach_deleted_zones(pending: _Pending) -> None:
    """Records of zones deleted since they were produced keep the zone's name, not the reference."""
    ids: set[int] = (
        {d.zone_id for d in pending.dwells if d.zone_id is not None}
        | {z for t in pending.transitions for z in (t.from_zone_id, t.to_zone_id) if z is not None}
        | {c.line_id for c in pending.crossings if c.line_id is not None}
        | {q.zone_id for q in pending.queue_waits if q.zone_id is not None}
        | {key[1] for key in pending.line_counts if key[1] is not None}
    )
    if not ids:
        return
    existing = set(Zone.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if existing == ids:
        return
    for dwell in pending.dwells:
        if dwell.zone_id not in existing:
            dwell.zone_id = None
    for transition in pending.transitions:
        if transition.from_zone_id is not None and transition.from_zone_id not in existing:
            transition.from_zone_id = None
        if transition.to_zone_id not in existing:
            transition.to_zone_id = None
    for crossing in pending.crossings:
        if crossing.line_id not in existing:
            crossing.line_id = None
    for wait in pending.queue_waits:
        if wait.zone_id not in existing:
            wait.zone_id = None
    for key in [key for key in pending.line_counts if key[1] is not None and key[1] not in existing]:
        counts = pending.line_counts.pop(key)
        detached = pending.line_counts.setdefault((key[0], None, *key[2:]), [0, 0, 0, 0])
        for i, value in enumerate(counts):
            detached[i] += value


def _singles(pending: _Pending) -> Iterable[_Pending]:
    """`pending` as one-record batches, in write order (the visit ends last: their re-check of the bindings comes
    after the batch's records of the person, as in `_write`)."""
    one: Callable[..., _Pending] = _Pending
    yield from (one(visits_started=[v]) for v in pending.visits_started)
    yield from (one(dwells=[d]) for d in pending.dwells)
    yield from (one(transitions=[t]) for t in pending.transitions)
    yield from (one(violations={k: v}) for k, v in pending.violations.items())
    yield from (one(heat={k: h}) for k, h in pending.heat.items())
    yield from (one(heat_slices=[h]) for h in pending.heat_slices)
    yield from (one(crossings=[c]) for c in pending.crossings)
    yield from (one(queue_waits=[q]) for q in pending.queue_waits)
    yield from (one(line_counts={k: v}) for k, v in pending.line_counts.items())
    yield from (one(staff_changes=[v]) for v in pending.staff_changes)
    yield from (one(visits_ended=[v]) for v in pending.visits_ended)


def _drop_site(pending: _Pending, site_id: int) -> None:
    """Remove every record of `site_id` from `pending`, in place."""
    pending.visits_started = [v for v in pending.visits_started if v.site_id != site_id]
    pending.visits_ended = [v for v in pending.visits_ended if v[0] != site_id]
    pending.dwells = [d for d in pending.dwells if d.site_id != site_id]
    pending.transitions = [t for t in pending.transitions if t.site_id != site_id]
    pending.violations = {k: v for k, v in pending.violations.items() if k[0] != site_id}
    pending.heat = {k: v for k, v in pending.heat.items() if k[0] != site_id}
    pending.heat_slices = [h for h in pending.heat_slices if h.site_id != site_id]
    pending.crossings = [c for c in pending.crossings if c.site_id != site_id]
    pending.queue_waits = [q for q in pending.queue_waits if q.site_id != site_id]
    pending.line_counts = {k: v for k, v in pending.line_counts.items() if k[0] != site_id}
    pending.staff_changes = [c for c in pending.staff_changes if c[0] != site_id]


def _merge_back(target: _Pending, failed: _Pending) -> None:
    target.visits_started[:0] = failed.visits_started
    target.visits_ended[:0] = failed.visits_ended
    target.dwells[:0] = failed.dwells
    target.transitions[:0] = failed.transitions
    target.heat_slices[:0] = failed.heat_slices
    target.crossings[:0] = failed.crossings
    target.queue_waits[:0] = failed.queue_waits
    for line_key, counts in failed.line_counts.items():
        into = target.line_counts.setdefault(line_key, [0, 0, 0, 0])
        for i, value in enumerate(counts):
            into[i] += value
    target.staff_changes[:0] = failed.staff_changes
    for key, violation in failed.violations.items():
        target.violations.setdefault(key, violation)
    for hour_key, hour in failed.heat.items():
        if hour_key in target.heat and target.heat[hour_key].grid == hour.grid:
            target.heat[hour_key].person_s += hour.person_s
            target.heat[hour_key].displacement += hour.displacement
        else:
            target.heat[hour_key] = hour


def _lock(pending: _Pending) -> None:
    """The locks a batch takes before it writes anything (re-taken at no cost inside the same transaction).

    The staff-mark locks of the persons whose mark may change here first, before any count row is written: a
    binding of one of them waits for this batch, or this batch for the binding (server.insights.staff). Then the
    door-count locks of the sites whose counts this batch moves, after every person's lock (as an unbind takes its
    person's, then its site's): the order is the same in every transaction, so none waits for another in a cycle.
    Taken outside the savepoints of a batch written record by record, where the visit ends come last."""
    persons: dict[int, set[int]] = {}
    for site_id, person_id, _ in pending.visits_ended:
        persons.setdefault(site_id, set()).add(person_id)
    for site_id, person_id, _ in pending.staff_changes:
        persons.setdefault(site_id, set()).add(person_id)
    for site_id, ids in sorted(persons.items()):
        lock_persons(site_id, ids)
    lock_line_counts({key[0] for key in pending.line_counts} | set(persons))


def _write(pending: _Pending) -> int:
    for record in (
        *pending.visits_started,
        *pending.dwells,
        *pending.transitions,
        *pending.violations.values(),
        *pending.crossings,
        *pending.queue_waits,
    ):
        record.pk = None  # an id given by an attempt rolled back since would not be free any more
    _lock(pending)
    rows = 0
    PersonVisit.objects.bulk_create(pending.visits_started)
    rows += len(pending.visits_started)
    for site_id, person_id, ended_at in pending.visits_ended:
        rows += PersonVisit.objects.filter(
            site_id=site_id, person_id=person_id, ended_at__isnull=True
        ).update(ended_at=ended_at)
    LineCrossing.objects.bulk_create(pending.crossings)
    ZoneTransition.objects.bulk_create(pending.transitions)
    QueueWait.objects.bulk_create(pending.queue_waits)
    ZoneDwell.objects.bulk_create(pending.dwells)
    rows += len(pending.crossings) + len(pending.transitions) + len(pending.queue_waits) + len(pending.dwells)
    rows += _add_line_counts(pending.line_counts)
    # After the records and counts of this batch, which may be theirs: the flags and the counts move together.
    for site_id, person_id, staff in pending.staff_changes:
        rows += set_person_staff(site_id=site_id, person_id=person_id, staff=staff)
    ended: dict[int, set[int]] = {}
    for site_id, person_id, _ in pending.visits_ended:
        ended.setdefault(site_id, set()).add(person_id)
    for site_id, ids in sorted(ended.items()):
        # Bindings made or revoked after the analytics ended them, which neither they nor the binding marked.
        rows += recheck_ended(site_id, ids)
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
    rows += _add_heat_slices(pending.heat_slices)
    return rows


def _add_line_counts(counts: Mapping[tuple[int, int | None, int, bool, str], list[int]]) -> int:
    """Add the counts to their 15-minute rows (created when missing), in one statement per row."""
    sql = (
        "INSERT INTO insights_linecount (site_id, line_id, line_name, entrance, start, in_count, out_count, "
        "staff_in, staff_out) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (site_id, line_id, start) "
        "DO UPDATE SET in_count = insights_linecount.in_count + excluded.in_count, "
        "out_count = insights_linecount.out_count + excluded.out_count, "
        "staff_in = insights_linecount.staff_in + excluded.staff_in, "
        "staff_out = insights_linecount.staff_out + excluded.staff_out"
    )
    assert LineCount._meta.db_table == "insights_linecount"
    rows = [
        (site_id, line_id, name, entrance, to_datetime(bucket_us), *values)
        for (site_id, line_id, bucket_us, entrance, name), values in counts.items()
        if any(values)
    ]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)
    return len(rows)


def _sparse_sum(
    parts: Sequence[tuple[bytes, bytes, bytes, bytes]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Sum sparse (cell_index, person_s, dx, dy) blobs cell by cell."""
    cells = np.concatenate([np.frombuffer(c, dtype="<i4").astype(np.int64) for c, _, _, _ in parts])
    unique, inverse = np.unique(cells, return_inverse=True)

    def summed(column: int) -> npt.NDArray[np.float64]:
        values = np.concatenate([np.frombuffer(part[column], dtype="<f4") for part in parts])
        return np.bincount(inverse, weights=values, minlength=unique.size).astype(np.float64)

    return unique.astype(np.int64), summed(1), summed(2), summed(3)


def _add_heat_slices(slices: Sequence[HeatmapSlice]) -> int:
    """One slice row per site, bucket and grid: the barrier records an open bucket in parts, which are added to
    the row of their bucket (and to each other) instead of becoming rows of their own."""
    grouped: dict[tuple[int, datetime, int, int, float], list[HeatmapSlice]] = {}
    for piece in slices:
        key = (piece.site_id, piece.start, piece.columns, piece.rows, piece.cell_m)
        grouped.setdefault(key, []).append(piece)
    for (site_id, start, columns, rows, cell_m), pieces in grouped.items():
        existing = (
            HeatmapSlice.objects.select_for_update()
            .filter(site_id=site_id, start=start, columns=columns, rows=rows, cell_m=cell_m)
            .first()
        )
        target = existing or HeatmapSlice(
            site_id=site_id,
            start=start,
            duration_s=pieces[0].duration_s,
            columns=columns,
            rows=rows,
            cell_m=cell_m,
        )  # the pieces stay as they are: a failed attempt gives them back for the next one
        parts = [
            (bytes(p.cell_index), bytes(p.person_s), bytes(p.displacement_x_m), bytes(p.displacement_y_m))
            for p in ([existing] if existing is not None else []) + pieces
        ]
        cells, person_s, dx, dy = _sparse_sum(parts)
        target.cell_index = cells.astype("<i4").tobytes()
        target.person_s = person_s.astype("<f4").tobytes()
        target.displacement_x_m = dx.astype("<f4").tobytes()
        target.displacement_y_m = dy.astype("<f4").tobytes()
        target.save()
    return len(grouped)


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
    """Add the hour's heat to its row, atomically whatever else writes the same (site, hour) at the same time (two
    processes, or a barrier and a flush): the row is made to exist first (an empty one of this grid, INSERT ... ON
    CONFLICT DO NOTHING, which waits for a concurrent insert of the same row to commit), then locked and added to.
    A row of another grid (the site's floor plan changed within the hour) is replaced."""
    hour_start = to_datetime(hour_us)
    grid = hour.grid
    empty = np.zeros(grid.cells, dtype="<f4").tobytes()
    HeatmapHour.objects.bulk_create(
        [
            HeatmapHour(
                site_id=site_id,
                hour_start=hour_start,
                columns=grid.nx,
                rows=grid.ny,
                cell_m=grid.cell_m,
                person_s=empty,
                displacement_x_m=empty,
                displacement_y_m=empty,
            )
        ],
        ignore_conflicts=True,
    )
    row = HeatmapHour.objects.select_for_update().get(site_id=site_id, hour_start=hour_start)
    person_s = hour.person_s.astype(np.float32)
    displacement = hour.displacement.astype(np.float32)
    if row.columns == grid.nx and row.rows == grid.ny:
        person_s += np.frombuffer(bytes(row.person_s), dtype="<f4")
        displacement[:, 0] += np.frombuffer(bytes(row.displacement_x_m), dtype="<f4")
        displacement[:, 1] += np.frombuffer(bytes(row.displacement_y_m), dtype="<f4")
    row.columns, row.rows, row.cell_m = grid.nx, grid.ny, grid.cell_m
    row.person_s = person_s.astype("<f4").tobytes()
    row.displacement_x_m = np.ascontiguousarray(displacement[:, 0]).astype("<f4").tobytes()
    row.displacement_y_m = np.ascontiguousarray(displacement[:, 1]).astype("<f4").tobytes()
    row.save(update_fields=["columns", "rows", "cell_m", "person_s", "displacement_x_m", "displacement_y_m"])
    return 1
