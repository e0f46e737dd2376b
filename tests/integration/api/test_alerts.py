"""Alerts: raised by the analytics (persisted, returned ready to push), filtered, acknowledged and resolved by
staff with the change pushed to the site's alerts group; the siren per site."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from server.alerts.models import Alert, AlertState
from server.alerts.services import alert_raise
from server.realtime.groups import site_alerts_group

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def receive(layer: Any, channel: str) -> dict[str, Any]:
    async def bounded() -> dict[str, Any]:
        event: dict[str, Any] = await asyncio.wait_for(layer.receive(channel), timeout=5)
        return event

    return async_to_sync(bounded)()


@pytest.fixture
def alerts_channel(settings: Any) -> Any:
    """An in-memory channel layer and a fresh channel."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from channels.layers import channel_layers

    channel_layers.backends.pop("default", None)
    layer = get_channel_layer()
    name = async_to_sync(layer.new_channel)()
    yield layer, name
    channel_layers.backends.pop("default", None)


def test_alert_raise_persists_and_returns_a_pushable_dict(store: dict[str, Any]) -> None:
    raised_at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    alert = alert_raise(
        site_id=store["site"].pk,
        zone_id=store["restricted"].pk,
        kind="warning",
        person_id=17,
        employee_id=store["employee"].pk,
        message="An unauthorized employee (Kim) approached the secure area",
        raised_at=raised_at,
        x_m=9.0,
        y_m=10.5,
        distance_m=1.0,
    )
    json.dumps(alert)  # ready to push: plain JSON types only
    assert alert["state"] == "open"
    assert alert["employee"] == store["employee"].pk
    assert alert["raised_at"] == raised_at.isoformat()
    stored = Alert.objects.get(pk=alert["id"])
    assert stored.message.startswith("An unauthorized employee (Kim)")
    with pytest.raises(ValueError, match="unknown alert kind"):
        alert_raise(site_id=store["site"].pk, zone_id=None, kind="panic", person_id=1, message="x")


def test_acknowledge_then_resolve_is_pushed(
    store: dict[str, Any],
    client_for: Callable[[str], Any],
    users: dict[str, Any],
    alerts_channel: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    capture = django_capture_on_commit_callbacks
    layer, channel = alerts_channel
    site_id = store["site"].pk
    async_to_sync(layer.group_add)(site_alerts_group(site_id), channel)
    alert = alert_raise(
        site_id=site_id, zone_id=store["restricted"].pk, kind="alarm", person_id=3, message="In"
    )
    client = client_for("staff")
    with capture(execute=True):  # the push is sent on commit
        response = client.post(f"/api/alerts/{alert['id']}/acknowledge")
    assert response.status_code == 200
    assert response.json()["state"] == "acknowledged"
    assert response.json()["acknowledged_by"] == users["staff"].pk
    event = receive(layer, channel)
    assert event["type"] == "alert.changed"
    assert event["alert"]["id"] == alert["id"]
    assert event["alert"]["state"] == "acknowledged"
    again = client.post(f"/api/alerts/{alert['id']}/acknowledge")
    assert again.status_code == 409
    assert again.json()["code"] == "alert_not_open"
    with capture(execute=True):
        resolved = client.post(f"/api/alerts/{alert['id']}/resolve")
    assert resolved.status_code == 200
    assert resolved.json()["state"] == "resolved"
    assert receive(layer, channel)["alert"]["state"] == "resolved"
    assert client.post(f"/api/alerts/{alert['id']}/resolve").status_code == 409
    assert Alert.objects.get(pk=alert["id"]).resolved_by_id == users["staff"].pk


def test_alert_filters(store: dict[str, Any], client_for: Callable[[str], Any]) -> None:
    site_id, zone_id = store["site"].pk, store["restricted"].pk
    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for minute, kind in enumerate(["warning", "alarm", "warning", "alarm"]):
        alert_raise(
            site_id=site_id,
            zone_id=zone_id,
            kind=kind,
            person_id=minute,
            message=kind,
            raised_at=base + timedelta(minutes=minute),
        )
    alert_raise(site_id=store["other_site"].pk, zone_id=None, kind="alarm", person_id=1, message="elsewhere")
    Alert.objects.filter(person_id=3).update(state=AlertState.RESOLVED)
    client = client_for("staff")

    def ids(**query: Any) -> list[int]:
        return [row["person_id"] for row in client.get("/api/alerts", query).json()["results"]]

    assert ids(site=site_id) == [3, 2, 1, 0]
    assert ids(site=site_id, kind="alarm") == [3, 1]
    assert ids(site=site_id, state="open") == [2, 1, 0]
    assert ids(site=site_id, raised_after=(base + timedelta(minutes=1)).isoformat()) == [3, 2, 1]
    assert ids(site=site_id, raised_before=(base + timedelta(minutes=1)).isoformat()) == [0]
    page = client.get("/api/alerts", {"site": site_id, "limit": 2, "offset": 1}).json()
    assert page["count"] == 4
    assert [row["person_id"] for row in page["results"]] == [2, 1]
    bad = client.get("/api/alerts", {"state": "sleeping"})
    assert bad.status_code == 400
    assert "state" in bad.json()["extra"]["fields"]


def test_siren_switch_is_stored_pushed_and_audited(
    store: dict[str, Any],
    client_for: Callable[[str], Any],
    alerts_channel: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    capture = django_capture_on_commit_callbacks
    layer, channel = alerts_channel
    site_id = store["site"].pk
    async_to_sync(layer.group_add)(site_alerts_group(site_id), channel)
    client = client_for("staff")
    assert client.get(f"/api/sites/{site_id}/siren").json()["on"] is False
    with capture(execute=True):
        response = client.put(f"/api/sites/{site_id}/siren", {"on": True}, format="json")
    assert response.status_code == 200
    assert response.json()["on"] is True
    assert receive(layer, channel) == {"type": "siren.changed", "site_id": site_id, "on": True}
    assert client.get(f"/api/sites/{site_id}/siren").json()["on"] is True
    assert client.get(f"/api/sites/{store['other_site'].pk}/siren").json()["on"] is False
    assert client.put(f"/api/sites/{site_id}/siren", {}, format="json").status_code == 400
    assert client.get("/api/sites/999999/siren").status_code == 404
    from server.audit.models import AuditLog

    assert AuditLog.objects.filter(action="siren_on").count() == 1
