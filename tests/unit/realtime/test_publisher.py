"""The live publisher's throttle: leading edge, coalescing to the newest state, lazy event building, a channel
layer that fails without stopping anything, and one that hangs: one push per site in flight, bounded in time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.realtime.events import LivePositionsEvent, live_positions_event, siren_event
from server.realtime.publisher import LivePublisher


class RecordingLayer:
    """Stands in for the channel layer (the real one, on Redis, is exercised by the system tests)."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    async def group_send(self, group: str, event: dict[str, Any]) -> None:
        if self.fail:
            raise ConnectionError("redis is down")
        self.sent.append((group, event))


async def _until(condition: Any, timeout_s: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.005)


def event(n: int) -> LivePositionsEvent:
    return live_positions_event(site_id=1, time_us=n, persons=[])


async def test_first_update_goes_out_at_once_then_the_newest_per_period() -> None:
    layer = RecordingLayer()
    publisher = LivePublisher(rate_hz=10, layer=layer)
    publisher.publish(1, event(1))
    await _until(lambda: len(layer.sent) >= 1)
    assert [e["time_us"] for _, e in layer.sent] == [1]
    for n in range(2, 6):  # within the 100 ms period: coalesced
        publisher.publish(1, event(n))
    await asyncio.sleep(0.01)
    assert len(layer.sent) == 1
    await _until(lambda: len(layer.sent) >= 2)  # the period's end (later on a loaded machine, never sooner)
    await asyncio.sleep(0.05)
    assert [e["time_us"] for _, e in layer.sent] == [1, 5]
    assert layer.sent[0][0] == "site-1-live"
    assert publisher.stats.coalesced == 3


async def test_sites_are_throttled_independently() -> None:
    layer = RecordingLayer()
    publisher = LivePublisher(rate_hz=5, layer=layer)
    publisher.publish(1, event(1))
    publisher.publish(2, event(2))
    await asyncio.sleep(0.01)
    assert sorted(group for group, _ in layer.sent) == ["site-1-live", "site-2-live"]


async def test_factories_are_built_only_when_sent() -> None:
    layer = RecordingLayer()
    publisher = LivePublisher(rate_hz=10, layer=layer)
    built: list[int] = []

    def factory(n: int):
        def build() -> LivePositionsEvent:
            built.append(n)
            return event(n)

        return build

    for n in range(1, 50):
        publisher.publish(1, factory(n))
    await asyncio.sleep(0.15)
    assert built == [1, 49]
    assert [e["time_us"] for _, e in layer.sent] == [1, 49]


@pytest.mark.parametrize("rate_hz", [5.0, 0.0])
async def test_a_failing_layer_is_counted_not_raised(rate_hz: float) -> None:
    publisher = LivePublisher(rate_hz=rate_hz, layer=RecordingLayer(fail=True))
    publisher.publish(1, event(1))
    await publisher.send_now("site-1-alerts", siren_event(site_id=1, on=True))
    await asyncio.sleep(0.01)
    assert publisher.stats.failures == 2
    assert "redis is down" in publisher.stats.last_error


class GatedLayer:
    """A channel layer whose sends wait until released (a slow or silent Redis)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.started = 0
        self.gate = asyncio.Event()

    async def group_send(self, group: str, event: dict[str, Any]) -> None:
        self.started += 1
        await self.gate.wait()
        self.sent.append((group, event))


async def test_one_push_per_site_in_flight_and_the_newest_goes_out_after_it() -> None:
    layer = GatedLayer()
    publisher = LivePublisher(
        rate_hz=0, layer=layer
    )  # unthrottled: only the push in flight holds states back
    for n in range(1, 30):
        publisher.publish(1, event(n))
        await asyncio.sleep(0.001)
    assert layer.started == 1
    assert publisher.pending_pushes == 1
    assert publisher.stats.coalesced == 27  # 2..28 replaced while 1 was in flight; 29 waits
    layer.gate.set()
    await asyncio.sleep(0.02)
    assert [e["time_us"] for _, e in layer.sent] == [1, 29]
    assert publisher.pending_pushes == 0


async def test_a_push_that_gets_no_answer_times_out_and_the_next_goes_out() -> None:
    layer = GatedLayer()
    publisher = LivePublisher(rate_hz=0, layer=layer, timeout_s=0.05)
    publisher.publish(1, event(1))
    await asyncio.sleep(0.01)
    publisher.publish(1, event(2))
    await publisher.send_now("site-1-alerts", siren_event(site_id=1, on=True))  # bounded too
    assert "within 0.05 s" in publisher.stats.last_error
    deadline = asyncio.get_running_loop().time() + 5
    while publisher.pending_pushes and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    assert publisher.pending_pushes == 0
    assert layer.started == 3  # event 2 went out once event 1 had timed out
    assert publisher.stats.timeouts == 3
