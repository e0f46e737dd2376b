"""Reads of alerts and sirens, and the dict shapes that are pushed to dashboards."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from server.alerts.models import Alert, SirenState


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """JSON-ready alert, as pushed on the site's alerts group and returned by the API."""
    return {
        "id": alert.pk,
        "site": alert.site_id,
        "zone": alert.zone_id,
        "kind": alert.kind,
        "person_id": alert.person_id,
        "employee": alert.employee_id,
        "message": alert.message,
        "x_m": alert.x_m,
        "y_m": alert.y_m,
        "distance_m": alert.distance_m,
        "state": alert.state,
        "raised_at": alert.raised_at.isoformat(),
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "acknowledged_by": alert.acknowledged_by_id,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "resolved_by": alert.resolved_by_id,
    }


def alert_list() -> QuerySet[Alert]:
    return Alert.objects.all()


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
