"""Notification rules (audited writes) and the outbox: alert notifications and test deliveries as rows."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.validators import EmailValidator
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from server.alerts.models import AlertKind
from server.audit.services import Actor, audit_record, field_values
from server.errors import FieldError
from server.inventory.models import Site
from server.notifications import schedule
from server.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    NotificationRule,
    ScheduleMode,
)
from server.notifications.senders import webhook_url_error
from server.notifications.topics import site_slugs

logger = logging.getLogger(__name__)

# Every kind the alerts app knows (new kinds, e.g. capacity or queue alerts, become filterable as they are added).
ALERT_KINDS = tuple(AlertKind.values)
# Which changes of an alert notify, and their event names.
EVENTS = {"opened": "alert.opened", "escalated": "alert.escalated"}
RULE_FIELDS = (
    "name",
    "enabled",
    "channel",
    "site",
    "alert_kinds",
    "schedule_mode",
    "schedule_windows",
    "url",
    "secret",
    "recipients",
)


def _audit_values(rule: NotificationRule) -> dict[str, Any]:
    values = field_values(rule)
    values.pop("secret", None)
    return values


def _validate(rule: NotificationRule) -> None:
    if rule.channel not in Channel.values:
        raise FieldError("channel", f"expected one of {Channel.values}")
    if not isinstance(rule.alert_kinds, list) or any(k not in ALERT_KINDS for k in rule.alert_kinds):
        raise FieldError("alert_kinds", f"a list of {', '.join(ALERT_KINDS)} (empty: every kind)")
    if rule.schedule_mode not in ScheduleMode.values:
        raise FieldError("schedule_mode", f"expected one of {ScheduleMode.values}")
    schedule.parse_windows(rule.schedule_windows)
    if rule.schedule_mode != ScheduleMode.ALWAYS and not rule.schedule_windows:
        raise FieldError(
            "schedule_windows", f"schedule_mode {rule.schedule_mode!r} needs at least one window"
        )
    if rule.channel == Channel.WEBHOOK:
        url_error = webhook_url_error(rule.url)
        if url_error:
            raise FieldError("url", url_error)
        if not rule.secret:
            rule.secret = secrets.token_urlsafe(32)
    if rule.channel == Channel.EMAIL:
        if not isinstance(rule.recipients, list) or not rule.recipients:
            raise FieldError("recipients", "an e-mail rule needs at least one address")
        validator = EmailValidator()
        for address in rule.recipients:
            try:
                validator(address)
            except Exception as err:
                raise FieldError("recipients", f"{address!r} is not an e-mail address") from err
    rule.full_clean()


@transaction.atomic
def rule_create(*, actor: Actor, data: Mapping[str, Any]) -> NotificationRule:
    rule = NotificationRule(**{k: v for k, v in data.items() if k in RULE_FIELDS})
    _validate(rule)
    rule.save()
    audit_record(actor=actor, action="create", instance=rule, changes=_audit_values(rule))
    return rule


@transaction.atomic
def rule_update(*, actor: Actor, rule: NotificationRule, data: Mapping[str, Any]) -> NotificationRule:
    before = _audit_values(rule)
    secret_before = rule.secret
    for name, value in data.items():
        if name in RULE_FIELDS:
            setattr(rule, name, value)
    _validate(rule)
    rule.save()
    after = _audit_values(rule)
    changes: dict[str, Any] = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    if rule.secret != secret_before:
        changes["secret"] = ["***", "***"]
    if changes:
        audit_record(actor=actor, action="update", instance=rule, changes=changes)
    return rule


@transaction.atomic
def rule_delete(*, actor: Actor, rule: NotificationRule) -> None:
    audit_record(actor=actor, action="delete", instance=rule, changes=_audit_values(rule))
    rule.delete()


def _site_info(site_id: int | None) -> dict[str, Any] | None:
    if site_id is None:
        return None
    sites = list(Site.objects.values_list("id", "name"))
    names = dict(sites)
    if site_id not in names:
        return None
    return {"id": site_id, "name": names[site_id], "slug": site_slugs(sites)[site_id]}


def _matches(rule: NotificationRule, *, kind: str, moment: datetime, tz: str) -> bool:
    if rule.alert_kinds and kind not in rule.alert_kinds:
        return False
    try:
        windows = schedule.parse_windows(rule.schedule_windows)
    except FieldError:
        logger.warning("notification rule %d has invalid windows; it notifies always", rule.pk)
        return True
    return schedule.schedule_allows(mode=rule.schedule_mode, windows=windows, moment=moment, tz=tz)


def delivery_enqueue_alert(*, site_id: int, alert: Mapping[str, Any], change: str) -> int:
    """One outbox row per enabled rule that matches the alert (site, kind, schedule at the alert's time in the
    site's zone); returns how many. Call inside the alert's transaction."""
    event = EVENTS.get(change)
    if event is None:
        return 0
    rules = list(NotificationRule.objects.filter(enabled=True).filter(site__isnull=True)) + list(
        NotificationRule.objects.filter(enabled=True, site_id=site_id)
    )
    if not rules:
        return 0
    tz = Site.objects.filter(pk=site_id).values_list("timezone", flat=True).first() or "UTC"
    moment_text = alert.get("escalated_at") if change == "escalated" else alert.get("raised_at")
    moment = (parse_datetime(str(moment_text)) if moment_text else None) or timezone.now()
    kind = str(alert.get("kind", ""))
    now = timezone.now()
    site = _site_info(site_id)
    rows = [
        Delivery(
            rule=rule,
            rule_name=rule.name,
            channel=rule.channel,
            site_id=site_id,
            event=event,
            alert_id=alert.get("id"),
            payload={"event": event, "site": site, "alert": dict(alert)},
            next_attempt_at=now,
            created_at=now,
        )
        for rule in rules
        if _matches(rule, kind=kind, moment=moment, tz=tz)
    ]
    Delivery.objects.bulk_create(rows)
    if rows:
        logger.info("alert %s %s: %d notification(s) queued", alert.get("id"), change, len(rows))
    return len(rows)


def delivery_send_test(*, actor: Actor, rule: NotificationRule) -> Delivery:
    """Queue a test notification of `rule` (sent whatever its schedule and filters say)."""
    from server.notifications import dispatcher

    now = timezone.now()
    site = _site_info(rule.site_id)
    delivery = Delivery.objects.create(
        rule=rule,
        rule_name=rule.name,
        channel=rule.channel,
        site_id=rule.site_id,
        event="test",
        payload={
            "event": "test",
            "site": site,
            "message": f"Test notification of rule {rule.name!r}",
            "requested_by": actor.get_username() if actor is not None else "",
        },
        next_attempt_at=now,
        created_at=now,
    )
    transaction.on_commit(dispatcher.wake)
    return delivery


def delivery_retry(*, delivery: Delivery) -> Delivery:
    """Send a failed delivery again (attempts start over)."""
    from server.notifications import dispatcher

    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "attempts", "next_attempt_at"])
    transaction.on_commit(dispatcher.wake)
    return delivery
