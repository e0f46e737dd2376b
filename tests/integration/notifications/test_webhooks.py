"""Alert notifications through the outbox to a real local HTTP receiver: rule matching (site, kind, schedule in
the site's time zone), HMAC signatures, retries with back-off, the delivery log, the test button's endpoint, and
pending deliveries resumed by a new dispatcher (a restarted server)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from server.alerts import services as alert_services
from server.inventory.models import Site, Zone
from server.notifications.dispatcher import Dispatcher, DispatcherConfig
from server.notifications.models import Delivery, DeliveryStatus, NotificationRule
from server.notifications.signing import verify

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

FAST = DispatcherConfig(poll_s=0.05, max_attempts=4, retry_base_s=0.1, retry_max_s=0.4, timeout_s=5)
# Tuesday 1 December 2026: 10:00 UTC is 11:00 in Berlin (opening hours), 21:00 UTC is 22:00 (closed).
OPEN_HOURS = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
CLOSED_HOURS = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
OPENING = [{"days": [0, 1, 2, 3, 4, 5], "start": "09:00", "end": "20:00"}]


def us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def incident(
    site: Site, *, opened: datetime, kind: str = "warning", person: int = 7, at: datetime | None = None
):
    zone = Zone.objects.get(site=site)
    return alert_services.alert_incident_record(
        site_id=site.pk,
        zone_id=zone.pk,
        person_id=person,
        opened_us=us(opened),
        time_us=us(at or opened),
        kind=kind,
        message="An unidentified person approached the secure area",
        employee_id=None,
        person_name=None,
        identity_certain=True,
        x_m=9.0,
        y_m=9.0,
        distance_m=1.0,
        camera_ids=[1],
        alarm_us=us(at or opened) if kind == "alarm" else None,
    )


def rule(name: str, **fields: Any) -> NotificationRule:
    values: dict[str, Any] = {"channel": "webhook", "url": "http://127.0.0.1:9/x", "secret": "s3cret"}
    values.update(fields)
    return NotificationRule.objects.create(name=name, **values)


def drain(dispatcher: Dispatcher, until: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dispatcher.run_once()
        if until():
            return
        time.sleep(0.05)
    raise AssertionError("the deliveries did not reach the expected state in time")


def test_alerts_queue_one_delivery_per_matching_rule(site: Site) -> None:
    other = Site.objects.create(name="Other")
    every_site = rule("every site")
    this_site = rule("this site", site=site)
    rule("other site", site=other)
    alarms_only = rule("alarms only", alert_kinds=["alarm"])
    after_hours = rule("after hours", schedule_mode="outside", schedule_windows=OPENING)
    rule("disabled", enabled=False)

    alert = incident(site, opened=OPEN_HOURS)
    opened = Delivery.objects.filter(alert_id=alert.pk, event="alert.opened")
    assert {d.rule_id for d in opened} == {every_site.pk, this_site.pk}
    row = opened.get(rule=every_site)
    assert row.payload["site"] == {"id": site.pk, "name": site.name, "slug": "store-12-main-street"}
    assert row.payload["alert"]["kind"] == "warning"
    assert row.status == DeliveryStatus.PENDING

    incident(site, opened=OPEN_HOURS, at=OPEN_HOURS + timedelta(seconds=1))  # an update: nothing new
    assert Delivery.objects.filter(alert_id=alert.pk).count() == 2
    incident(site, opened=OPEN_HOURS, kind="alarm", at=OPEN_HOURS + timedelta(seconds=2))
    escalated = Delivery.objects.filter(alert_id=alert.pk, event="alert.escalated")
    assert {d.rule_id for d in escalated} == {every_site.pk, this_site.pk, alarms_only.pk}

    night = incident(site, opened=CLOSED_HOURS, person=8)
    assert after_hours.pk in set(Delivery.objects.filter(alert_id=night.pk).values_list("rule_id", flat=True))


def test_the_outbox_row_goes_with_the_alert_transaction(site: Site) -> None:
    rule("every site")
    seen: list[int] = []

    def failing_alert_transaction() -> None:
        with transaction.atomic():
            incident(site, opened=OPEN_HOURS)
            seen.append(Delivery.objects.count())
            raise RuntimeError("the alert's transaction fails")

    with pytest.raises(RuntimeError):
        failing_alert_transaction()
    assert seen == [1]
    assert Delivery.objects.count() == 0


def test_webhook_retries_with_backoff_then_delivers_signed(
    site: Site, receiver: Any, client_for: Any
) -> None:
    receiver.statuses = [500, 500, 200]
    admin = client_for("admin")
    created = admin.post(
        "/api/notification-rules/",
        {"name": "ops", "channel": "webhook", "url": receiver.url, "site": site.pk},
        format="json",
    )
    assert created.status_code == 201, created.content
    secret = created.json()["shown_secret"]
    assert len(secret) >= 32
    rule_id = created.json()["id"]
    assert "secret" not in admin.get(f"/api/notification-rules/{rule_id}/").json()
    assert admin.get(f"/api/notification-rules/{rule_id}/").json()["secret_set"] is True

    alert = incident(site, opened=OPEN_HOURS)
    delivery = Delivery.objects.get(alert_id=alert.pk)
    dispatcher = Dispatcher(FAST)
    dispatcher.run_once()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert delivery.response_code == 500
    assert delivery.last_error.startswith("HTTP 500")
    assert delivery.next_attempt_at > timezone.now()  # backed off, not retried at once
    dispatcher.run_once()
    assert len(receiver.requests) == 1

    drain(dispatcher, lambda: Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED)
    delivery.refresh_from_db()
    assert delivery.attempts == 3
    assert delivery.response_code == 200
    assert delivery.last_error == ""
    assert len(receiver.requests) == 3
    for request in receiver.requests:
        assert request.headers["X-Retail-Event"] == "alert.opened"
        assert request.headers["X-Retail-Delivery"] == str(delivery.pk)
        header = request.headers["X-Retail-Signature"]
        assert verify(secret=secret, header=header, body=request.body, now=int(time.time()))
        assert not verify(secret="wrong", header=header, body=request.body, now=int(time.time()))
    body = receiver.requests[-1].json()
    assert body["id"] == delivery.pk
    assert body["alert"]["id"] == alert.pk
    assert body["site"]["slug"] == "store-12-main-street"

    log = admin.get("/api/notification-deliveries/", {"rule": rule_id}).json()
    assert log["count"] == 1
    assert log["results"][0]["status"] == "delivered"
    assert log["results"][0]["attempts"] == 3


def test_failed_after_the_last_attempt_and_retried_from_the_log(
    site: Site, receiver: Any, client_for: Any
) -> None:
    receiver.statuses = [503]
    hook = rule("down", url=receiver.url)
    admin = client_for("admin")
    answer = admin.post(f"/api/notification-rules/{hook.pk}/test/")
    assert answer.status_code == 202
    assert answer.json()["event"] == "test"
    delivery_id = answer.json()["id"]
    dispatcher = Dispatcher(FAST)
    drain(dispatcher, lambda: Delivery.objects.get(pk=delivery_id).status == DeliveryStatus.FAILED)
    failed = Delivery.objects.get(pk=delivery_id)
    assert failed.attempts == FAST.max_attempts
    assert failed.last_error.startswith("HTTP 503")
    assert len(receiver.requests) == FAST.max_attempts
    assert receiver.requests[0].json()["event"] == "test"

    assert admin.post(f"/api/notification-deliveries/{delivery_id}/retry/").status_code == 202
    assert admin.post(f"/api/notification-deliveries/{delivery_id}/retry/").status_code == 409  # pending now
    receiver.statuses = [200]
    drain(dispatcher, lambda: Delivery.objects.get(pk=delivery_id).status == DeliveryStatus.DELIVERED)


def test_unreachable_receiver_is_recorded(site: Site) -> None:
    hook = rule("nowhere", url="http://127.0.0.1:9/none")
    alert = incident(site, opened=OPEN_HOURS)
    dispatcher = Dispatcher(FAST)
    dispatcher.run_once()
    delivery = Delivery.objects.get(alert_id=alert.pk, rule=hook)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.response_code is None
    assert "ConnectError" in delivery.last_error


@pytest.mark.django_db(transaction=True)
def test_pending_deliveries_resume_in_a_new_dispatcher(receiver: Any) -> None:
    """What a stopped server left (pending rows; a row it was sending when it died) a new one sends."""
    hook = rule("ops", url=receiver.url)
    now = timezone.now()
    pending = Delivery.objects.create(
        rule=hook,
        channel="webhook",
        event="test",
        payload={"event": "test"},
        next_attempt_at=now,
        created_at=now,
    )
    orphan = Delivery.objects.create(
        rule=hook,
        channel="webhook",
        event="test",
        payload={"event": "test"},
        status=DeliveryStatus.SENDING,
        lease_until=now - timedelta(seconds=1),
        attempts=1,
        next_attempt_at=now,
        created_at=now,
    )
    dispatcher = Dispatcher(FAST)
    dispatcher.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            states = set(Delivery.objects.values_list("status", flat=True))
            if states == {DeliveryStatus.DELIVERED}:
                break
            time.sleep(0.05)
    finally:
        dispatcher.stop()
    assert Delivery.objects.get(pk=pending.pk).status == DeliveryStatus.DELIVERED
    assert Delivery.objects.get(pk=orphan.pk).attempts == 2
    assert sorted(int(r.headers["X-Retail-Delivery"]) for r in receiver.requests) == [pending.pk, orphan.pk]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "channel": "webhook"}, "url"),
        ({"name": "x", "channel": "webhook", "url": "ftp://x"}, "url"),
        ({"name": "x", "channel": "email", "recipients": []}, "recipients"),
        ({"name": "x", "channel": "email", "recipients": ["not-an-address"]}, "recipients"),
        ({"name": "x", "channel": "mqtt", "schedule_mode": "outside"}, "schedule_windows"),
        (
            {
                "name": "x",
                "channel": "mqtt",
                "schedule_windows": [{"days": [9], "start": "09:00", "end": "10:00"}],
            },
            "schedule_windows",
        ),
        ({"name": "x", "channel": "mqtt", "alert_kinds": ["fire"]}, "alert_kinds"),
        ({"name": "x", "channel": "pigeon"}, "channel"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(client_for: Any, body: dict[str, Any], field: str) -> None:
    answer = client_for("admin").post("/api/notification-rules/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in str(answer.json()["extra"]["fields"]), answer.json()
    assert NotificationRule.objects.count() == 0


@pytest.mark.parametrize("role", ["staff", "installer"])
def test_only_admins_see_rules_and_the_log(client_for: Any, role: str) -> None:
    client = client_for(role)
    assert client.get("/api/notification-rules/").status_code == 403
    assert client.get("/api/notification-deliveries/").status_code == 403


def test_rule_changes_are_audited_without_the_secret(client_for: Any) -> None:
    from server.audit.models import AuditLog

    admin = client_for("admin")
    created = admin.post(
        "/api/notification-rules/",
        {"name": "ops", "channel": "webhook", "url": "https://example.test/h", "secret": "top-secret-key"},
        format="json",
    )
    rule_id = created.json()["id"]
    assert created.json()["shown_secret"] == "top-secret-key"
    admin.patch(f"/api/notification-rules/{rule_id}/", {"secret": "another-secret"}, format="json")
    admin.delete(f"/api/notification-rules/{rule_id}/")
    entries = AuditLog.objects.filter(object_type="notifications.notificationrule").order_by("id")
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert "secret" not in str([e.changes for e in entries]).replace('"secret": ["***", "***"]', "").replace(
        "'secret': ['***', '***']", ""
    )
    assert "top-secret-key" not in str([e.changes for e in entries])
