"""Producer side of the live push: keeps the latest state per site and sends it to the site's group, throttled.

The throttle is leading-edge: the first update after a quiet period goes out at once; updates arriving within the
period are coalesced and the newest is sent when the period ends. So a frame's state reaches clients either at once
or superseded by a newer one at most one period later.

The push is bounded whatever the channel layer does: at most one `group_send` per site is in flight; a state that
arrives meanwhile waits in the site's slot, replacing an older waiting one (drop-oldest, counted as superseded), and
goes out when the push in flight ends. Every `group_send` (the site pushes and `send_now`) is given
`timeout_s`: a Redis that accepts connections but never answers costs one pending push per site and a counted
timeout, not a task per frame waiting forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from channels.layers import get_channel_layer

from server.observability import metrics
from server.realtime.events import GroupEvent, LivePositionsEvent
from server.realtime.groups import site_live_group

logger = logging.getLogger(__name__)

DEFAULT_PUSH_TIMEOUT_S = 2.0


@dataclass(slots=True)
class _SiteSlot:
    latest: LivePositionsEvent | Callable[[], LivePositionsEvent] | None = None
    last_push_s: float = 0.0
    scheduled: asyncio.TimerHandle | None = None
    in_flight: asyncio.Task[None] | None = None
    pushes: int = 0


@dataclass(slots=True)
class PublisherStats:
    pushes: int = 0
    coalesced: int = 0  # states replaced by a newer one before they were sent (superseded)
    failures: int = 0
    timeouts: int = 0  # failures where the layer did not answer within the timeout
    last_error: str = ""
    sites: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PushFailure:
    timeout: bool  # no answer from the layer within the timeout (else it raised)
    text: str


async def send_bounded(layer: Any, group: str, event: GroupEvent, *, timeout_s: float) -> PushFailure | None:
    """The one sender of every push to a Channels group (the live state, the ingest's alerts, the REST API's alert
    and siren changes): one `group_send`, given `timeout_s`; a failure is logged, counted in the metrics and
    returned (None: sent)."""
    try:
        await asyncio.wait_for(layer.group_send(group, event), timeout=timeout_s)
    except TimeoutError:
        failure = PushFailure(timeout=True, text=f"no answer from the channel layer within {timeout_s:g} s")
    except Exception as err:
        failure = PushFailure(timeout=False, text=f"{type(err).__name__}: {err}")
    else:
        return None
    metrics.record_live_push_failure(timeout=failure.timeout)
    logger.warning("live push to %s failed: %s", group, failure.text)
    return failure


class LivePublisher:
    """Throttled `group_send` of live site state. All methods run on the event loop."""

    def __init__(
        self,
        *,
        rate_hz: float,
        clock: Callable[[], float] = time.monotonic,
        layer: Any | None = None,
        timeout_s: float = DEFAULT_PUSH_TIMEOUT_S,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self._period_s = 1.0 / rate_hz if rate_hz > 0 else 0.0
        self._clock = clock
        self._timeout_s = timeout_s
        self._slots: dict[int, _SiteSlot] = {}
        self._layer = layer if layer is not None else get_channel_layer()
        self.stats = PublisherStats()
        self.pending_tasks: set[asyncio.Task[None]] = set()  # the site pushes in flight, at most one per site
        self._sends_in_flight = 0

    def publish(self, site_id: int, event: LivePositionsEvent | Callable[[], LivePositionsEvent]) -> None:
        """Offer the newest live state of a site; `event` must carry a Channels `type`."""
        slot = self._slots.get(site_id)
        if slot is None:
            slot = self._slots[site_id] = _SiteSlot()
        if slot.latest is not None:
            self.stats.coalesced += 1
            metrics.record_live_push_superseded()
        slot.latest = event
        if slot.scheduled is None and slot.in_flight is None:
            self._schedule(site_id, slot)

    def _schedule(self, site_id: int, slot: _SiteSlot) -> None:
        wait_s = slot.last_push_s + self._period_s - self._clock()
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
        task = asyncio.get_running_loop().create_task(self._push(site_id, slot, event))
        slot.in_flight = task
        self.pending_tasks.add(task)
        task.add_done_callback(self.pending_tasks.discard)

    async def _push(self, site_id: int, slot: _SiteSlot, event: LivePositionsEvent) -> None:
        try:
            await self._group_send(site_live_group(site_id), event)
        finally:
            slot.in_flight = None
            if slot.latest is not None and slot.scheduled is None:
                self._schedule(site_id, slot)  # the newest state that arrived while this push was in flight

    async def send_now(self, group: str, event: GroupEvent) -> None:
        """Unthrottled push (alerts, device health), bounded by the timeout."""
        self._sends_in_flight += 1
        try:
            await self._group_send(group, event)
        finally:
            self._sends_in_flight -= 1

    @property
    def pending_pushes(self) -> int:
        """Pushes waiting on the channel layer: the site pushes in flight and the `send_now` calls."""
        return len(self.pending_tasks) + self._sends_in_flight

    async def _group_send(self, group: str, event: GroupEvent) -> None:
        if self._layer is None:
            return
        failure = await send_bounded(self._layer, group, event, timeout_s=self._timeout_s)
        if failure is not None:
            self.stats.failures += 1
            self.stats.timeouts += failure.timeout
            self.stats.last_error = failure.text
