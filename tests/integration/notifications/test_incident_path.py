"""From the analytics' access-control event to the webhook, in the server's own path: the `IncidentRecorder`
(the runtime's `on_alert`) stores the incident, the alert's transaction queues the outbox row and wakes the
running dispatcher on commit (its polling is set to 30 s here, so only the wake can explain a fast delivery)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connections

from server.alerts.incidents import IncidentRecorder
from server.analytics.types import AccessAlert, AlertKind, IncidentPhase
from server.inventory.models import Site, Zone, ZoneKind
from server.notifications import dispatcher as dispatcher_module
from server.notifications.dispatcher import Dispatcher, DispatcherConfig
from server.notifications.models import Delivery, DeliveryStatus, NotificationRule
from server.realtime.publisher import LivePublisher

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def event(zone: Zone, *, phase: IncidentPhase, kind: AlertKind, time_us: int, opened_us: int) -> AccessAlert:
    return AccessAlert(
        phase=phase,
        kind=kind,
        global_id=42,
        first_global_id=42,
        zone_id=zone.pk,
        zone_name=zone.name,
        employee_id=None,
        employee_name=None,
        identity_certain=True,
        level=0,
        required_level=2,
        distance_m=0.0 if kind is AlertKind.ALARM else 1.0,
        x_m=11.0,
        y_m=11.0,
        camera_ids=(1,),
        opened_us=opened_us,
        alarm_us=time_us if kind is AlertKind.ALARM else None,
        closed_us=None,
        time_us=time_us,
        message="An unidentified person entered the secure area",
    )


async def test_an_incident_reaches_the_webhook_through_the_outbox(receiver: Any) -> None:
    from asgiref.sync import sync_to_async

    def setup() -> tuple[Site, Zone]:
        site = Site.objects.create(name="Night store", timezone="Europe/Berlin")
        zone = Zone.objects.create(
            site=site,
            name="Stock room",
            kind=ZoneKind.RESTRICTED,
            polygon=[[10, 10], [14, 10], [14, 14], [10, 14]],
            required_level=2,
            warning_distance_m=1.5,
        )
        NotificationRule.objects.create(
            name="alarms after hours",
            channel="webhook",
            url=receiver.url,
            secret="s3cret",
            alert_kinds=["alarm"],
            schedule_mode="outside",
            schedule_windows=[{"days": [0, 1, 2, 3, 4, 5, 6], "start": "08:00", "end": "20:00"}],
        )
        return site, zone

    site, zone = await sync_to_async(setup)()
    dispatcher = Dispatcher(DispatcherConfig(poll_s=30.0))
    dispatcher_module.install(dispatcher)
    dispatcher.start()
    recorder = IncidentRecorder(LivePublisher(rate_hz=5, timeout_s=1))
    try:
        opened_us = int(datetime(2026, 12, 1, 22, 30, tzinfo=UTC).timestamp() * 1e6)  # 23:30 in Berlin
        recorder(
            site.pk,
            event(
                zone,
                phase=IncidentPhase.OPENED,
                kind=AlertKind.WARNING,
                time_us=opened_us,
                opened_us=opened_us,
            ),
        )
        await recorder.drain()
        await sync_to_async(dispatcher.run_once)()  # the poll that follows the start has passed
        assert await sync_to_async(Delivery.objects.count)() == 0  # a warning: not for this rule
        started = time.monotonic()
        recorder(
            site.pk,
            event(
                zone,
                phase=IncidentPhase.ESCALATED,
                kind=AlertKind.ALARM,
                time_us=opened_us + 2_000_000,
                opened_us=opened_us,
            ),
        )
        await recorder.drain()
        while not receiver.requests and time.monotonic() - started < 10:
            await asyncio.sleep(0.02)
        elapsed = time.monotonic() - started
        assert receiver.requests, "the webhook never arrived"
        assert elapsed < 5.0, f"{elapsed:.1f} s: the dispatcher was not woken by the commit"
        body = receiver.requests[0].json()
        assert body["event"] == "alert.escalated"
        assert body["alert"]["kind"] == "alarm"
        delivery = await sync_to_async(Delivery.objects.get)()
        for _ in range(100):
            if delivery.status == DeliveryStatus.DELIVERED:
                break
            await asyncio.sleep(0.02)
            await sync_to_async(delivery.refresh_from_db)()
        assert delivery.status == DeliveryStatus.DELIVERED
    finally:
        dispatcher.stop()
        dispatcher_module.install(None)
        await sync_to_async(connections.close_all)()  # the sync_to_async thread's own connection
