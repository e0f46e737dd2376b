"""From the analytics' access-control incident events (`AccessAlert`) to alert rows and live pushes.

`IncidentRecorder` is the runtime's `on_alert`: it is called on the hot path, keeps only the newest event of each
incident (every event carries the incident's whole state, so that loses nothing), and a background task writes
them in order off the event loop, then pushes the stored row with the site's exact counts. It also closes the
incidents a stopped process or a restarted analytics left open (no report for `STALE_AFTER_S`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.utils import timezone

from server.alerts import selectors, services
from server.analytics.types import AccessAlert, AlertKind, IncidentPhase
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


def close_stale_incidents() -> int:
    closed = services.alert_close_stale(older_than=timezone.now() - timedelta(seconds=STALE_AFTER_S))
    if closed:
        logger.info("closed %d incidents left open without a report for %.0f s", closed, STALE_AFTER_S)
    return closed


class IncidentRecorder:
    """Persist and push incident events; call it from the event loop, run `run()` as a background task."""

    def __init__(self, publisher: LivePublisher) -> None:
        self._publisher = publisher
        self._pending: dict[tuple[int, int, int, int], tuple[int, AccessAlert]] = {}
        self._wake: asyncio.Event | None = None
        self.recorded = 0
        self.failures = 0

    def __call__(self, site_id: int, event: AccessAlert) -> None:
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

    async def _record(self, site_id: int, event: AccessAlert) -> None:
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
