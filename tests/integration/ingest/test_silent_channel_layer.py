"""The live push against a channel-layer Redis that accepts connections and never answers: the ingest keeps at
most one push per site waiting on it (newer states replace older ones), each push times out, and the acks keep
flowing. And the configured socket timeout does not break a consumer's blocking receive on a healthy Redis."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from tests.integration.ingest.conftest import StartIngest
from tests.support.edge_client import stream, track_frame
from tests.support.silent_redis import silent_redis

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _config() -> dict[str, Any]:
    layers: Any = settings.CHANNEL_LAYERS
    return dict(layers["default"]["CONFIG"])


def _layer(address: str) -> RedisChannelLayer:
    """A channel layer configured as the settings configure it, at `address`."""
    config = _config()
    config["hosts"] = [{**config["hosts"][0], "address": address}]
    return RedisChannelLayer(**config)


async def test_a_silent_channel_redis_keeps_one_push_per_site_pending_and_acks_flowing(
    start_ingest: StartIngest,
) -> None:
    with silent_redis() as address:
        ingest = await start_ingest(layer=_layer(address))
        device = ingest.devices[0]
        camera = device.camera_ids[0]
        frames = 150
        pending: list[int] = []

        async def watch() -> None:
            while True:
                pending.append(ingest.publisher.pending_pushes)
                await asyncio.sleep(0.05)

        watcher = asyncio.get_running_loop().create_task(watch())
        started = time.monotonic()
        try:
            result = await stream(
                ingest.port,
                device.device_id,
                device.secret,
                (track_frame(camera, sequence) for sequence in range(frames)),
                pace_s=0.02,  # 50 frames/s over ~3 s: 15 pushes due at 5 Hz
                linger_s=20,
                until=lambda r: r.acked.get(camera) == frames - 1,
            )
        finally:
            watcher.cancel()
        elapsed = time.monotonic() - started
        stats = ingest.publisher.stats
    assert result.acked.get(camera) == frames - 1, result
    assert result.error is None
    assert pending
    assert max(pending) <= 1, pending  # one site: one push waiting on Redis, never a backlog
    assert stats.coalesced > frames / 2  # the others were replaced by newer states, counted
    assert stats.pushes < frames / 4
    assert elapsed > 2.0, elapsed
    assert stats.timeouts >= 1, stats  # each push gave up after its timeout


async def test_the_socket_timeout_outlasts_a_consumers_blocking_receive() -> None:
    """channels-redis receives with BZPOPMIN for `brpop_timeout` (5 s) under the connection's socket timeout: a
    socket timeout below it would fail every idle receive. A receive that spans a whole BZPOPMIN cycle on a real
    Redis still gets its message."""
    hosts = _config()["hosts"]
    assert hosts[0]["socket_timeout"] > RedisChannelLayer.brpop_timeout
    layer = _layer(settings.REDIS_URL)
    channel = await layer.new_channel()
    receiving = asyncio.get_running_loop().create_task(layer.receive(channel))
    await asyncio.sleep(RedisChannelLayer.brpop_timeout + 0.5)
    assert not receiving.done(), receiving
    await layer.send(channel, {"type": "live.positions", "n": 1})
    message = await asyncio.wait_for(receiving, timeout=hosts[0]["socket_timeout"] + 5)
    assert message == {"type": "live.positions", "n": 1}
    await layer.flush()
