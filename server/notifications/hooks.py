"""The one entry point of the alerts app: an alert was opened or escalated (called inside its transaction).

Matching rules become outbox rows in the same transaction (a savepoint: a failure here is logged and never undoes
the alert); the dispatcher is woken once the transaction commits. Nothing is sent on the caller's path."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def alert_changed(*, site_id: int, alert: Mapping[str, Any], change: str) -> None:
    from server.notifications import dispatcher, services

    try:
        with transaction.atomic():
            queued = services.delivery_enqueue_alert(site_id=site_id, alert=alert, change=change)
    except Exception:
        logger.exception("queueing the notifications of alert %s failed", alert.get("id"))
        return
    if queued:
        transaction.on_commit(dispatcher.wake)
