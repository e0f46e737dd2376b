"""From the analytics' alert events to alert rows and live pushes: access-control incident events (`AccessAlert`),
and the site conditions: capacity (`CapacityEvent`, the site over its capacity) and "open another till"
(`QueueAlert`, a queue too long or too slow).

`IncidentRecorder` is the runtime's `on_alert`: it is called on the hot path, keeps only the newest event of each
incident (every event carries the incident's whole state, so that loses nothing), and a background task writes
them in order off the event loop, then pushes the stored row with the site's exact counts. It also closes the
incidents a stopped process or a restarted analytics left open (no report for `STALE_AFTER_S`). Condition events
are each kept (an on and its off are two changes) and written in the same order, through the same sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import cast

from asgiref.sync import sync_to_async
from django.utils import timezone

from server.alerts import selectors, services
from server.alerts.models import AlertKind as StoredKind
from server.analytics.types import AccessAlert, AlertKind, CapacityEvent, IncidentPhase, QueueAlert
from server.inventory.models import Zone
from server.observability import metrics
from server.realtime.events import AlertChange, AlertCounts, AlertKindName, AlertPayload, alert_event
from server.realtime.groups import site_alerts_group
from server.realtime.publisher import LivePublisher

logger = logging.getLogger(__name__)

# An open incident is reported every second while its person is there and closes a few seconds after they
# left; one without a report for this long was left open (its process stopped, or its analytics restarted).
STALE_AFTER_S = 60.0
SWEEP_EVERY_S = 30.0
# The pushed `kind` of each analytics alert kind, and the pushed `change` of each incident phase.
KIND_NAME: dict[AlertKind, AlertKindName] = {AlertKind.WARNING: "warning", AlertKind.ALARM: "alarm"}
CHANGE_OF_PHASE: dict[IncidentPhase, AlertChange] = {
    IncidentPhase.OPENED: "opened",
    IncidentPhase.ESCALATED: "escalated",
    IncidentPhase.UPDATED: "updated",
    IncidentPhase.CLOSED: "closed",
}


def record_incident(site_id: int, event: AccessAlert) -> tuple[AlertPayload, AlertCounts] | None:
    """Store one incident event on its row; returns (the row as pushed, the site's counts), or None when the
    event changed nothing (late or repeated)."""
    alert = services.alert_incident_record(
        site_id=site_id,
        zone_id=event.zone_id,
        person_id=event.global_id,
        key_person_id=event.first_global_id,
        opened_us=event.opened_us,
        time_us=event.time_us,
        kind=str(event.kind),
        message=event.message,
        employee_id=event.employee_id,
        person_name=event.employee_name,
        identity_certain=event.identity_certain,
        x_m=round(event.x_m, 2),
        y_m=round(event.y_m, 2),
        distance_m=round(event.distance_m, 2),
        camera_ids=event.camera_ids,
        alarm_us=event.alarm_us,
        closed_us=event.closed_us,
    )
    if alert is None:
        return None
    return selectors.alert_to_dict(alert), selectors.site_alert_counts(site_id)


AnalyticsAlert = AccessAlert | CapacityEvent | QueueAlert
"""What the analytics hand to the runtime's `on_alert`."""


def condition_message(event: CapacityEvent | QueueAlert, zone_name: str = "") -> str:
    """The alert's text for a capacity or "open another till" event."""
    if event.stopped:  # ended with the site's analytics (a release to another worker, a shutdown)
        subject = (
            "Over capacity"
            if isinstance(event, CapacityEvent)
            else f"Open another till ({zone_name or f'queue {event.zone_id}'})"
        )
        return f"{subject} ended: the site's analytics stopped"
    if isinstance(event, CapacityEvent):
        if event.over:
            return f"Over capacity: {event.occupancy} people inside for a capacity of {event.capacity}"
        return f"Back within capacity: {event.occupancy} people inside for a capacity of {event.capacity}"
    queue = zone_name or f"queue {event.zone_id}"
    wait = "" if event.predicted_wait_s is None else f", predicted wait {event.predicted_wait_s:.0f} s"
    if event.open:
        return f"Open another till: {event.length} waiting in {queue}{wait}"
    return f"Queue back to normal: {event.length} waiting in {queue}{wait}"


def record_condition(
    site_id: int, event: CapacityEvent | QueueAlert
) -> tuple[AlertPayload, AlertCounts, AlertChange] | None:
    """Store a capacity or queue event as the opening or closing of its alert row; returns (the row as pushed, the
    site's counts, the change), or None when it changed nothing (repeated, or nothing ongoing to close)."""
    if isinstance(event, CapacityEvent):
        kind, zone_id, on, zone_name = StoredKind.CAPACITY, None, event.over, ""
    else:
        kind, zone_id, on = StoredKind.QUEUE, event.zone_id, event.open
        zone_name = Zone.objects.filter(pk=event.zone_id).values_list("name", flat=True).first() or ""
    stored = services.alert_condition_record(
        site_id=site_id,
        kind=kind,
        zone_id=zone_id,
        on=on,
        time_us=event.time_us,
        message=condition_message(event, zone_name),
    )
    if stored is None:
        return None
    alert, change = stored
    return selectors.alert_to_dict(alert), selectors.site_alert_counts(site_id), cast(AlertChange, change)


def close_stale_incidents() -> int:
    closed = services.alert_close_stale(older_than=timezone.now() - timedelta(seconds=STALE_AFTER_S))
    if closed:
        logger.info("closed %d incidents left open without a report for %.0f s", closed, STALE_AFTER_S)
    return closed


class IncidentRecorder:
    """Persist and push incident events; call it from the event loop, run `run()` as a background task."""

    def __init__(self, publisher: LivePublisher) -> None:
        self._publisher = publisher
        self._pending: dict[tuple[object, ...], tuple[int, AnalyticsAlert]] = {}
        self._wake: asyncio.Event | None = None
        self.recorded = 0
        self.failures = 0

    def __call__(self, site_id: int, event: AnalyticsAlert) -> None:
        if not isinstance(event, AccessAlert):
            if (isinstance(event, CapacityEvent) and event.over) or (
                isinstance(event, QueueAlert) and event.open
            ):
                metrics.record_alert(
                    StoredKind.CAPACITY if isinstance(event, CapacityEvent) else StoredKind.QUEUE
                )
            zone = event.zone_id if isinstance(event, QueueAlert) else 0
            self._pending[(site_id, type(event).__name__, zone, event.time_us)] = (site_id, event)
            if self._wake is not None:
                self._wake.set()
            return
        if event.phase is IncidentPhase.OPENED or event.phase is IncidentPhase.ESCALATED:
            metrics.record_alert(str(event.kind))
        key = (site_id, event.first_global_id, event.zone_id, event.opened_us)
        self._pending.pop(key, None)  # superseded: the newest event carries the whole incident
        self._pending[key] = (site_id, event)
        if self._wake is not None:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def run(self) -> None:
        """Write pending events as they come; sweep stale incidents at start and every SWEEP_EVERY_S."""
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while True:
            if loop.time() >= next_sweep:
                next_sweep = loop.time() + SWEEP_EVERY_S
                try:
                    await sync_to_async(close_stale_incidents)()
                except Exception:
                    logger.exception("closing stale incidents failed")
            await self.drain()
            self._wake.clear()
            if not self._pending:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, next_sweep - loop.time()))

    async def drain(self) -> None:
        """Write and push every pending event (in the order their incidents last changed)."""
        while self._pending:
            key = next(iter(self._pending))
            site_id, event = self._pending.pop(key)
            await self._record(site_id, event)

    async def _record(self, site_id: int, event: AnalyticsAlert) -> None:
        if not isinstance(event, AccessAlert):
            await self._record_condition(site_id, event)
            return
        try:
            stored = await sync_to_async(record_incident)(site_id, event)
        except Exception:
            self.failures += 1
            logger.exception("persisting an access incident failed; pushing it anyway")
            if event.phase is not IncidentPhase.OPENED and event.phase is not IncidentPhase.ESCALATED:
                return
            payload: AlertPayload = {
                "site": site_id,
                "kind": KIND_NAME[event.kind],
                "message": event.message,
                "zone": event.zone_id,
                "person_id": event.global_id,
                "person_name": event.employee_name or "",
                "x_m": event.x_m,
                "y_m": event.y_m,
                "camera_ids": list(event.camera_ids),
            }
            await self._publisher.send_now(
                site_alerts_group(site_id),
                alert_event(site_id=site_id, alert=payload, change=CHANGE_OF_PHASE[event.phase]),
            )
            return
        self.recorded += 1
        if stored is None:
            return
        alert, counts = stored
        await self._publisher.send_now(
            site_alerts_group(site_id),
            alert_event(site_id=site_id, alert=alert, change=CHANGE_OF_PHASE[event.phase], counts=counts),
        )

    async def _record_condition(self, site_id: int, event: CapacityEvent | QueueAlert) -> None:
        try:
            stored = await sync_to_async(record_condition)(site_id, event)
        except Exception:
            self.failures += 1
            logger.exception("persisting a %s alert failed; pushing it anyway", type(event).__name__)
            on = event.over if isinstance(event, CapacityEvent) else event.open
            if not on:
                return
            payload: AlertPayload = {
                "site": site_id,
                "kind": "capacity" if isinstance(event, CapacityEvent) else "queue",
                "message": condition_message(event),
                "zone": event.zone_id if isinstance(event, QueueAlert) else None,
                "person_id": None,
                "person_name": "",
                "x_m": None,
                "y_m": None,
                "camera_ids": [],
            }
            await self._publisher.send_now(
                site_alerts_group(site_id), alert_event(site_id=site_id, alert=payload, change="opened")
            )
            return
        self.recorded += 1
        if stored is None:
            return
        alert, counts, change = stored
        await self._publisher.send_now(
            site_alerts_group(site_id),
            alert_event(site_id=site_id, alert=alert, change=change, counts=counts),
        )
