"""Push alert and siren changes made through the REST API to the site's alerts group, after the commit.

A channel layer that is down or does not answer never fails or holds up the request: the change is stored, the
push is logged and counted as lost after at most `LIVE_PUSH_TIMEOUT_S`. The sender is the live publisher's
(`server.realtime.publisher.send_bounded`), the one the ingest's incident pushes go through."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from server.realtime.events import (
    AlertChange,
    AlertCounts,
    AlertPayload,
    GroupEvent,
    alert_event,
    alerts_acknowledged_event,
    siren_event,
)
from server.realtime.groups import site_alerts_group
from server.realtime.publisher import send_bounded


def _send(site_id: int, event: GroupEvent) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    timeout_s = float(settings.LIVE_PUSH_TIMEOUT_S)
    async_to_sync(send_bounded)(layer, site_alerts_group(site_id), event, timeout_s=timeout_s)


def push_alert_changed(
    *,
    site_id: int,
    alert: AlertPayload,
    change: AlertChange | None = None,
    counts: AlertCounts | None = None,
) -> None:
    event = alert_event(site_id=site_id, alert=alert, change=change, counts=counts)
    transaction.on_commit(lambda: _send(site_id, event))


def push_alerts_acknowledged(
    *, site_id: int, ids: list[int], acknowledged_at: str, acknowledged_by: int | None, counts: AlertCounts
) -> None:
    event = alerts_acknowledged_event(
        site_id=site_id,
        ids=ids,
        acknowledged_at=acknowledged_at,
        acknowledged_by=acknowledged_by,
        counts=counts,
    )
    transaction.on_commit(lambda: _send(site_id, event))


def push_siren_changed(*, site_id: int, on: bool) -> None:
    transaction.on_commit(lambda: _send(site_id, siren_event(site_id=site_id, on=on)))
