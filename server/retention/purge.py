"""The retention purge: delete what is older than its data class's period (server.retention.policy).

PostgreSQL rows in batches by primary key (no long lock, no huge transaction); time series through the backend:
InfluxDB 1.x (`INFLUX_API=v1`) with InfluxQL `DELETE FROM <measurement> WHERE time < …`, the embedded store with
its own delete; an InfluxDB 2.x bucket keeps its own retention (`INFLUX_API=v2`: left to the bucket, reported).
Each run is recorded as a `PurgeRun`; each run reads the periods anew (`current_policy`: a period set in the
dashboard takes effect at the next run). Runs from the periodic job (`RetentionJob`) or `retail-server manage purge`.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from server.alerts.models import Alert
from server.audit.models import AuditLog
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
from server.inventory.models import Camera
from server.notifications.models import Delivery, DeliveryStatus
from server.people.models import IdentityBinding
from server.retention.models import PurgeRun, RetentionSetting
from server.retention.policy import RetentionPolicy
from server.timeseries import measurements

logger = logging.getLogger(__name__)

BATCH = 5000
POSITION_MEASUREMENTS = (measurements.POSITIONS,)
OTHER_MEASUREMENTS = tuple(m for m in measurements.ALL_MEASUREMENTS if m not in POSITION_MEASUREMENTS)


def _delete_batched(queryset: QuerySet[Any]) -> int:
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return total
        with transaction.atomic():
            deleted, _ = queryset.model.objects.filter(pk__in=ids).delete()
        total += len(ids) if deleted else 0


def _rows(name: str, cutoff: datetime) -> dict[str, QuerySet[Any]]:
    """Per data class, the querysets of what it purges before `cutoff`."""
    tables: dict[str, dict[str, QuerySet[Any]]] = {
        "visits": {
            "visits": PersonVisit.objects.filter(
                Q(ended_at__lt=cutoff) | Q(ended_at__isnull=True, started_at__lt=cutoff)
            ),
            "zone_dwells": ZoneDwell.objects.filter(exited_at__lt=cutoff),
            "zone_transitions": ZoneTransition.objects.filter(at__lt=cutoff),
            "distancing_violations": DistancingViolation.objects.filter(last_close_at__lt=cutoff),
            "line_crossings": LineCrossing.objects.filter(at__lt=cutoff),
            "queue_waits": QueueWait.objects.filter(left_at__lt=cutoff),
            "line_counts": LineCount.objects.filter(start__lt=cutoff),
        },
        "heatmaps": {
            "heatmap_hours": HeatmapHour.objects.filter(hour_start__lt=cutoff),
            "heatmap_slices": HeatmapSlice.objects.filter(start__lt=cutoff),
        },
        "bindings": {"bindings": IdentityBinding.objects.filter(unbound_at__lt=cutoff)},
        "alerts": {"alerts": Alert.objects.filter(closed_at__lt=cutoff)},
        "audit": {"audit_entries": AuditLog.objects.filter(at__lt=cutoff)},
        "deliveries": {
            "deliveries": Delivery.objects.filter(
                created_at__lt=cutoff, status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED]
            )
        },
    }
    return tables.get(name, {})


def _purge_snapshots(cutoff: datetime) -> int:
    """Delete the stored snapshot files captured (or, without a capture time, requested) before `cutoff`."""
    count = 0
    old = Camera.objects.exclude(snapshot="").filter(
        Q(snapshot_captured_at__lt=cutoff)
        | Q(snapshot_captured_at__isnull=True, snapshot_requested_at__lt=cutoff)
    )
    for camera in old.iterator():
        name = camera.snapshot.name
        storage = camera.snapshot.storage
        Camera.objects.filter(pk=camera.pk, snapshot=name).update(snapshot="", snapshot_captured_at=None)
        transaction.on_commit(lambda storage=storage, name=name: storage.delete(name))  # type: ignore[misc]
        count += 1
    return count


def purge_timeseries(backend: Any, measurement_names: tuple[str, ...], cutoff: datetime) -> int | None:
    """Delete points older than `cutoff` of the given measurements; returns how many when the backend says (the
    embedded store), 0 for InfluxDB 1.x (it does not count), None where the store keeps its own retention."""
    time_ns = int(cutoff.astimezone(UTC).timestamp() * 1e9)
    delete_before = getattr(backend, "delete_before", None)
    if delete_before is not None:
        return sum(int(delete_before(time_ns, measurement)) for measurement in measurement_names)
    raw_query = getattr(backend, "raw_query", None)
    if raw_query is not None:
        from server.timeseries.influxql import quote_identifier

        stamp = cutoff.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for measurement in measurement_names:
            statement = f"DELETE FROM {quote_identifier(measurement)} WHERE time < '{stamp}'"  # noqa: S608
            answer = raw_query(statement)
            if '"error"' in answer:
                raise RuntimeError(f"InfluxDB refused the delete of {measurement}: {answer[:300]}")
        return 0
    return None


def purge(
    *, policy: RetentionPolicy, backend: Any | None, now: datetime | None = None, trigger: str = "command"
) -> PurgeRun:
    """Delete everything older than its class's period; returns the recorded run."""
    now = now or timezone.now()
    run = PurgeRun.objects.create(started_at=timezone.now(), trigger=trigger)
    deleted: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in policy.days:
        cutoff = policy.cutoff(name, now)
        if cutoff is None:
            continue
        try:
            if name == "positions" or name == "timeseries":
                if backend is None:
                    errors[name] = "no time-series store in this process"
                    continue
                names = POSITION_MEASUREMENTS if name == "positions" else OTHER_MEASUREMENTS
                count = purge_timeseries(backend, names, cutoff)
                if count is None:
                    errors[name] = "kept by the store's own retention (InfluxDB 2 bucket)"
                else:
                    deleted[name] = count
            elif name == "snapshots":
                with transaction.atomic():
                    deleted["snapshots"] = _purge_snapshots(cutoff)
            else:
                for table, queryset in _rows(name, cutoff).items():
                    deleted[table] = _delete_batched(queryset)
        except Exception as err:
            logger.exception("purging %s failed", name)
            errors[name] = f"{type(err).__name__}: {err}"[:300]
    run.finished_at = timezone.now()
    run.deleted = deleted
    run.errors = errors
    run.save(update_fields=["finished_at", "deleted", "errors"])
    logger.info("retention purge (%s): deleted %s; errors %s", trigger, deleted, errors or "none")
    return run


def current_policy() -> RetentionPolicy:
    """The periods in force: the settings', each replaced by the one set in the dashboard where there is one."""
    overrides = dict(RetentionSetting.objects.values_list("data_class", "days"))
    return RetentionPolicy.from_settings(settings, overrides)


class RetentionJob:
    """Runs the purge every `interval_s` in a thread of the server process (first run after one interval)."""

    def __init__(self, *, backend: Any | None, interval_s: float) -> None:
        self.backend = backend
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval_s <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="retention-purge", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                purge(policy=current_policy(), backend=self.backend, trigger="schedule")
            except Exception:
                logger.exception("the retention purge failed; next try in %.0f s", self.interval_s)
            finally:
                close_old_connections()
        connections.close_all()  # this thread's own connection
