"""A pinned worker busy for longer than the pin TTL keeps the site (server.worker.service `_keep_pins`), with a real
NATS JetStream node.

JetStream unpins a worker once it has had no pull request waiting for the pin TTL, and a pull met by a backlog is
complete at once: since pulls ask for a few seconds of the worker's work (8..128 messages), a take-over's first pull
always is. A take-over longer than the TTL (seconds on a loaded host) then lost the site to a standby worker mid-way,
which took it over in turn: two take-overs, the live feed shed for both (the 3-node cluster test saw a site's feed
silent for 10.9 s, over its 10 s bound). Here the pinned worker pulls 8 of a backlog of 100 and pulls nothing more
for 3 TTLs while a standby worker keeps pulling: without the pin keeping the standby worker gets the site; with it,
the site stays pinned to the busy worker, and the pin keeping itself delivers no message."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import nats
import pytest

from server.bus import jetstream
from server.bus.codec import site_subject
from server.worker import service
from tests.support.nats import nats_cluster

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

SITE = 1
PIN_TTL_S = 1.0
BUSY_S = 3 * PIN_TTL_S


def _request(batch: int, pin: str | None = None) -> bytes:
    body: dict[str, Any] = {"batch": batch, "expires": jetstream.NS, "group": jetstream.PRIORITY_GROUP}
    if pin:
        body["id"] = pin
    return json.dumps(body).encode()


def _worker(nc: nats.aio.client.Client, config: jetstream.BusConfig, pin: str) -> service.SiteWorker:
    worker = object.__new__(service.SiteWorker)
    worker._nc = nc
    worker._config = config
    worker._pins = {SITE: pin}
    worker._pulled_at = {SITE: time.monotonic()}
    worker.pin_keeps_sent = 0
    return worker


@pytest.mark.asyncio
@pytest.mark.parametrize("keeping", [False, True])
async def test_a_pinned_worker_busy_past_the_pin_ttl_keeps_the_site(keeping: bool) -> None:
    with nats_cluster(1) as (node,):
        config = jetstream.BusConfig(servers=(node.url,), stream="RETAIL_PIN_KEEPING", pin_ttl_s=PIN_TTL_S)
        busy, standby = await nats.connect(node.url), await nats.connect(node.url)
        try:
            await jetstream.ensure_stream(busy, config)
            await jetstream.ensure_site_consumer(busy, config, SITE)
            js = busy.jetstream()
            for n in range(100):
                await js.publish(site_subject(config.subject_prefix, SITE), f"{n}".encode())
            subject = f"$JS.API.CONSUMER.MSG.NEXT.{config.stream}.{config.consumer_name(SITE)}"
            mine: asyncio.Queue[Any] = asyncio.Queue()
            theirs: asyncio.Queue[Any] = asyncio.Queue()

            async def to_mine(msg: Any) -> None:
                mine.put_nowait(msg)

            async def to_theirs(msg: Any) -> None:
                theirs.put_nowait(msg)

            my_inbox, their_inbox = busy.new_inbox(), standby.new_inbox()
            await busy.subscribe(my_inbox, cb=to_mine)
            await standby.subscribe(their_inbox, cb=to_theirs)
            # Pinned: the first pull of a backlog, complete at once.
            await busy.publish(subject, _request(8), reply=my_inbox)
            first = [await asyncio.wait_for(mine.get(), 5) for _ in range(8)]
            pin = first[0].headers["Nats-Pin-Id"]
            worker = _worker(busy, config, pin)
            keeper = asyncio.create_task(worker._keep_pins_loop()) if keeping else None

            # Busy (a take-over) for 3 TTLs: no pull of its own, while the standby worker keeps one waiting.
            deadline = time.monotonic() + BUSY_S
            while time.monotonic() < deadline:
                await standby.publish(subject, _request(8), reply=their_inbox)
                await asyncio.sleep(0.5)
            if keeper is not None:
                keeper.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await keeper
            await busy.publish(subject, _request(8, pin), reply=my_inbox)
            await asyncio.sleep(1.5)
            standby_got = [m for m in _drain(theirs) if not (m.headers or {}).get("Status")]
            after = _drain(mine)
            statuses = [(m.headers or {}).get("Status") for m in after if (m.headers or {}).get("Status")]
            info = await jetstream.consumer_info(busy, config, SITE)
        finally:
            await busy.close()
            await standby.close()
    if not keeping:  # JetStream's rule the pin keeping is for: the standby worker took the site
        assert standby_got, statuses
        assert "423" in statuses, statuses
        return
    assert worker.pin_keeps_sent >= 2
    assert not standby_got, f"the standby worker was sent {len(standby_got)} message(s): the pin moved"
    assert "423" not in statuses, statuses
    assert len(after) - len(statuses) == 8, statuses  # the busy worker's next pull is served
    # Nothing but the two pulls of 8 was delivered: the pin keeping delivers no message.
    assert info["delivered"]["stream_seq"] == 16, info


def _drain(queue: asyncio.Queue[Any]) -> list[Any]:
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out
