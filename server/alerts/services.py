"""Alert life cycle (raise → acknowledge → resolve) and the siren output.

`alert_raise` is called by the analytics runtime; it persists the alert and returns the dict to push. The
REST endpoints that change an alert or the siren push the change themselves (see `server.alerts.push`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from server.alerts.models import Alert, AlertKind, AlertState, SirenState
from server.alerts.selectors import alert_to_dict, siren_to_dict
from server.api.errors import ConflictError
from server.audit.services import Actor, audit_record

logger = logging.getLogger(__name__)


@transaction.atomic
def alert_raise(
    *,
    site_id: int,
    zone_id: int | None,
    kind: str,
    person_id: int | None,
    message: str,
    employee_id: int | None = None,
    raised_at: datetime | None = None,
    x_m: float | None = None,
    y_m: float | None = None,
    distance_m: float | None = None,
) -> dict[str, Any]:
    """Persist a new open alert and return it as a JSON-ready dict (for `alert_event(site_id=…, alert=…)`)."""
    if kind not in AlertKind.values:
        raise ValueError(f"unknown alert kind {kind!r}; expected one of {AlertKind.values}")
    alert = Alert.objects.create(
        site_id=site_id,
        zone_id=zone_id,
        kind=kind,
        person_id=person_id,
        employee_id=employee_id,
        message=message[:500],
        raised_at=raised_at or timezone.now(),
        x_m=x_m,
        y_m=y_m,
        distance_m=distance_m,
    )
    logger.info("site %d: %s alert %d raised: %s", site_id, kind, alert.pk, alert.message)
    return alert_to_dict(alert)


def _user(actor: Actor) -> Any:
    return actor if actor is not None and actor.is_authenticated else None


@transaction.atomic
def alert_acknowledge(*, actor: Actor, alert_id: int) -> Alert:
    alert = Alert.objects.select_for_update().get(pk=alert_id)
    if alert.state != AlertState.OPEN:
        raise ConflictError(
            f"the alert is {alert.state}, only open alerts can be acknowledged", code="alert_not_open"
        )
    alert.state = AlertState.ACKNOWLEDGED
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = _user(actor)
    alert.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
    audit_record(actor=actor, action="acknowledge", instance=alert)
    return alert


@transaction.atomic
def alert_resolve(*, actor: Actor, alert_id: int) -> Alert:
    """Resolve an open or acknowledged alert (resolving an open one acknowledges it too)."""
    alert = Alert.objects.select_for_update().get(pk=alert_id)
    if alert.state == AlertState.RESOLVED:
        raise ConflictError("the alert is already resolved", code="alert_resolved")
    now = timezone.now()
    user = _user(actor)
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = now, user
    alert.state = AlertState.RESOLVED
    alert.resolved_at, alert.resolved_by = now, user
    alert.save(update_fields=["state", "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by"])
    audit_record(actor=actor, action="resolve", instance=alert)
    return alert


@transaction.atomic
def siren_set(*, actor: Actor, site_id: int, on: bool) -> dict[str, Any]:
    """Switch the site's siren output; returns the new state as a JSON-ready dict."""
    state, _ = SirenState.objects.select_for_update().get_or_create(site_id=site_id)
    if state.on != on or state.changed_at is None:
        state.on = on
        state.changed_at = timezone.now()
        state.changed_by = _user(actor)
        state.save()
        audit_record(
            actor=actor, action="siren_on" if on else "siren_off", instance=state, changes={"on": on}
        )
        logger.info("site %d: siren %s", site_id, "on" if on else "off")
    return siren_to_dict(state)
