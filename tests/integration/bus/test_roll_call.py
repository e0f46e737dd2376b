"""The site workers' roll call (server.bus.jetstream) against a real nats-server: each worker keeps one pull request
waiting on it, so JetStream's count of them is the number of workers, whatever their load or how many sites each
holds; one that goes away stops being counted within the request's expiry."""

from __future__ import annotations

import asyncio
import time

import nats
import pytest

from server.bus import jetstream
from tests.support.nats import nats_cluster

pytestmark = pytest.mark.integration


async def _count_reaches(
    nc: nats.aio.client.Client, config: jetstream.BusConfig, want: int, within_s: float
) -> int:
    deadline = time.monotonic() + within_s
    count = await jetstream.workers_present(nc, config)
    while count != want and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        count = await jetstream.workers_present(nc, config)
    return count


async def test_the_roll_call_counts_the_workers_that_answer_it() -> None:
    with nats_cluster(1) as (node,):
        config = jetstream.BusConfig(servers=(node.url,))
        workers = [await nats.connect(node.url) for _ in range(3)]
        try:
            await jetstream.ensure_stream(workers[0], config)
            for nc in workers:
                await jetstream.ensure_roll_call(nc, config)  # every worker: idempotent
            answering = [asyncio.create_task(jetstream.answer_roll_call(nc, config)) for nc in workers]
            assert await _count_reaches(workers[0], config, 3, 5.0) == 3
            # Counted through the expiry of their requests (each asks again at once), not only once.
            await asyncio.sleep(jetstream.ROLL_CALL_EXPIRES_S + 1.0)
            assert await jetstream.workers_present(workers[0], config) == 3
            # A worker killed: its connection goes, and with it its request (at the latest when it expires).
            answering[2].cancel()
            await workers[2].close()
            assert await _count_reaches(workers[0], config, 2, jetstream.ROLL_CALL_EXPIRES_S + 2.0) == 2
            for task in answering[:2]:
                task.cancel()
        finally:
            for nc in workers:
                await nc.close()
