"""Alert life cycle and the siren output.

Analytics incidents are recorded by `alert_incident_record` (called by `server.alerts.incidents` for each
incident event: one row per incident, updated in place), `alert_condition_record` the site conditions (capacity,
"open another till": one row per time the condition held); `alert_raise` stores a one-off alert. Staff handle
alerts: acknowledge (one, or many by ids or filter) → resolve. The REST endpoints that change an alert or the
siren push the change themselves (see `server.alerts.push`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from server.alerts.models import CONDITION_KINDS, Alert, AlertKind, AlertState, QueueAlertSetting, SirenState
from server.alerts.selectors import alert_to_dict, queue_alert_setting_to_dict, siren_to_dict
from server.audit.services import Actor, audit_record, audit_record_many
from server.errors import ConflictError, FieldError
from server.inventory.models import Zone, ZoneKind
from server.inventory.signals import bump_config_revision
from server.notifications.hooks import alert_changed
from server.people.models import Employee
from server.realtime.events import AlertPayload

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
) -> AlertPayload:
    """Persist a new one-off alert (open for staff, over as it is raised) and return it as a JSON-ready dict
    (for `alert_event(site_id=…, alert=…)`)."""
    if kind not in AlertKind.values:
        raise ValueError(f"unknown alert kind {kind!r}; expected one of {AlertKind.values}")
    at = raised_at or timezone.now()
    alert = Alert.objects.create(
        site_id=site_id,
        zone_id=zone_id,
        kind=kind,
        person_id=person_id,
        employee_id=employee_id,
        message=message[:500],
        raised_at=at,
        updated_at=at,
        closed_at=at,
        x_m=x_m,
        y_m=y_m,
        distance_m=distance_m,
    )
    logger.info("site %d: %s alert %d raised: %s", site_id, kind, alert.pk, alert.message)
    payload = alert_to_dict(alert)
    alert_changed(site_id=site_id, alert=payload, change="opened")
    return payload


def incident_key(*, site_id: int, person_id: int, zone_id: int, opened_us: int) -> str:
    """The key of an analytics incident: one per site, person, zone and opening frame."""
    return f"{site_id}:{person_id}:{zone_id}:{opened_us}"


def _time(time_us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=time_us)


@transaction.atomic
def alert_incident_record(
    *,
    site_id: int,
    zone_id: int,
    person_id: int,
    opened_us: int,
    time_us: int,
    kind: str,
    message: str,
    employee_id: int | None,
    person_name: str | None,
    identity_certain: bool,
    x_m: float,
    y_m: float,
    distance_m: float,
    camera_ids: Sequence[int],
    alarm_us: int | None = None,
    closed_us: int | None = None,
    key_person_id: int | None = None,
) -> Alert | None:
    """Record one report of an incident (opened, escalated, updated or closed) on its row, creating the row the
    first time. Idempotent, and safe against reports that arrive late: the row never goes back from alarm to
    warning, never reopens, and ignores a report older than its latest. Returns the row, or None when the report
    changed nothing. A new incident closes any earlier incident of the same person and zone still open (the
    analytics restarted, e.g. with the server, without closing it). `person_id` is the person now,
    `key_person_id` the one who opened it (when the fusion found them again under a new id; default the same)."""
    if kind not in AlertKind.values:
        raise ValueError(f"unknown alert kind {kind!r}; expected one of {AlertKind.values}")
    key = incident_key(
        site_id=site_id,
        person_id=person_id if key_person_id is None else key_person_id,
        zone_id=zone_id,
        opened_us=opened_us,
    )
    at = _time(time_us)
    alert = Alert.objects.select_for_update().filter(incident_key=key).first()
    if alert is None:
        Alert.objects.filter(
            site_id=site_id, person_id=person_id, zone_id=zone_id, closed_at__isnull=True
        ).exclude(incident_key__isnull=True).update(closed_at=Coalesce(F("updated_at"), F("raised_at")))
        employee_exists = employee_id is not None and Employee.objects.filter(pk=employee_id).exists()
        alert = Alert.objects.create(
            site_id=site_id,
            zone_id=zone_id if Zone.objects.filter(pk=zone_id).exists() else None,
            kind=kind,
            person_id=person_id,
            employee_id=employee_id if employee_exists else None,
            person_name=(person_name or "")[:200],
            identity_certain=identity_certain,
            message=message[:500],
            raised_at=_time(opened_us),
            escalated_at=_time(alarm_us) if alarm_us is not None else None,
            updated_at=at,
            reported_at=timezone.now(),
            closed_at=_time(closed_us) if closed_us is not None else None,
            x_m=x_m,
            y_m=y_m,
            distance_m=distance_m,
            camera_ids=sorted(set(camera_ids)),
            incident_key=key,
        )
        logger.info("site %d: %s incident %d opened: %s", site_id, kind, alert.pk, alert.message)
        alert_changed(site_id=site_id, alert=alert_to_dict(alert), change="opened")
        return alert
    if alert.closed_at is not None or (alert.updated_at is not None and at < alert.updated_at):
        return None
    escalated = kind == AlertKind.ALARM and alert.kind != AlertKind.ALARM
    if escalated:
        alert.kind = AlertKind.ALARM
        alert.escalated_at = _time(alarm_us if alarm_us is not None else time_us)
        logger.info("site %d: incident %d escalated to an alarm", site_id, alert.pk)
    if not alert.person_name and person_name:
        alert.person_name = person_name[:200]
        if alert.employee_id is None and employee_id is not None:
            alert.employee_id = employee_id if Employee.objects.filter(pk=employee_id).exists() else None
    alert.identity_certain = alert.identity_certain and identity_certain
    alert.person_id = person_id
    alert.message = message[:500]
    alert.updated_at = at
    alert.reported_at = timezone.now()
    alert.x_m, alert.y_m, alert.distance_m = x_m, y_m, distance_m
    alert.camera_ids = sorted(set(alert.camera_ids) | set(camera_ids))
    if closed_us is not None:
        alert.closed_at = _time(closed_us)
    alert.save(
        update_fields=[
            "kind",
            "escalated_at",
            "person_name",
            "employee",
            "identity_certain",
            "person_id",
            "message",
            "updated_at",
            "reported_at",
            "x_m",
            "y_m",
            "distance_m",
            "camera_ids",
            "closed_at",
        ]
    )
    if escalated:
        alert_changed(site_id=site_id, alert=alert_to_dict(alert), change="escalated")
    return alert


def condition_key(*, site_id: int, kind: str, zone_id: int | None, opened_us: int) -> str:
    """The key of a site condition alert: one per site, kind, zone (0: the whole site) and opening frame."""
    return f"{site_id}:{kind}:{zone_id or 0}:{opened_us}"


@transaction.atomic
def alert_condition_record(
    *, site_id: int, kind: str, zone_id: int | None, on: bool, time_us: int, message: str
) -> tuple[Alert, str] | None:
    """Record a site condition turning on (a new row, open and ongoing) or off (the ongoing row of the same site,
    kind and zone closes). Idempotent: a repeated "on" of the same frame, or an "off" with nothing ongoing, changes
    nothing (returns None). A new "on" closes an earlier row of the same condition still ongoing (the analytics
    restarted without reporting it off). Returns (the row, its change: "opened" or "closed")."""
    if kind not in CONDITION_KINDS:
        raise ValueError(f"not a condition alert kind {kind!r}; expected one of {list(CONDITION_KINDS)}")
    at = _time(time_us)
    ongoing = Alert.objects.select_for_update().filter(site_id=site_id, kind=kind, closed_at__isnull=True)
    ongoing = ongoing.filter(zone__isnull=True) if zone_id is None else ongoing.filter(zone_id=zone_id)
    if not on:
        alert = ongoing.order_by("-raised_at", "-id").first()
        if alert is None:
            return None
        ongoing.update(closed_at=Coalesce(F("updated_at"), F("raised_at")))  # older ones left open, if any
        alert.closed_at = max(at, alert.raised_at)
        alert.updated_at = alert.closed_at
        alert.reported_at = timezone.now()
        alert.message = message[:500]
        alert.save(update_fields=["closed_at", "updated_at", "reported_at", "message"])
        logger.info("site %d: %s alert %d closed: %s", site_id, kind, alert.pk, alert.message)
        return alert, "closed"
    key = condition_key(site_id=site_id, kind=kind, zone_id=zone_id, opened_us=time_us)
    if Alert.objects.filter(incident_key=key).exists():
        return None
    ongoing.update(closed_at=Coalesce(F("updated_at"), F("raised_at")))
    alert = Alert.objects.create(
        site_id=site_id,
        zone_id=zone_id if zone_id is not None and Zone.objects.filter(pk=zone_id).exists() else None,
        kind=kind,
        message=message[:500],
        raised_at=at,
        updated_at=at,
        reported_at=timezone.now(),
        incident_key=key,
    )
    logger.info("site %d: %s alert %d opened: %s", site_id, kind, alert.pk, alert.message)
    alert_changed(site_id=site_id, alert=alert_to_dict(alert), change="opened")
    return alert, "opened"


@transaction.atomic
def alert_close_stale(*, older_than: datetime) -> int:
    """Close the incidents still open whose latest report reached the server before `older_than` (an open
    incident is reported every second: these were left open by a process that stopped). Judged by the server's
    clock (`reported_at`), not the frame time: frames of a box whose clock runs behind, or of a backlog it
    replays, are accepted minutes to hours late. Site condition alerts (capacity, queue) are not re-reported while
    they last: they close only when reported off. Returns how many."""
    return (
        Alert.objects.annotate(heard_at=Coalesce(F("reported_at"), F("updated_at")))
        .filter(closed_at__isnull=True, heard_at__lt=older_than)
        .exclude(incident_key__isnull=True)
        .exclude(kind__in=CONDITION_KINDS)
        .update(closed_at=F("updated_at"))
    )


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
def alert_acknowledge_many(*, actor: Actor, alerts: QuerySet[Alert]) -> list[Alert]:
    """Acknowledge every open alert of `alerts` (ids or a filter) at once; the others are left as they are.
    Each acknowledged alert gets an audit entry. Returns the acknowledged alerts."""
    rows = list(
        Alert.objects.filter(pk__in=alerts.values("pk"), state=AlertState.OPEN)
        .select_for_update()
        .order_by("id")
    )
    if not rows:
        return []
    now, user = timezone.now(), _user(actor)
    Alert.objects.filter(pk__in=[row.pk for row in rows]).update(
        state=AlertState.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=user
    )
    for row in rows:
        row.state, row.acknowledged_at, row.acknowledged_by = AlertState.ACKNOWLEDGED, now, user
    audit_record_many(actor=actor, action="acknowledge", instances=list(rows), changes={"bulk": True})
    logger.info("%d alerts acknowledged at once", len(rows))
    return rows


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


@transaction.atomic
def queue_alert_setting_set(
    *, actor: Actor, zone_id: int, length: int | None, wait_s: float | None, after_s: float
) -> dict[str, Any]:
    """Set the "open another till" thresholds of a queue zone (the site's analytics take them within seconds);
    returns them as a JSON-ready dict. A zone of another kind is refused."""
    zone = Zone.objects.get(pk=zone_id)
    if zone.kind != ZoneKind.QUEUE:
        raise FieldError("zone", f"zone {zone.name!r} is a {zone.kind} zone, not a queue", code="not_a_queue")
    setting, _ = QueueAlertSetting.objects.select_for_update().get_or_create(zone=zone)
    setting.length, setting.wait_s, setting.after_s = length, wait_s, after_s
    setting.save()
    bump_config_revision(zone.site_id)  # the running analytics reload the site's setup on this number
    audit_record(
        actor=actor,
        action="update",
        instance=setting,
        changes={"length": length, "wait_s": wait_s, "after_s": after_s},
    )
    logger.info("zone %d: queue alert at length %s, wait %s s, after %s s", zone_id, length, wait_s, after_s)
    return queue_alert_setting_to_dict(setting, zone_id=zone_id)
