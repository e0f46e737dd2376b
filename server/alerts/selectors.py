"""Reads of alerts and sirens, and the dict shapes that are pushed to dashboards."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django.db.models import Count, Q, QuerySet

from server.alerts.models import Alert, AlertKind, AlertState, QueueAlertSetting, SirenState
from server.analytics.types import AnalyticsConfig
from server.realtime.events import AlertCounts, AlertKindName, AlertPayload, AlertStateName


def alert_to_dict(alert: Alert) -> AlertPayload:
    """JSON-ready alert, as pushed on the site's alerts group and returned by the API."""
    return {
        "id": alert.pk,
        "site": alert.site_id,
        "zone": alert.zone_id,
        "kind": cast(AlertKindName, alert.kind),  # an AlertKind value (its choices)
        "person_id": alert.person_id,
        "employee": alert.employee_id,
        "person_name": alert.person_name,
        "identity_certain": alert.identity_certain,
        "message": alert.message,
        "x_m": alert.x_m,
        "y_m": alert.y_m,
        "distance_m": alert.distance_m,
        "camera_ids": list(alert.camera_ids),
        "state": cast(AlertStateName, alert.state),  # an AlertState value (its choices)
        "ongoing": alert.closed_at is None,
        "raised_at": alert.raised_at.isoformat(),
        "escalated_at": _iso(alert.escalated_at),
        "updated_at": _iso(alert.updated_at),
        "closed_at": _iso(alert.closed_at),
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "acknowledged_by": alert.acknowledged_by_id,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "resolved_by": alert.resolved_by_id,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def alert_list() -> QuerySet[Alert]:
    return Alert.objects.all()


def alert_counts(alerts: QuerySet[Alert]) -> AlertCounts:
    """Exact counts over `alerts` in one query: unacknowledged (the unread badge), of those the alarms, ongoing
    (the person is still there) and all."""
    counts = alerts.aggregate(
        unacknowledged=Count("id", filter=Q(state=AlertState.OPEN)),
        unacknowledged_alarms=Count("id", filter=Q(state=AlertState.OPEN, kind=AlertKind.ALARM)),
        ongoing=Count("id", filter=Q(closed_at__isnull=True)),
        total=Count("id"),
    )
    return {
        "unacknowledged": counts["unacknowledged"],
        "unacknowledged_alarms": counts["unacknowledged_alarms"],
        "ongoing": counts["ongoing"],
        "total": counts["total"],
    }


def site_alert_counts(site_id: int) -> AlertCounts:
    return alert_counts(Alert.objects.filter(site_id=site_id))


def siren_get(*, site_id: int) -> dict[str, Any]:
    state = SirenState.objects.filter(site_id=site_id).first()
    if state is None:
        return {"site": site_id, "on": False, "changed_at": None, "changed_by": None}
    return siren_to_dict(state)


def siren_to_dict(state: SirenState) -> dict[str, Any]:
    return {
        "site": state.site_id,
        "on": state.on,
        "changed_at": state.changed_at.isoformat() if state.changed_at else None,
        "changed_by": state.changed_by_id,
    }


# The thresholds of a queue without its own setting: the analytics' defaults (server.analytics.types).
QUEUE_ALERT_DEFAULTS: dict[str, Any] = {
    "length": AnalyticsConfig.queue_alert_length,
    "wait_s": AnalyticsConfig.queue_alert_wait_s,
    "after_s": AnalyticsConfig.queue_alert_after_s,
}


def queue_alert_setting_to_dict(setting: QueueAlertSetting | None, *, zone_id: int) -> dict[str, Any]:
    if setting is None:
        return {"zone": zone_id, **QUEUE_ALERT_DEFAULTS, "default": True}
    return {
        "zone": zone_id,
        "length": setting.length,
        "wait_s": setting.wait_s,
        "after_s": setting.after_s,
        "default": False,
    }


def queue_alert_setting_get(*, zone_id: int) -> dict[str, Any]:
    return queue_alert_setting_to_dict(
        QueueAlertSetting.objects.filter(zone_id=zone_id).first(), zone_id=zone_id
    )


def site_queue_alert_settings(site_id: int) -> list[dict[str, Any]]:
    """The queue zones of the site that have their own thresholds."""
    return [
        {"zone": row.zone_id, "length": row.length, "wait_s": row.wait_s, "after_s": row.after_s}
        for row in QueueAlertSetting.objects.filter(zone__site_id=site_id).order_by("zone_id")
    ]
