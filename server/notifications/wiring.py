"""The notification parts of a server process, built from the settings: the dispatcher (always, unless
`NOTIFY_DISPATCHER=false`), and with `MQTT_URL` the MQTT link and its state publisher."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

from server.livestate import LiveState
from server.notifications import dispatcher as dispatcher_module
from server.notifications.dispatcher import Dispatcher, DispatcherConfig
from server.notifications.mqtt import MqttConfig, MqttLink
from server.notifications.state import MqttStatePublisher

logger = logging.getLogger(__name__)


@dataclass
class Notifications:
    dispatcher: Dispatcher | None
    mqtt: MqttLink | None
    state: MqttStatePublisher | None

    def start(self) -> None:
        if self.mqtt is not None:
            self.mqtt.start()
        if self.state is not None:
            self.state.start()
        if self.dispatcher is not None:
            dispatcher_module.install(self.dispatcher)
            self.dispatcher.start()

    def stop(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()
            dispatcher_module.install(None)
        if self.state is not None:
            self.state.stop()
        if self.mqtt is not None:
            self.mqtt.stop()


def dispatcher_config_from_settings() -> DispatcherConfig:
    return DispatcherConfig(
        poll_s=settings.NOTIFY_POLL_S,
        max_attempts=settings.NOTIFY_MAX_ATTEMPTS,
        retry_base_s=settings.NOTIFY_RETRY_BASE_S,
        retry_max_s=settings.NOTIFY_RETRY_MAX_S,
        timeout_s=settings.NOTIFY_TIMEOUT_S,
        lanes=max(1, settings.NOTIFY_LANES),
    )


def mqtt_config_from_settings() -> MqttConfig | None:
    if not settings.MQTT_URL:
        return None
    return MqttConfig(
        url=settings.MQTT_URL,
        prefix=settings.MQTT_TOPIC_PREFIX,
        client_id=settings.MQTT_CLIENT_ID,
        ha_discovery=settings.MQTT_HA_DISCOVERY,
        ha_prefix=settings.MQTT_HA_DISCOVERY_PREFIX,
    )


def notifications_from_settings(live: LiveState) -> Notifications:
    config = mqtt_config_from_settings()
    mqtt = MqttLink(config) if config is not None else None
    state = MqttStatePublisher(mqtt, live, interval_s=settings.MQTT_STATE_INTERVAL_S) if mqtt else None
    dispatcher = (
        Dispatcher(dispatcher_config_from_settings(), mqtt=mqtt) if settings.NOTIFY_DISPATCHER else None
    )
    return Notifications(dispatcher=dispatcher, mqtt=mqtt, state=state)
