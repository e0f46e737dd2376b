"""Site condition alerts: the analytics' capacity events and "open another till" queue events become alert rows
(opened, then closed) pushed to the site's alerts group with the exact counts, and reach the notification rules
that select their kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from server.alerts.incidents import IncidentRecorder, close_stale_incidents
from server.alerts.models import Alert, AlertKind
from server.analytics import AnalyticsConfig, FloorGrid, SiteAnalytics
from server.analytics.types import CapacityEvent, QueueAlert, QueueThresholds
from server.analytics.types import Zone as Zone_
from server.analytics.types import ZoneKind as AnalyticsZoneKind
from server.audit.models import AuditLog
from server.insights.processor import _alert_events
from server.insights.selectors import site_config_revision, site_setup
from server.inventory.models import Zone, ZoneKind
from server.notifications.models import Delivery, NotificationRule
from server.realtime.groups import site_alerts_group
from server.realtime.publisher import LivePublisher
from tests.integration.api.test_alerts import T0_US, _frame, _pushed, alerts_channel

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
__all__ = ["alerts_channel"]  # the fixture, used by name


def _drain(events: list[tuple[int, Any]], layer: Any) -> IncidentRecorder:
    recorder = IncidentRecorder(LivePublisher(rate_hz=5, layer=layer))
    for site_id, event in events:
        recorder(site_id, event)
    async_to_sync(recorder.drain)()
    return recorder


def _at(t_s: float) -> datetime:
    return datetime.fromtimestamp(T0_US / 1e6, tz=UTC) + timedelta(seconds=t_s)


def test_over_capacity_is_one_alert_row_opened_then_closed(
    store: dict[str, Any], alerts_channel: Any
) -> None:
    """A capacity of 2: a third person in opens a capacity alert (pushed, notified to a rule of that kind, not to
    an alarms-only rule), they leave and it closes; going over again is a second row."""
    layer, channel = alerts_channel
    site_id = store["site"].pk
    async_to_sync(layer.group_add)(site_alerts_group(site_id), channel)
    capacity_rule = NotificationRule.objects.create(
        name="capacity", channel="webhook", url="http://127.0.0.1:9/", alert_kinds=["capacity"]
    )
    NotificationRule.objects.create(
        name="alarms", channel="webhook", url="http://127.0.0.1:9/", alert_kinds=["alarm"]
    )
    analytics = SiteAnalytics(
        AnalyticsConfig(site_id=site_id, zones=(), grid=FloorGrid(0.0, 0.0, 30.0, 20.0, 1.0), capacity=2)
    )
    crowd = {1: (5.0, 5.0), 2: (6.0, 5.0), 3: (7.0, 5.0)}
    timeline = [
        (0.0, {1: crowd[1], 2: crowd[2]}),
        (1.0, crowd),
        (2.0, crowd),
        (3.0, {1: crowd[1]}),
        (9.0, crowd),
    ]
    events: list[tuple[int, Any]] = []
    for t_s, people in timeline:
        update = analytics.update(_frame(site_id, t_s, people), {})
        events += [(site_id, event) for event in _alert_events(update)]
    assert [type(event) for _, event in events] == [CapacityEvent] * 3
    for event in events:
        _drain([event], layer)
    rows = list(Alert.objects.filter(site_id=site_id).order_by("raised_at"))
    assert [(row.kind, row.zone_id, row.person_id) for row in rows] == [("capacity", None, None)] * 2
    first, second = rows
    assert (first.raised_at, first.closed_at, second.closed_at) == (_at(1.0), _at(3.0), None)
    assert first.message == "Back within capacity: 1 people inside for a capacity of 2"
    assert second.message == "Over capacity: 3 people inside for a capacity of 2"
    pushed = _pushed(layer, channel)
    assert [(event["alert"]["id"], event["change"]) for event in pushed] == [
        (first.pk, "opened"),
        (first.pk, "closed"),
        (second.pk, "opened"),
    ]
    assert pushed[-1]["alert"]["kind"] == "capacity"
    assert pushed[-1]["counts"] == {"unacknowledged": 2, "unacknowledged_alarms": 0, "ongoing": 1, "total": 2}
    assert Delivery.objects.filter(rule=capacity_rule).count() == 2  # each opening, not the closing
    assert Delivery.objects.exclude(rule=capacity_rule).count() == 0


def test_open_another_till_is_an_alert_of_its_queue_zone(store: dict[str, Any], alerts_channel: Any) -> None:
    layer, channel = alerts_channel
    site_id = store["site"].pk
    queue = Zone.objects.create(
        site=store["site"], name="Tills", kind=ZoneKind.QUEUE, polygon=[[0, 0], [4, 0], [4, 4], [0, 4]]
    )
    async_to_sync(layer.group_add)(site_alerts_group(site_id), channel)
    opened = QueueAlert(zone_id=queue.pk, open=True, length=7, predicted_wait_s=312.4, time_us=T0_US)
    closed = QueueAlert(
        zone_id=queue.pk, open=False, length=2, predicted_wait_s=80.0, time_us=T0_US + 90_000_000
    )
    # Repeated events (a replay) change nothing more.
    _drain([(site_id, opened), (site_id, opened)], layer)
    row = Alert.objects.get(site_id=site_id)
    assert (row.kind, row.zone_id, row.closed_at) == (AlertKind.QUEUE, queue.pk, None)
    assert row.message == "Open another till: 7 waiting in Tills, predicted wait 312 s"
    _drain([(site_id, closed), (site_id, closed)], layer)
    row.refresh_from_db()
    assert row.closed_at == _at(90.0)
    assert row.message == "Queue back to normal: 2 waiting in Tills, predicted wait 80 s"
    assert Alert.objects.filter(site_id=site_id).count() == 1
    assert [event["change"] for event in _pushed(layer, channel)] == ["opened", "closed"]


def test_conditions_on_when_the_analytics_stop_close_their_rows(
    store: dict[str, Any], alerts_channel: Any
) -> None:
    """The analytics' flush (a site released to another worker, a shutdown) ends the conditions still on: their
    rows close at the last frame, saying why, and the site's ongoing count goes back to 0."""
    layer, channel = alerts_channel
    site_id = store["site"].pk
    queue = Zone.objects.create(
        site=store["site"], name="Tills", kind=ZoneKind.QUEUE, polygon=[[0, 0], [4, 0], [4, 4], [0, 4]]
    )
    async_to_sync(layer.group_add)(site_alerts_group(site_id), channel)
    analytics = SiteAnalytics(
        AnalyticsConfig(
            site_id=site_id,
            zones=(
                Zone_(
                    queue.pk,
                    "Tills",
                    AnalyticsZoneKind.QUEUE,
                    ((0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0)),
                ),
            ),
            grid=FloorGrid(0.0, 0.0, 30.0, 20.0, 1.0),
            capacity=2,
            queue_thresholds=(QueueThresholds(queue.pk, 3, None, 0.5),),
        )
    )
    waiting = {1: (1.0, 1.0), 2: (2.0, 1.0), 3: (3.0, 1.0)}
    events: list[tuple[int, Any]] = []
    for t_s in (0.0, 0.5, 1.0, 1.5):
        events += [(site_id, e) for e in _alert_events(analytics.update(_frame(site_id, t_s, waiting), {}))]
    events += [(site_id, event) for event in _alert_events(analytics.flush())]
    _drain(events, layer)
    rows = {row.kind: row for row in Alert.objects.filter(site_id=site_id)}
    assert set(rows) == {AlertKind.CAPACITY, AlertKind.QUEUE}
    assert (rows[AlertKind.CAPACITY].raised_at, rows[AlertKind.CAPACITY].closed_at) == (_at(0.0), _at(1.5))
    assert rows[AlertKind.CAPACITY].message == "Over capacity ended: the site's analytics stopped"
    assert (rows[AlertKind.QUEUE].zone_id, rows[AlertKind.QUEUE].closed_at) == (queue.pk, _at(1.5))
    assert rows[AlertKind.QUEUE].message == "Open another till (Tills) ended: the site's analytics stopped"
    pushed = _pushed(layer, channel)
    assert [event["change"] for event in pushed] == ["opened", "opened", "closed", "closed"]
    assert pushed[-1]["counts"]["ongoing"] == 0


def test_a_condition_lasting_long_is_not_closed_as_stale(store: dict[str, Any], alerts_channel: Any) -> None:
    """Incidents are re-reported every second, conditions only on and off: the stale sweep leaves them open."""
    layer, _ = alerts_channel
    site_id = store["site"].pk
    _drain([(site_id, CapacityEvent(over=True, occupancy=9, capacity=8, time_us=T0_US))], layer)
    Alert.objects.filter(site_id=site_id).update(reported_at=timezone.now() - timedelta(hours=2))
    close_stale_incidents()
    assert Alert.objects.get(site_id=site_id).closed_at is None


def test_queue_alert_thresholds_per_queue_zone(store: dict[str, Any], client_for: Any) -> None:
    """Read (the defaults until set), set by an admin (audited), taken by the site's analytics setup; a zone that
    is not a queue, or a bad value, is refused naming the field; staff may read but not set."""
    queue = Zone.objects.create(
        site=store["site"], name="Tills", kind=ZoneKind.QUEUE, polygon=[[0, 0], [4, 0], [4, 4], [0, 4]]
    )
    admin, viewer = client_for("admin"), client_for("staff")
    url = f"/api/zones/{queue.pk}/queue-alert"
    answer = viewer.get(url)
    assert answer.status_code == 200
    assert answer.json() == {"zone": queue.pk, "length": 6, "wait_s": 300.0, "after_s": 60.0, "default": True}
    assert viewer.put(url, {"length": 3, "wait_s": None, "after_s": 20}, format="json").status_code == 403
    revision = site_config_revision(store["site"].pk)
    answer = admin.put(url, {"length": 3, "wait_s": None, "after_s": 20}, format="json")
    # The running analytics reload a site's setup when its configuration revision moves (and only then).
    assert site_config_revision(store["site"].pk) > revision
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"zone": queue.pk, "length": 3, "wait_s": None, "after_s": 20.0, "default": False}
    assert admin.get(url).json()["length"] == 3
    assert AuditLog.objects.filter(object_type="alerts.queuealertsetting", action="update").count() == 1
    setup = site_setup(store["site"].pk)
    assert setup.analytics.queue_thresholds == (QueueThresholds(queue.pk, 3, None, 20.0),)
    bad = admin.put(url, {"length": 0, "wait_s": None, "after_s": 20}, format="json")
    assert bad.status_code == 400
    assert "length" in bad.json()["extra"]["fields"]
    other = admin.put(
        f"/api/zones/{store['zone'].pk}/queue-alert",
        {"length": 3, "wait_s": None, "after_s": 20},
        format="json",
    )
    assert other.status_code == 400
    assert other.json()["code"] == "not_a_queue"
    assert admin.get("/api/zones/999999/queue-alert").status_code == 404
