"""MQTT against a real broker (Mosquitto): alert notifications on per-site topics, retained live state read from
the live state, Home Assistant discovery, the connection's status and last will, and reconnecting after the
broker restarts."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server.inventory.models import Site, Zone
from server.livestate import SiteSnapshot
from server.livestate.memory import InMemoryLiveState
from server.notifications.dispatcher import Dispatcher, DispatcherConfig
from server.notifications.models import Delivery, DeliveryStatus, NotificationRule
from server.notifications.mqtt import MqttConfig, MqttLink
from server.notifications.state import MqttStatePublisher
from tests.integration.notifications.test_webhooks import incident
from tests.support.services import _mosquitto_bin, _mqtt_answers, free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@dataclass
class Subscriber:
    """A separate MQTT client that records every message under its topic filters."""

    url: str
    filters: list[str]
    messages: list[tuple[str, str, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        host, port = self.url.removeprefix("mqtt://").rsplit(":", 1)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{uuid.uuid4().hex[:8]}")
        subscribed = threading.Event()

        def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
            client.subscribe([(f, 1) for f in self.filters])

        def on_subscribe(*args: Any) -> None:
            subscribed.set()

        def on_message(client: Any, userdata: Any, message: Any) -> None:
            with self.lock:
                self.messages.append((message.topic, message.payload.decode(), bool(message.retain)))

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect(host, int(port))
        self.client.loop_start()
        assert subscribed.wait(10), "the subscriber did not subscribe"

    def wait(self, topic: str, timeout_s: float = 10.0) -> tuple[str, bool]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                found = [(payload, retain) for t, payload, retain in self.messages if t == topic]
            if found:
                return found[-1]
            time.sleep(0.02)
        raise AssertionError(f"nothing on {topic}; got {[t for t, _, _ in self.messages]}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def link(mqtt_url: str, prefix: str) -> Iterator[MqttLink]:
    link = MqttLink(MqttConfig(url=mqtt_url, prefix=prefix, ha_discovery=True, ha_prefix=f"{prefix}-ha"))
    link.start()
    assert link.wait_connected(10), "no connection to the broker"
    yield link
    link.stop()


def subscribe(url: str, *filters: str) -> Subscriber:
    return Subscriber(url=url, filters=list(filters))


def test_alert_notification_on_the_site_topic(site: Site, link: MqttLink, mqtt_url: str, prefix: str) -> None:
    subscriber = subscribe(mqtt_url, f"{prefix}/#")
    try:
        NotificationRule.objects.create(name="broker", channel="mqtt", site=site)
        alert = incident(site, opened=datetime(2026, 12, 1, 21, 0, tzinfo=UTC), kind="alarm")
        Dispatcher(DispatcherConfig(), mqtt=link).run_once()
        delivery = Delivery.objects.get(alert_id=alert.pk)
        assert delivery.status == DeliveryStatus.DELIVERED, delivery.last_error
        payload, retained = subscriber.wait(f"{prefix}/store-12-main-street/alerts")
        assert retained is False
        document = json.loads(payload)
        assert document["event"] == "alert.opened"
        assert document["alert"]["id"] == alert.pk
        assert document["alert"]["kind"] == "alarm"
    finally:
        subscriber.close()
    # The newest alert stays on the broker for whoever subscribes later.
    late = subscribe(mqtt_url, f"{prefix}/store-12-main-street/alerts/last")
    try:
        payload, retained = late.wait(f"{prefix}/store-12-main-street/alerts/last")
        assert retained is True
        assert json.loads(payload)["alert"]["id"] == alert.pk
    finally:
        late.close()


def test_no_broker_configured_is_a_recorded_failure(site: Site) -> None:
    NotificationRule.objects.create(name="broker", channel="mqtt")
    alert = incident(site, opened=datetime(2026, 12, 1, 21, 0, tzinfo=UTC))
    Dispatcher(DispatcherConfig()).run_once()
    delivery = Delivery.objects.get(alert_id=alert.pk)
    assert delivery.status == DeliveryStatus.PENDING
    assert "MQTT_URL" in delivery.last_error


def test_live_state_is_retained_per_site_with_discovery(
    site: Site, link: MqttLink, mqtt_url: str, prefix: str
) -> None:
    zone = Zone.objects.get(site=site)
    live = InMemoryLiveState(retention_s=34)
    live.publish(
        SiteSnapshot(
            site_id=site.pk,
            time_us=int(time.time() * 1e6),
            persons=(),
            site_occupancy=4,
            zone_occupancy={zone.pk: 2},
        )
    )
    publisher = MqttStatePublisher(link, live, interval_s=60)
    assert publisher.publish_once() == 1
    # A subscriber that comes later gets the retained state at once.
    slug = "store-12-main-street"
    late = subscribe(mqtt_url, f"{prefix}/#", f"{prefix}-ha/#")
    try:
        assert late.wait(f"{prefix}/{slug}/occupancy") == ("4", True)
        assert late.wait(f"{prefix}/{slug}/zones/{zone.pk}/occupancy") == ("2", True)
        counts = json.loads(late.wait(f"{prefix}/{slug}/counts")[0])
        assert counts == {"occupancy": 4, "zones": {str(zone.pk): 2}, "visits_today": 0}
        assert late.wait(f"{prefix}/status") == ("online", True)
        config = json.loads(late.wait(f"{prefix}-ha/sensor/retail_{site.pk}_occupancy/config")[0])
        assert config["state_topic"] == f"{prefix}/{slug}/occupancy"
        assert config["device"]["name"] == site.name
        # Unchanged state is not published again; a change is.
        with late.lock:
            late.messages.clear()
        publisher.publish_once()
        time.sleep(0.3)
        assert not [t for t, _, _ in late.messages if t.endswith("/occupancy")]
        live.publish(
            SiteSnapshot(site_id=site.pk, time_us=int(time.time() * 1e6), persons=(), site_occupancy=5)
        )
        publisher.publish_once()
        assert late.wait(f"{prefix}/{slug}/occupancy") == ("5", False)  # live, not replayed retained
    finally:
        late.close()


def _start_broker(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    binary = _mosquitto_bin()
    assert binary, "mosquitto is installed by the test services"
    config = workdir / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    process = subprocess.Popen(
        [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for(lambda: _mqtt_answers(port), 20, "test Mosquitto")
    return process


def test_link_reconnects_after_the_broker_restarts_and_republishes_state(site: Site, prefix: str) -> None:
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="retail-mqtt-test-"))
    broker = _start_broker(port, workdir)
    link = MqttLink(MqttConfig(url=f"mqtt://127.0.0.1:{port}", prefix=prefix))
    try:
        link.start()
        assert link.wait_connected(10)
        live = InMemoryLiveState(retention_s=34)
        live.publish(SiteSnapshot(site_id=site.pk, time_us=1, persons=(), site_occupancy=3))
        publisher = MqttStatePublisher(link, live, interval_s=60)
        publisher.publish_once()
        broker.terminate()
        broker.wait(10)
        wait_for(lambda: not link.connected, 10, "the link noticing the broker is gone")
        assert link.publish(f"{prefix}/x", "y").ok is False
        broker = _start_broker(port, workdir)  # a fresh broker: nothing retained survived
        assert link.wait_connected(40), "the link did not reconnect"
        assert link.connects == 2
        publisher.publish_once()  # a new connection: the retained state is published again, unchanged or not
        subscriber = subscribe(f"mqtt://127.0.0.1:{port}", f"{prefix}/#")
        try:
            assert subscriber.wait(f"{prefix}/store-12-main-street/occupancy") == ("3", True)
        finally:
            subscriber.close()
        link.stop()
        watcher = subscribe(f"mqtt://127.0.0.1:{port}", f"{prefix}/status")
        try:
            assert watcher.wait(f"{prefix}/status") == ("offline", True)
        finally:
            watcher.close()
    finally:
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
