"""Adversarial review of the dispatcher's lanes (one thread per receiver in a pass): every row sent once and its
outcome recorded under its own lease, no database connection left behind by the lane threads, a rule deleted in
the middle of a pass, and stop() while lanes are sending. Real PostgreSQL and local HTTP receivers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from server.notifications.dispatcher import Dispatcher, DispatcherConfig
from server.notifications.models import Delivery, DeliveryStatus, NotificationRule
from tests.integration.notifications.test_webhook_attacks import _Server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def slow() -> Iterator[_Server]:
    """A receiver that answers 200 after 1.5 s (test_webhook_attacks' server)."""
    server = _Server("slow")
    yield server
    server.close()


def _rows(rule: NotificationRule, count: int) -> list[Delivery]:
    now = timezone.now()
    return [
        Delivery.objects.create(
            rule=rule,
            channel="webhook",
            event="test",
            payload={"event": "test"},
            next_attempt_at=now,
            created_at=now,
        )
        for _ in range(count)
    ]


def _connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def test_lanes_send_each_row_once_and_leave_no_connection_behind(settings: Any, receiver: Any) -> None:
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = True
    rules = [
        NotificationRule.objects.create(name=f"r{i}", channel="webhook", url=receiver.url, secret="s")
        for i in range(6)
    ]
    before = _connections()
    dispatcher = Dispatcher(DispatcherConfig(batch=6, timeout_s=5, lanes=4))
    rows = []
    for _ in range(15):  # 15 passes of 6 lanes each
        rows += [row for rule in rules for row in _rows(rule, 1)]
        assert dispatcher.run_once() == 6
    time.sleep(0.2)  # a closed backend leaves pg_stat_activity a moment later
    assert _connections() <= before, "lane threads left database connections open"
    sent = sorted(int(r.headers["X-Retail-Delivery"]) for r in receiver.requests)
    assert sent == sorted(row.pk for row in rows)  # each once
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}
    assert not Delivery.objects.exclude(lease_until=None).exists()


def test_stop_while_lanes_send_leaves_the_untried_rows_to_a_later_pass(settings: Any, slow: _Server) -> None:
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = True
    rules = [
        NotificationRule.objects.create(name=f"slow{i}", channel="webhook", url=slow.url, secret="s")
        for i in range(2)
    ]
    rows = [row for rule in rules for row in _rows(rule, 3)]
    dispatcher = Dispatcher(DispatcherConfig(poll_s=0.05, batch=10, timeout_s=2, lanes=4, lease_s=1.0))
    dispatcher.start()
    time.sleep(0.5)
    dispatcher.stop(timeout_s=10)
    assert len(slow.requests) == 2  # the first row of each lane, sent when stop() came
    states = {row.pk: Delivery.objects.get(pk=row.pk) for row in rows}
    assert sum(d.status == DeliveryStatus.DELIVERED for d in states.values()) == 2
    untried = [d for d in states.values() if d.status == DeliveryStatus.SENDING]
    assert len(untried) == 4
    assert all(d.attempts == 0 and d.lease_until is not None for d in untried)
    lease_ends = max(d.lease_until.timestamp() for d in untried if d.lease_until is not None)
    time.sleep(max(0.0, lease_ends - time.time()) + 0.1)
    Dispatcher(DispatcherConfig(batch=10, timeout_s=5, lanes=4)).run_once()
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    assert sorted(slow.requests) == sorted(row.pk for row in rows)


def test_a_rule_deleted_while_its_lane_waits_is_not_sent_to_after(settings: Any, slow: _Server) -> None:
    """Deleting a rule (its receiver turned out wrong) while a pass has its rows in hand: the rows still queued
    in the lane went to the deleted rule's URL."""
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = True
    rule = NotificationRule.objects.create(name="wrong", channel="webhook", url=slow.url, secret="s")
    rows = _rows(rule, 3)
    dispatcher = Dispatcher(DispatcherConfig(batch=10, timeout_s=5, lanes=4))

    def one_pass() -> None:
        try:
            dispatcher.run_once()  # one lane: on this thread's own connection
        finally:
            connections.close_all()

    thread = threading.Thread(target=one_pass)
    thread.start()
    time.sleep(0.5)  # the first row is being sent
    NotificationRule.objects.filter(pk=rule.pk).delete()
    thread.join(20)
    assert slow.requests == [rows[0].pk]
    assert set(Delivery.objects.filter(pk__in=[r.pk for r in rows[1:]]).values_list("status", flat=True)) == {
        DeliveryStatus.FAILED
    }
