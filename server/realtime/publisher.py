"""Producer side of the live push: keeps the latest state per site and sends it to the site's group, throttled.

The throttle is leading-edge: the first update after a quiet period goes out at once; updates arriving within the
period are coalesced and the newest is sent when the period ends. So a frame's state reaches clients either at once
or superseded by a newer one at most one period later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from channels.layers import get_channel_layer

from server.realtime.events import GroupEvent, LivePositionsEvent
from server.realtime.groups import site_live_group

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _SiteSlot:
    latest: LivePositionsEvent | Callable[[], LivePositionsEvent] | None = None
    last_push_s: float = 0.0
    scheduled: asyncio.TimerHandle | None = None
    pushes: int = 0


@dataclass(slots=True)
class PublisherStats:
    pushes: int = 0
    coalesced: int = 0
    failures: int = 0
    last_error: str = ""
    sites: dict[int, int] = field(default_factory=dict)


class LivePublisher:
    """Throttled `group_send` of live site state. All methods run on the event loop."""

    def __init__(
        self, *, rate_hz: float, clock: Callable[[], float] = time.monotonic, layer: Any | None = None
    ) -> None:
        self._period_s = 1.0 / rate_hz if rate_hz > 0 else 0.0
        self._clock = clock
        self._slots: dict[int, _SiteSlot] = {}
        self._layer = layer if layer is not None else get_channel_layer()
        self.stats = PublisherStats()
        self.pending_tasks: set[asyncio.Task[None]] = set()

    def publish(self, site_id: int, event: LivePositionsEvent | Callable[[], LivePositionsEvent]) -> None:
        """Offer the newest live state of a site; `event` must carry a Channels `type`."""
        slot = self._slots.setdefault(site_id, _SiteSlot())
        if slot.latest is not None:
            self.stats.coalesced += 1
        slot.latest = event
        if slot.scheduled is not None:
            return
        now = self._clock()
        wait_s = slot.last_push_s + self._period_s - now
        if wait_s <= 0:
            self._send(site_id, slot)
        else:
            loop = asyncio.get_running_loop()
            slot.scheduled = loop.call_later(wait_s, self._send, site_id, slot)

    def _send(self, site_id: int, slot: _SiteSlot) -> None:
        slot.scheduled = None
        latest, slot.latest = slot.latest, None
        # A factory is built only for the updates that are sent (most are superseded within the period).
        event = latest() if callable(latest) else latest
        if event is None:
            return
        slot.last_push_s = self._clock()
        slot.pushes += 1
        self.stats.pushes += 1
        self.stats.sites[site_id] = slot.pushes
        task = asyncio.get_running_loop().create_task(self._group_send(site_live_group(site_id), event))
        self.pending_tasks.add(task)
        task.add_done_callback(self.pending_tasks.discard)

    async def send_now(self, group: str, event: GroupEvent) -> None:
        """Unthrottled push (alerts)."""
        await self._group_send(group, event)

    async def _group_send(self, group: str, event: GroupEvent) -> None:
        if self._layer is None:
            return
        try:
            await self._layer.group_send(group, event)
        except Exception as err:
            self.stats.failures += 1
            self.stats.last_error = f"{type(err).__name__}: {err}"
            logger.warning("live push to %s failed: %s", group, self.stats.last_error)
