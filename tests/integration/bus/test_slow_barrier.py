"""A worker whose barrier takes longer than the consumer's ack wait gets no message twice, with the real worker
(`SiteWorker`, the runtime `retail-server worker` builds), a real NATS JetStream node and PostgreSQL.

At 64 sites a worker is delivered a pull's worth of each site at once (128 per site), more than it works through
within the 10 s ack wait on a loaded host, and each barrier took ~2 s: JetStream redelivered a quarter to a half of
the messages (read again, dropped, some starting a catch-up read of the stream, acked twice). Here the ack wait is
2 s and each barrier's transaction sleeps 3 s first: every message waits past its ack wait before it is durable.
The worker's in-progress acks keep JetStream from redelivering any (before: redeliveries), and every message is
still acked only after its barrier: the site's progress covers them all and nothing is left pending."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import nats
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from server.bus import jetstream
from server.ingest.models import SiteFrameProgress
from server.runtime import build_runtime
from server.worker import progress, service
from tests.integration.system.test_bus_failover import STREAM, _site
from tests.integration.system.test_bus_order import _publish
from tests.support.nats import nats_cluster

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

FRAMES = 300
ACK_WAIT_S = 2.0
BARRIER_S = 3.0


@pytest.mark.asyncio
async def test_a_barrier_slower_than_the_ack_wait_gets_no_redeliveries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site_id, _, _, camera_id = await sync_to_async(_site)("Slow barrier")
    counts = {"delivered": 0, "redelivered": 0}
    take = jetstream.Deliveries._take

    async def counted(self: jetstream.Deliveries, msg: Any) -> None:
        if not (msg.headers or {}).get("Status"):
            counts["delivered"] += 1
            counts["redelivered"] += (msg.metadata.num_delivered or 1) > 1
        await take(self, msg)

    monkeypatch.setattr(jetstream.Deliveries, "_take", counted)
    commit = progress._ProgressCheckpoint.commit

    def slow_commit(self: progress._ProgressCheckpoint) -> None:
        time.sleep(BARRIER_S)
        commit(self)

    monkeypatch.setattr(progress._ProgressCheckpoint, "commit", slow_commit)
    monkeypatch.setattr(service, "REBALANCE_EVERY_S", 3600.0)
    with nats_cluster(1) as (node,):
        base_us = time.time_ns() // 1000
        await _publish(node.url, site_id, camera_id, base_us, list(range(1, FRAMES + 1)))
        config = jetstream.BusConfig(
            servers=(node.url,), stream=STREAM, pin_ttl_s=600.0, ack_wait_s=ACK_WAIT_S
        )
        runtime = build_runtime(role="worker")
        runtime.writer.start()
        worker = service.SiteWorker(
            runtime=runtime,
            config=config,
            ack_interval_s=0.1,
            max_lag_s=10**9,
            list_sites=lambda: [site_id],
        )
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        try:

            async def durable() -> int:
                row = await SiteFrameProgress.objects.filter(site_id=site_id).afirst()
                return row.applied_through if row is not None else 0

            deadline = time.monotonic() + 80
            while await durable() < FRAMES and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert await durable() == FRAMES
            await asyncio.sleep(2 * ACK_WAIT_S)  # a redelivery of anything not acked would come by now
            nc = await nats.connect(node.url)
            try:
                info = await jetstream.consumer_info(nc, config, site_id)
            finally:
                await nc.close()
            assert counts == {"delivered": FRAMES, "redelivered": 0}, counts
            assert worker.stats.frames == FRAMES
            assert worker.stats.caught_up == 0
            assert info["num_ack_pending"] == 0, info
            assert info["ack_floor"]["stream_seq"] == FRAMES, info
        finally:
            stop.set()
            await running
            await runtime.aclose()
            await sync_to_async(connections.close_all)()
