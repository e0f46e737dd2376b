"""A site worker's NATS hot path against a real nats-server: the messages of a pull request's inbox
(server.bus.jetstream.Deliveries) come in order, the ones already received without waiting, and an empty inbox
times out."""

from __future__ import annotations

import asyncio

import nats
import pytest

from server.bus import jetstream
from tests.support.nats import nats_cluster

pytestmark = pytest.mark.integration


async def test_deliveries_come_in_order_and_an_empty_inbox_times_out() -> None:
    with nats_cluster(1) as (node,):
        nc = await nats.connect(node.url)
        try:
            deliveries = await jetstream.subscribe_deliveries(nc, "inbox.test")
            for n in range(300):
                await nc.publish("inbox.test", str(n).encode(), headers={"Nats-Msg-Id": str(n)})
            await nc.flush()
            got = [await deliveries.next_msg(timeout=2.0) for _ in range(300)]
            assert [int(m.data) for m in got] == list(range(300))
            assert got[7].headers == {"Nats-Msg-Id": "7"}
            with pytest.raises(TimeoutError):
                await deliveries.next_msg(timeout=0.2)
            # A message that comes while one waits for it is handed over.
            waiting = asyncio.create_task(deliveries.next_msg(timeout=2.0))
            await asyncio.sleep(0.05)
            await nc.publish("inbox.test", b"late")
            assert (await waiting).data == b"late"
            await deliveries.unsubscribe()
            await nc.publish("inbox.test", b"after")
            await nc.flush()
            with pytest.raises(TimeoutError):
                await deliveries.next_msg(timeout=0.2)
        finally:
            await nc.close()
