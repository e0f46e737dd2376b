"""A site worker's two NATS hot paths against a real nats-server: the messages of a pull request's inbox
(server.bus.jetstream.Deliveries) come in order, the ones already received without waiting, and an empty inbox
times out; the acks a barrier settles go out together, in order, each once, also when the worker lets go of its
connection right after (its clean stop)."""

from __future__ import annotations

import asyncio

import nats
import pytest

from server.bus import jetstream
from server.worker import service
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
            await asyncio.sleep(0.2)  # all of them received
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            ticking = asyncio.create_task(tick())
            got = [await deliveries.next_msg(timeout=2.0) for _ in range(300)]
            ticking.cancel()
            assert [int(m.data) for m in got] == list(range(300))
            # The rest of the process runs while they are handed over, not only once they are all taken.
            assert ticks >= 300 // jetstream.Deliveries.YIELD_EVERY // 2
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


def _bare_worker(nc: nats.aio.client.Client) -> service.SiteWorker:
    """A worker with just its ack path (a connection, the queue, the sender)."""
    worker = object.__new__(service.SiteWorker)
    worker._nc = nc
    worker._acks = []
    worker._ack_sender = None
    return worker


async def _ack_listener(url: str) -> tuple[nats.aio.client.Client, list[tuple[str, bytes]]]:
    listener = await nats.connect(url)
    received: list[tuple[str, bytes]] = []

    async def on_ack(msg: nats.aio.msg.Msg) -> None:
        received.append((msg.subject, msg.data))

    await listener.subscribe("ack.>", cb=on_ack)
    await listener.flush()
    return listener, received


async def _wait_for(received: list[tuple[str, bytes]], count: int) -> None:
    for _ in range(200):  # up to 10 s: the listener's callback runs when the (loaded) event loop lets it
        if len(received) >= count:
            return
        await asyncio.sleep(0.05)


async def test_settled_acks_go_out_together_in_order_even_as_the_worker_stops() -> None:
    with nats_cluster(1) as (node,):
        listener, received = await _ack_listener(node.url)
        nc = await nats.connect(node.url)
        worker = _bare_worker(nc)
        try:
            for n in range(500):  # what one barrier settles
                worker._ack(f"ack.{n}")
            await asyncio.sleep(0)  # the sender starts, and more are settled while it sends
            for n in range(500, 700):
                worker._ack(f"ack.{n}")
            # The clean stop lets go of the connection right after its last barrier (`run`), before the sender had
            # its turn: those acks still go out on it, then it is closed.
            await worker._close_connection()
            worker._ack("ack.dropped")  # nothing to send it on: not sent (redelivered, then acked as covered)
            await _wait_for(received, 700)
            assert received == [(f"ack.{n}", b"+ACK") for n in range(700)], (len(received), received[:3])
            assert worker._acks == []
            assert nc.is_closed
        finally:
            await listener.close()
