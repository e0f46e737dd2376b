"""The MQTT link of a process (paho-mqtt): one connection to the broker of `MQTT_URL`, reconnecting by itself,
with a last will on `<prefix>/status`; and the state publisher that puts each site's live occupancy and counts
on retained topics (server.notifications.topics), with optional Home Assistant discovery."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from server.notifications import topics
from server.notifications.senders import SendResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MqttConfig:
    url: str
    prefix: str = "retail"
    client_id: str = ""
    ha_discovery: bool = False
    ha_prefix: str = "homeassistant"
    publish_timeout_s: float = 5.0

    def broker(self) -> tuple[str, int, str, str, bool]:
        """(host, port, username, password, tls) from `mqtt://user:pass@host:1883` or `mqtts://…:8883`."""
        parts = urlsplit(self.url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise ValueError(f"MQTT_URL {self.url!r}: expected mqtt://[user:password@]host[:port]")
        tls = parts.scheme in ("mqtts", "ssl")
        return (
            parts.hostname,
            parts.port or (8883 if tls else 1883),
            unquote(parts.username or ""),
            unquote(parts.password or ""),
            tls,
        )


class MqttLink:
    """One broker connection; `publish` from any thread. paho's network thread reconnects with back-off."""

    def __init__(self, config: MqttConfig, *, on_connect: Callable[[], None] | None = None) -> None:
        self.config = config
        host, port, username, password, tls = config.broker()
        self._host, self._port = host, port
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=config.client_id, clean_session=True
        )
        if username:
            self._client.username_pw_set(username, password or None)
        if tls:
            self._client.tls_set()
        self._client.will_set(topics.status_topic(config.prefix), "offline", qos=1, retain=True)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._connected
        self._client.on_disconnect = self._disconnected
        self._user_on_connect = on_connect
        self._ready = threading.Event()
        self.connects = 0

    def start(self) -> None:
        self._client.connect_async(self._host, self._port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        if self._ready.is_set():
            info = self._client.publish(
                topics.status_topic(self.config.prefix), "offline", qos=1, retain=True
            )
            info.wait_for_publish(timeout=2)
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._ready.wait(timeout_s)

    def _connected(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if getattr(reason, "is_failure", False):
            logger.warning("MQTT broker %s:%d refused the connection: %s", self._host, self._port, reason)
            return
        self.connects += 1
        logger.info("MQTT connected to %s:%d", self._host, self._port)
        client.publish(topics.status_topic(self.config.prefix), "online", qos=1, retain=True)
        self._ready.set()
        if self._user_on_connect is not None:
            threading.Thread(target=self._user_on_connect, name="mqtt-on-connect", daemon=True).start()

    def _disconnected(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._ready.clear()
        logger.warning("MQTT disconnected from %s:%d (%s); reconnecting", self._host, self._port, reason)

    def publish(self, topic: str, payload: str | bytes, *, retain: bool = False, qos: int = 1) -> SendResult:
        if not self._ready.is_set():
            return SendResult(ok=False, error=f"not connected to the MQTT broker {self._host}:{self._port}")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return SendResult(ok=False, error=f"MQTT publish failed: {mqtt.error_string(info.rc)}")
        try:
            info.wait_for_publish(timeout=self.config.publish_timeout_s)
        except (RuntimeError, ValueError) as err:
            return SendResult(ok=False, error=f"MQTT publish failed: {err}")
        if not info.is_published():
            return SendResult(ok=False, error="the MQTT broker did not confirm the message in time")
        return SendResult(ok=True)

    def publish_json(self, topic: str, document: Any, *, retain: bool = False) -> SendResult:
        return self.publish(topic, json.dumps(document, separators=(",", ":"), sort_keys=True), retain=retain)

    def send_alert(self, payload: dict[str, Any]) -> SendResult:
        """An alert (or test) notification to `<prefix>/<site>/alerts`, and retained on `…/alerts/last`."""
        site = payload.get("site") or {}
        slug = str(site.get("slug") or "all")
        topic = topics.alerts_topic(self.config.prefix, slug)
        result = self.publish_json(topic, payload)
        if result.ok:
            self.publish_json(f"{topic}/last", payload, retain=True)
        return result
