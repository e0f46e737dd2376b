"""The background sender of the outbox: a thread that claims due deliveries, sends each over its channel and
records the outcome (delivered; or retried with back-off; failed once `NOTIFY_MAX_ATTEMPTS` are spent).

It never runs on the ingest or analytics path: alerts only write outbox rows. A pass sends each receiver's rows in
order, in a lane of its own, the lanes side by side (`lanes` threads): a receiver that hangs until the timeout holds
up its own rows only. When a send cannot reach its receiver at all (no answer: refused, timed out, not resolved),
the rest of that receiver's rows in the pass wait for the same retry time without spending an attempt, instead of
each waiting out the timeout in turn. Rows are claimed with a lease
(`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so several processes may each run a dispatcher); a row whose
process died while sending it is sent again once its lease ran out, and pending rows are picked up at start:
nothing queued is lost with a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import close_old_connections, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from server.notifications.backoff import retry_delay_s
from server.notifications.models import Channel, Delivery, DeliveryStatus, NotificationRule
from server.notifications.mqtt import MqttLink
from server.notifications.senders import SendResult, send_email, send_webhook

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatcherConfig:
    poll_s: float = 1.0
    batch: int = 20
    max_attempts: int = 8
    retry_base_s: float = 5.0
    retry_max_s: float = 3600.0
    lease_s: float = 120.0
    timeout_s: float = 10.0
    lanes: int = 4  # receivers sent to at the same time


def _lane(delivery: Delivery) -> Hashable:
    """The receiver a delivery goes to: its rule (a webhook URL, a set of mail recipients), or the one broker."""
    if delivery.channel == Channel.MQTT:
        return "mqtt"
    return ("rule", delivery.rule_id)


class Dispatcher:
    def __init__(self, config: DispatcherConfig, *, mqtt: MqttLink | None = None) -> None:
        self.config = config
        self.mqtt = mqtt
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failures = 0

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="notifications-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while self.run_once() and not self._stop.is_set():
                    pass
            except Exception:
                logger.exception("notification dispatch failed; retrying")
            finally:
                close_old_connections()
            self._wake.wait(self.config.poll_s)
            self._wake.clear()
        connections.close_all()  # this thread's own connection

    # -- one pass --------------------------------------------------------------------------------------------

    def _claim(self) -> list[Delivery]:
        now = timezone.now()
        due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
            status=DeliveryStatus.SENDING, lease_until__lt=now
        )
        with transaction.atomic():
            rows = list(
                Delivery.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("rule")
                .filter(due)
                .order_by("next_attempt_at", "id")[: self.config.batch]
            )
            if rows:
                lease_until = now + timedelta(seconds=self.lease_s)
                Delivery.objects.filter(pk__in=[row.pk for row in rows]).update(
                    status=DeliveryStatus.SENDING, lease_until=lease_until
                )
                for row in rows:
                    row.status, row.lease_until = DeliveryStatus.SENDING, lease_until
        return rows

    @property
    def lease_s(self) -> float:
        """The lease of one send: longer than a send may take (its timeout, twice, and a margin), whatever
        `lease_s` says, so that no other process takes a row over while it is still being sent."""
        return max(self.config.lease_s, 2 * self.config.timeout_s + 5)

    def _renew(self, row: Delivery) -> bool:
        """Take the row's lease again just before sending it; False when it ran out during the rows before it
        in this batch and another process claimed the row meanwhile (that one sends it: not twice)."""
        lease_until = timezone.now() + timedelta(seconds=self.lease_s)
        taken = Delivery.objects.filter(
            pk=row.pk, status=DeliveryStatus.SENDING, lease_until=row.lease_until
        ).update(lease_until=lease_until)
        if taken:
            row.lease_until = lease_until
        return bool(taken)

    def run_once(self) -> int:
        """Send every delivery due now (one batch); returns how many were claimed."""
        rows = self._claim()
        lanes: dict[Hashable, list[Delivery]] = {}
        for row in rows:
            lanes.setdefault(_lane(row), []).append(row)
        # Inside a transaction (a caller's atomic block) other connections would not see the claim: one lane at a
        # time, on this thread's connection.
        if len(lanes) <= 1 or self.config.lanes <= 1 or connection.in_atomic_block:
            for lane in lanes.values():
                self._send_lane(lane)
        else:
            with ThreadPoolExecutor(
                max_workers=min(self.config.lanes, len(lanes)), thread_name_prefix="notifications-lane"
            ) as pool:
                for future in [
                    pool.submit(self._send_lane_on_own_connection, lane) for lane in lanes.values()
                ]:
                    future.result()
        return len(rows)

    def _send_lane_on_own_connection(self, rows: list[Delivery]) -> None:
        try:
            self._send_lane(rows)
        finally:
            connections.close_all()  # this lane thread's own connection

    def _send_lane(self, rows: list[Delivery]) -> None:
        """One receiver's rows, in order; once one finds the receiver unreachable the rest wait with it."""
        for index, row in enumerate(rows):
            if self._stop.is_set():
                return  # the rest goes back to others once its lease ran out
            if not self._renew(row):
                logger.info("delivery %d was taken over by another dispatcher; not sent twice", row.pk)
                continue
            # The rule as it is now: one deleted (or its URL changed) while this lane worked through the rows
            # before is not sent to as it was when the batch was claimed.
            row.rule = NotificationRule.objects.filter(pk=row.rule_id).first() if row.rule_id else None
            try:
                result = self.send(row)
            except Exception as err:  # a sender's bug or a URL the client cannot encode: one failed attempt
                logger.exception("delivery %d (%s): the send raised", row.pk, row.channel)
                result = SendResult(ok=False, error=f"{type(err).__name__}: {err}"[:500])
            retry_at = self._record(row, result)
            if retry_at is not None and result.response_code is None:
                self._defer(rows[index + 1 :], retry_at, result.error)
                return

    def _defer(self, rows: list[Delivery], retry_at: datetime, error: str) -> None:
        """Put claimed, untried rows back for `retry_at`, their attempts unspent (their receiver is unreachable)."""
        for row in rows:
            Delivery.objects.filter(
                pk=row.pk, status=DeliveryStatus.SENDING, lease_until=row.lease_until
            ).update(
                status=DeliveryStatus.PENDING,
                lease_until=None,
                next_attempt_at=retry_at,
                last_error=f"not tried: its receiver was unreachable ({error})"[:500],
            )
        if rows:
            logger.info("%d deliveries to an unreachable receiver wait for its retry", len(rows))

    def send(self, delivery: Delivery) -> SendResult:
        rule = delivery.rule
        if rule is None:
            return SendResult(ok=False, error="its rule was deleted")
        if delivery.channel == Channel.WEBHOOK:
            return send_webhook(
                url=rule.url,
                secret=rule.secret,
                delivery_id=delivery.pk,
                event=delivery.event,
                payload=delivery.payload,
                timeout_s=self.config.timeout_s,
            )
        if delivery.channel == Channel.EMAIL:
            return send_email(
                recipients=list(rule.recipients), payload=delivery.payload, timeout_s=self.config.timeout_s
            )
        if delivery.channel == Channel.MQTT:
            if self.mqtt is None:
                return SendResult(ok=False, error="MQTT_URL is not set: no broker to publish to")
            return self.mqtt.send_alert({"id": delivery.pk, **delivery.payload})
        return SendResult(ok=False, error=f"unknown channel {delivery.channel!r}")

    def _record(self, delivery: Delivery, result: SendResult) -> datetime | None:
        """Store the outcome of one attempt; returns the time of the next attempt when one is due."""
        now = timezone.now()
        retry_at: datetime | None = None
        attempts = delivery.attempts + 1
        update: dict[str, object] = {
            "attempts": attempts,
            "response_code": result.response_code,
            "lease_until": None,
        }
        if result.ok:
            self.sent += 1
            update.update(status=DeliveryStatus.DELIVERED, delivered_at=now, last_error="")
        elif delivery.rule is None or attempts >= self.config.max_attempts:
            self.failures += 1
            update.update(status=DeliveryStatus.FAILED, last_error=result.error[:500])
            logger.warning(
                "delivery %d (%s) failed for good: %s", delivery.pk, delivery.channel, result.error
            )
        else:
            self.failures += 1
            delay = retry_delay_s(attempts, base_s=self.config.retry_base_s, max_s=self.config.retry_max_s)
            retry_at = now + timedelta(seconds=delay)
            update.update(
                status=DeliveryStatus.PENDING, last_error=result.error[:500], next_attempt_at=retry_at
            )
            logger.info(
                "delivery %d (%s) attempt %d failed (%s); retry in %.1f s",
                delivery.pk,
                delivery.channel,
                attempts,
                result.error,
                delay,
            )
        recorded = Delivery.objects.filter(
            pk=delivery.pk, status=DeliveryStatus.SENDING, lease_until=delivery.lease_until
        ).update(**update)
        if not recorded:
            logger.warning("delivery %d changed while it was sent; its outcome is not recorded", delivery.pk)
            return None
        return retry_at


_lock = threading.Lock()
_current: Dispatcher | None = None


def install(dispatcher: Dispatcher | None) -> Dispatcher | None:
    """Make `dispatcher` the one `wake()` reaches (None: none); returns the previous."""
    global _current
    with _lock:
        previous, _current = _current, dispatcher
        return previous


def wake() -> None:
    """Tell this process's dispatcher that rows are due (new rows are found by its polling anyway)."""
    with _lock:
        current = _current
    if current is not None:
        current.wake()
