"""Alerts: raised by the analytics (persisted, returned ready to push), filtered, acknowledged and resolved by
staff with the change pushed to the site's alerts group; the siren per site."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from server.alerts.incidents import IncidentRecorder, close_stale_incidents
from server.alerts.models import Alert, AlertState
from server.alerts.services import alert_incident_record, alert_raise
from server.analytics import AccessAlert, AnalyticsConfig, FloorGrid, PersonIdentity, SiteAnalytics
from server.analytics import Zone as AnalyticsZone
from server.analytics import ZoneKind as AnalyticsZoneKind
from server.fusion import FusedFrame
from server.realtime.events import AlertCounts, AlertPayload
from server.realtime.groups import site_alerts_group
from server.realtime.publisher import LivePublisher

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

# An alert as the alerts group carries it (the fields every pushed alert has).
ALERT: AlertPayload = {
    "id": 1,
    "zone": None,
    "kind": "warning",
    "person_id": None,
    "person_name": "",
    "message": "m",
    "x_m": None,
    "y_m": None,
    "camera_ids": [],
}


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


# ---------------------------------------------------------------- incidents


def _incident_config(store: dict[str, Any]) -> AnalyticsConfig:
    zone = store["restricted"]  # 10..14 x 10..14 m, level 2, warned from 1.5 m
    return AnalyticsConfig(
        site_id=store["site"].pk,
        zones=(
            AnalyticsZone(
                zone.pk,
                zone.name,
                AnalyticsZoneKind.RESTRICTED,
                tuple((float(x), float(y)) for x, y in zone.polygon),
                required_level=zone.required_level,
                warning_distance_m=zone.warning_distance_m,
            ),
        ),
        grid=FloorGrid(0.0, 0.0, 30.0, 20.0, 1.0),
    )


T0_US = 1_780_000_000_000_000


def _frame(site_id: int, t_s: float, people: dict[int, tuple[float, float]]) -> FusedFrame:
    ids = np.array(sorted(people), dtype=np.int64)
    return FusedFrame(
        site_id=site_id,
        time_us=T0_US + round(t_s * 1e6),
        global_ids=ids,
        floor_xy_m=np.array([people[g] for g in ids.tolist()], dtype=np.float64).reshape(-1, 2),
        velocities_mps=np.zeros((ids.size, 2)),
        last_seen_us=np.full(ids.size, T0_US + round(t_s * 1e6), dtype=np.int64),
        source_mask=np.array([[True, t_s >= 10.0]] * ids.size, dtype=np.bool_).reshape(-1, 2),
        camera_ids=np.array([4, 5], dtype=np.int64),
    )


def _drain(events: list[tuple[int, AccessAlert]], layer: Any) -> IncidentRecorder:
    recorder = IncidentRecorder(LivePublisher(rate_hz=5, layer=layer))
    for site_id, event in events:
        recorder(site_id, event)
    async_to_sync(recorder.drain)()
    return recorder


def _pushed(layer: Any, channel: str) -> list[dict[str, Any]]:
    events = []
    while True:
        try:
            events.append(receive_now(layer, channel))
        except TimeoutError:
            return events


def receive_now(layer: Any, channel: str) -> dict[str, Any]:
    async def bounded() -> dict[str, Any]:
        event: dict[str, Any] = await asyncio.wait_for(layer.receive(channel), timeout=0.05)
        return event

    return async_to_sync(bounded)()


def test_a_person_standing_30_s_in_a_restricted_zone_is_one_incident_row(
    store: dict[str, Any], alerts_channel: Any
) -> None:
    """Kim walks up to the stock room (warning), in (the same row becomes an alarm), stands 30 s, is unbound
    meanwhile (the row keeps her name, says the identity is uncertain), leaves (the row closes); her second
    entry is a second row. Live pushes carry the row and the exact counts."""
    layer, channel = alerts_channel
    site_id = store["site"].pk
    async_to_sync(layer.group_add)(site_alerts_group(site_id), channel)
    analytics = SiteAnalytics(_incident_config(store))
    kim = {21: PersonIdentity(store["employee"].pk, "Kim", 1)}
    path = [(0.0, (7.0, 12.0)), (0.5, (9.0, 12.0)), (1.0, (10.5, 12.0))]
    path += [(round(1.0 + 0.1 * k, 1), (12.0, 12.0)) for k in range(1, 300)]  # inside until 30.9 s
    path += [(31.0, (9.0, 12.0))] + [(round(31.5 + 0.5 * k, 1), (3.0, 12.0)) for k in range(20)]
    path += [(45.0, (11.0, 12.0)), (45.5, (12.0, 12.0))]
    events: list[tuple[int, AccessAlert]] = []
    for t_s, xy in path:
        identities = kim if t_s < 20.0 else {}  # unbound at 20 s
        update = analytics.update(_frame(site_id, t_s, {21: xy}), identities)
        events += [(site_id, event) for event in update.alerts]
    assert len(events) > 30  # the analytics report the incident while it lasts ...
    # ... one event at a time, as the runtime calls it (nothing coalesced: every event is written)
    for event in events:
        _drain([event], layer)
    rows = list(Alert.objects.filter(site_id=site_id).order_by("raised_at"))
    assert len(rows) == 2
    first, second = rows
    assert first.kind == "alarm"
    assert first.raised_at == datetime.fromtimestamp(T0_US / 1e6, tz=UTC) + timedelta(seconds=0.5)
    assert first.escalated_at == first.raised_at + timedelta(seconds=0.5)
    assert first.closed_at == first.raised_at + timedelta(seconds=30.5)  # the last frame in the band
    assert (first.person_id, first.zone_id, first.employee_id) == (
        21,
        store["restricted"].pk,
        store["employee"].pk,
    )
    assert first.person_name == "Kim"
    assert first.identity_certain is False
    assert first.message == "An unauthorized employee (Kim, identity uncertain) entered the secure area"
    assert (first.x_m, first.y_m, first.camera_ids) == (9.0, 12.0, [4, 5])
    assert first.state == AlertState.OPEN
    assert second.closed_at is None
    assert second.person_name == ""  # unbound by then: a visitor
    pushed = _pushed(layer, channel)
    assert {event["alert"]["id"] for event in pushed} == {first.pk, second.pk}
    changes = [event["change"] for event in pushed if event["alert"]["id"] == first.pk]
    assert changes[:2] == ["opened", "escalated"]
    assert changes[-1] == "closed"
    assert set(changes[2:-1]) == {"updated"}
    assert pushed[-1]["counts"] == {"unacknowledged": 2, "unacknowledged_alarms": 2, "ongoing": 1, "total": 2}


def test_incident_reports_coalesce_and_never_go_back(store: dict[str, Any], alerts_channel: Any) -> None:
    layer, _ = alerts_channel
    site_id, zone_id = store["site"].pk, store["restricted"].pk
    base = {
        "site_id": site_id,
        "zone_id": zone_id,
        "person_id": 5,
        "opened_us": T0_US,
        "message": "m",
        "employee_id": None,
        "person_name": None,
        "identity_certain": True,
        "y_m": 12.0,
        "distance_m": 0.0,
    }
    alert = alert_incident_record(
        **base, time_us=T0_US, kind="alarm", x_m=11.0, camera_ids=[4], alarm_us=T0_US
    )
    assert alert is not None
    newer = alert_incident_record(**base, time_us=T0_US + 2_000_000, kind="alarm", x_m=12.0, camera_ids=[5])
    assert newer is not None
    late = alert_incident_record(**base, time_us=T0_US + 1_000_000, kind="warning", x_m=13.0, camera_ids=[6])
    assert late is None  # older than the latest report: ignored
    stored = Alert.objects.get(pk=alert.pk)
    assert (stored.kind, stored.x_m, stored.camera_ids) == ("alarm", 12.0, [4, 5])
    # Found again under a new id (9): the same row, now of person 9.
    found = alert_incident_record(
        **{**base, "person_id": 9},
        key_person_id=5,
        time_us=T0_US + 2_500_000,
        kind="alarm",
        x_m=12.5,
        camera_ids=[],
    )
    assert found is not None
    assert (found.pk, found.person_id, found.x_m) == (alert.pk, 9, 12.5)
    closed = alert_incident_record(
        **base, time_us=T0_US + 8_000_000, kind="alarm", x_m=12.0, camera_ids=[], closed_us=T0_US + 3_000_000
    )
    assert closed is not None
    assert (
        alert_incident_record(**base, time_us=T0_US + 9_000_000, kind="alarm", x_m=1.0, camera_ids=[]) is None
    )
    # A new incident of the same person and zone closes one left open (the analytics restarted).
    left_open = alert_incident_record(
        **{**base, "opened_us": T0_US + 10_000_000},
        time_us=T0_US + 10_000_000,
        kind="warning",
        x_m=9.0,
        camera_ids=[],
    )
    assert left_open is not None
    again = alert_incident_record(
        **{**base, "opened_us": T0_US + 20_000_000},
        time_us=T0_US + 20_000_000,
        kind="warning",
        x_m=9.0,
        camera_ids=[],
    )
    assert again is not None
    assert Alert.objects.get(pk=left_open.pk).closed_at == left_open.raised_at
    assert Alert.objects.filter(closed_at__isnull=True).count() == 1
    with pytest.raises(ValueError, match="unknown alert kind"):
        alert_incident_record(**base, time_us=T0_US, kind="panic", x_m=1.0, camera_ids=[])
    # The newest event of an incident carries all of it: a burst is written once.
    analytics = SiteAnalytics(_incident_config(store))
    events = [
        (site_id, event)
        for k in range(30)
        for event in analytics.update(_frame(site_id, 0.1 * k, {33: (12.0, 12.0)}), {}).alerts
    ]
    recorder = _drain(events, layer)
    assert (recorder.recorded, recorder.failures) == (1, 0)
    assert Alert.objects.get(person_id=33).kind == "alarm"


def test_incidents_left_open_by_a_stopped_process_are_closed(store: dict[str, Any]) -> None:
    site_id, zone_id = store["site"].pk, store["restricted"].pk
    now_us = int(time.time() * 1e6)
    for person_id, age_s in ((1, 600), (2, 5)):
        alert_incident_record(
            site_id=site_id,
            zone_id=zone_id,
            person_id=person_id,
            opened_us=now_us - age_s * 1_000_000,
            time_us=now_us - age_s * 1_000_000,
            kind="warning",
            message="m",
            employee_id=None,
            person_name=None,
            identity_certain=True,
            x_m=9.0,
            y_m=9.0,
            distance_m=1.0,
            camera_ids=[],
        )
        # the server last heard of it that long ago (its process stopped): judged by the server's clock
        Alert.objects.filter(person_id=person_id).update(
            reported_at=datetime.now(tz=UTC) - timedelta(seconds=age_s)
        )
    assert close_stale_incidents() == 1
    assert list(Alert.objects.filter(closed_at__isnull=True).values_list("person_id", flat=True)) == [2]


def _open_alerts(site_id: int, count: int, **fields: Any) -> list[int]:
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    rows = Alert.objects.bulk_create(
        Alert(
            **{
                "site_id": site_id,
                "kind": "warning",
                "message": "m",
                "raised_at": at + timedelta(seconds=k),
                **fields,
            }
        )
        for k in range(count)
    )
    return [row.pk for row in rows]


def test_counts_are_exact_not_capped(store: dict[str, Any], client_for: Callable[[str], Any]) -> None:
    site_id = store["site"].pk
    _open_alerts(site_id, 488)
    _open_alerts(site_id, 12, kind="alarm", closed_at=datetime(2026, 3, 1, 13, 0, tzinfo=UTC))
    _open_alerts(site_id, 7, state=AlertState.ACKNOWLEDGED)
    _open_alerts(store["other_site"].pk, 3)
    client = client_for("staff")
    counts = client.get("/api/alerts/counts", {"site": site_id})
    assert counts.status_code == 200
    assert counts.json() == {"unacknowledged": 500, "unacknowledged_alarms": 12, "ongoing": 495, "total": 507}
    assert (
        client.get("/api/alerts/counts", {"site": site_id, "kind": "warning"}).json()["unacknowledged"] == 488
    )
    assert client.get("/api/alerts", {"site": site_id, "state": "open"}).json()["count"] == 500
    assert client.get("/api/alerts", {"site": site_id, "ongoing": "false"}).json()["count"] == 12
    assert client.get("/api/alerts/counts", {"site": site_id, "ongoing": "maybe"}).status_code == 400
    assert client_for("installer").get("/api/alerts/counts", {"site": site_id}).status_code == 403


def test_bulk_acknowledge_by_ids_and_by_filter(
    store: dict[str, Any],
    client_for: Callable[[str], Any],
    users: dict[str, Any],
    alerts_channel: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from server.audit.models import AuditLog

    layer, channel = alerts_channel
    site_id = store["site"].pk
    async_to_sync(layer.group_add)(site_alerts_group(site_id), channel)
    warnings = _open_alerts(site_id, 20)
    alarms = _open_alerts(site_id, 5, kind="alarm")
    elsewhere = _open_alerts(store["other_site"].pk, 4)
    client = client_for("staff")
    assert (
        client_for("installer").post("/api/alerts/acknowledge", {"ids": alarms}, format="json").status_code
        == 403
    )
    with django_capture_on_commit_callbacks(execute=True):
        by_ids = client.post("/api/alerts/acknowledge", {"ids": alarms[:3]}, format="json")
    assert by_ids.status_code == 200
    assert by_ids.json() == {"acknowledged": 3, "ids": alarms[:3]}
    event = receive(layer, channel)
    assert event["type"] == "alerts.acknowledged"
    assert event["ids"] == alarms[:3]
    assert event["acknowledged_by"] == users["staff"].pk
    assert event["counts"]["unacknowledged"] == 22
    with django_capture_on_commit_callbacks(execute=True):
        by_filter = client.post(
            "/api/alerts/acknowledge", {"filter": {"site": site_id, "kind": "warning"}}, format="json"
        )
    assert by_filter.json()["acknowledged"] == 20
    assert receive(layer, channel)["counts"]["unacknowledged"] == 2
    again = client.post("/api/alerts/acknowledge", {"ids": alarms}, format="json")  # 3 already acknowledged
    assert again.json() == {"acknowledged": 2, "ids": alarms[3:]}
    assert Alert.objects.filter(pk__in=warnings + alarms, state=AlertState.ACKNOWLEDGED).count() == 25
    assert Alert.objects.filter(pk__in=elsewhere, state=AlertState.OPEN).count() == 4
    assert set(Alert.objects.filter(pk__in=alarms).values_list("acknowledged_by", flat=True)) == {
        users["staff"].pk
    }
    audit = AuditLog.objects.filter(action="acknowledge", object_type="alerts.alert")
    assert sorted(int(entry.object_id) for entry in audit) == sorted(warnings + alarms)
    assert {entry.actor_username for entry in audit} == {"staff-user"}
    for body, field in [
        ({}, "ids"),
        ({"ids": []}, "ids"),
        ({"ids": [1], "filter": {"site": site_id}}, "ids"),
        ({"filter": {"kind": "warning"}}, "filter"),
        ({"filter": {"site": site_id, "state": "sleeping"}}, "filter.state"),
        ({"ids": ["x"]}, "ids"),
    ]:
        bad = client.post("/api/alerts/acknowledge", body, format="json")
        assert bad.status_code == 400, body
        assert field in bad.json()["extra"]["fields"], (body, bad.json())


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_socket_forwards_incident_changes_and_bulk_acknowledgements(
    users: dict[str, Any], alerts_channel: Any
) -> None:
    from asgiref.testing import ApplicationCommunicator  # channels.testing needs daphne
    from django.contrib.sessions.backends.db import SessionStore

    from server.inventory.models import Site
    from server.realtime.consumers import SiteConsumer
    from server.realtime.events import alert_event, alerts_acknowledged_event
    from tests.support.django_system import session_cookie

    layer, _ = alerts_channel
    site_id = Site.objects.create(name="Socket store").pk
    counts: AlertCounts = {"unacknowledged": 1, "unacknowledged_alarms": 0, "ongoing": 0, "total": 3}
    scope = {
        "type": "websocket",
        "path": f"/ws/sites/{site_id}/",
        "headers": [],
        "subprotocols": [],
        "user": users["staff"],
        "session": SessionStore(session_key=session_cookie(users["staff"].username)),
        "url_route": {"kwargs": {"site_id": site_id}},
    }

    async def scenario() -> list[dict[str, Any]]:
        communicator = ApplicationCommunicator(SiteConsumer.as_asgi(), scope)
        await communicator.send_input({"type": "websocket.connect"})
        assert (await communicator.receive_output(5))["type"] == "websocket.accept"
        assert json.loads((await communicator.receive_output(5))["text"])["type"] == "hello"
        group = site_alerts_group(site_id)
        await layer.group_send(
            group, alert_event(site_id=site_id, alert=ALERT, change="closed", counts=counts)
        )
        await layer.group_send(
            group,
            alerts_acknowledged_event(
                site_id=site_id,
                ids=[1, 2],
                acknowledged_at="2026-03-01T12:00:00+00:00",
                acknowledged_by=3,
                counts=counts,
            ),
        )
        received = [json.loads((await communicator.receive_output(5))["text"]) for _ in range(2)]
        await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await communicator.wait(5)
        return received

    changed, acknowledged = async_to_sync(scenario)()
    assert (changed["type"], changed["change"], changed["counts"]) == ("alert.changed", "closed", counts)
    assert (acknowledged["type"], acknowledged["ids"], acknowledged["counts"]) == (
        "alerts.acknowledged",
        [1, 2],
        counts,
    )


@pytest.mark.django_db(transaction=True)
def test_alerts_from_before_incidents_stay_valid_through_the_migration() -> None:
    """Rows of one-off alerts become closed incidents (closed when raised), named after their employee."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    # through 0003 (the data step) to the newest alerts migration, whose columns the model now reads
    before, after = [("alerts", "0001_initial")], executor.loader.graph.leaf_nodes("alerts")
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    site = old.get_model("inventory", "Site").objects.create(name="Old store")
    kim = old.get_model("people", "Employee").objects.create(name="Kim", badge_id="B-9")
    raised = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    Alert0 = old.get_model("alerts", "Alert")
    named = Alert0.objects.create(site=site, kind="alarm", employee=kim, message="In", raised_at=raised).pk
    visitor = Alert0.objects.create(site=site, kind="warning", message="Near", raised_at=raised).pk
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    migrated = {alert.pk: alert for alert in Alert.objects.filter(pk__in=[named, visitor])}
    assert (migrated[named].person_name, migrated[named].escalated_at) == ("Kim", raised)
    assert migrated[visitor].person_name == ""
    for alert in migrated.values():
        assert (alert.closed_at, alert.updated_at, alert.incident_key) == (raised, raised, None)
        assert alert.camera_ids == []
        assert alert.identity_certain is True
    assert Alert.objects.filter(closed_at__isnull=True).count() == 0
