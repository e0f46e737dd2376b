"""Each site's live occupancy and counts on retained MQTT topics, read from the live state every interval and
published when they changed (and all again after every reconnect); Home Assistant discovery configs with them."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from django.db import close_old_connections, connections
from django.utils import timezone

from server.insights.models import PersonVisit
from server.inventory.localtime import DAY, bucket_start, zone_named
from server.inventory.models import Site
from server.livestate import LiveState, LiveStateUnavailableError
from server.notifications import topics
from server.notifications.mqtt import MqttLink

logger = logging.getLogger(__name__)


def _local_midnight(now: datetime, tz: str) -> datetime:
    return bucket_start(now, DAY, zone_named(tz))  # the site's day, as its daily KPI buckets cut it


class MqttStatePublisher:
    def __init__(self, link: MqttLink, live: LiveState, *, interval_s: float) -> None:
        self.link = link
        self.live = live
        self.interval_s = interval_s
        self._published: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen_connects = -1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-state", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.publish_once()
            except Exception:
                logger.exception("publishing the live state to MQTT failed")
            finally:
                close_old_connections()
            self._stop.wait(self.interval_s)
        connections.close_all()  # this thread's own connection

    def _put(self, topic: str, payload: str, *, force: bool) -> None:
        if not force and self._published.get(topic) == payload:
            return
        if self.link.publish(topic, payload, retain=True).ok:
            self._published[topic] = payload

    def publish_once(self) -> int:
        """Publish every site's state that changed; returns the number of sites seen (0 while disconnected)."""
        if not self.link.connected:
            return 0
        force = self.link.connects != self._seen_connects  # a new connection: retained state once more
        self._seen_connects = self.link.connects
        config = self.link.config
        sites = list(Site.objects.values_list("id", "name", "timezone"))
        slugs = topics.site_slugs((site_id, name) for site_id, name, _ in sites)
        now = timezone.now()
        for site_id, name, tz in sites:
            slug = slugs[site_id]
            if config.ha_discovery:
                for topic, document in topics.discovery_messages(
                    prefix=config.prefix,
                    discovery_prefix=config.ha_prefix,
                    site_id=site_id,
                    slug=slug,
                    site_name=name,
                ):
                    self._put(topic, _json(document), force=force)
            try:
                snapshot = self.live.latest(site_id)
            except LiveStateUnavailableError:
                continue
            occupancy = snapshot.site_occupancy if snapshot is not None else 0
            zones = dict(snapshot.zone_occupancy) if snapshot is not None else {}
            visits_today = PersonVisit.objects.filter(
                site_id=site_id, started_at__gte=_local_midnight(now, tz)
            ).count()
            self._put(topics.occupancy_topic(config.prefix, slug), str(occupancy), force=force)
            for zone_id, count in zones.items():
                self._put(topics.zone_occupancy_topic(config.prefix, slug, zone_id), str(count), force=force)
            counts: dict[str, Any] = {
                "occupancy": occupancy,
                "zones": {str(k): v for k, v in sorted(zones.items())},
                "visits_today": visits_today,
            }
            self._put(topics.counts_topic(config.prefix, slug), _json(counts), force=force)
        return len(sites)


def _json(document: Any) -> str:
    import json

    return json.dumps(document, separators=(",", ":"), sort_keys=True)
