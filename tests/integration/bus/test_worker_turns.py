"""A site worker with several sites' frames waiting applies each site's frames in runs (server.worker.turns), with
the real worker (`SiteWorker` and the runtime `retail-server worker` builds), a real nats-server and PostgreSQL.

Before, its pullers let the event loop run after every message, so each run of the loop applied one frame of every
site with messages waiting: runs of one frame, each finding its site's fusion and analytics state evicted from the
CPU's caches by the other sites' (at 64 sites the same frames cost 40-45 % more CPU time than at one).
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from server.bus import jetstream
from server.runtime import build_runtime
from server.worker import service
from tests.integration.system.test_bus_failover import STREAM, _site
from tests.integration.system.test_bus_order import _publish
from tests.support.nats import nats_cluster, servers_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

SITES = 4
FRAMES = 120  # per site: less than one pull batch, all waiting before the worker starts


class _Recording(service.SiteWorker):
    """The worker, noting which site each frame given to the fusion belongs to."""

    fused: list[int]

    def _fuse(self, site_id: int, released: list) -> None:  # type: ignore[type-arg]
        self.fused.extend([site_id] * len(released))
        super()._fuse(site_id, released)


def _runs(sites: list[int]) -> list[int]:
    runs = [1]
    for before, site in itertools.pairwise(sites):
        if site == before:
            runs[-1] += 1
        else:
            runs.append(1)
    return runs


async def test_a_worker_applies_each_sites_waiting_frames_in_runs() -> None:
    stores = [await sync_to_async(_site)(f"Turns {n}") for n in range(SITES)]
    site_ids = [site for site, _, _, _ in stores]
    base_us = time.time_ns() // 1000
    with nats_cluster(1) as nodes:
        bus_url = servers_url(nodes)
        for site, _, _, camera in stores:
            await _publish(bus_url, site, camera, base_us, list(range(1, FRAMES + 1)))
        runtime = build_runtime(role="worker")
        worker = _Recording(
            runtime=runtime,
            config=jetstream.BusConfig(servers=(bus_url,), stream=STREAM, pin_ttl_s=60.0),
            ack_interval_s=0.2,
            max_lag_s=10**9,
            list_sites=lambda: site_ids,
        )
        worker.fused = []
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        try:
            deadline = time.monotonic() + 120
            while worker.stats.frames < SITES * FRAMES:
                assert time.monotonic() < deadline, (worker.stats.frames, _runs(worker.fused))
                assert not running.done(), running
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await running
            await runtime.aclose()
            await sync_to_async(connections.close_all)()
    assert sorted(worker.fused) == sorted(site_ids * FRAMES)
    runs = _runs(worker.fused)
    # Runs of one site's frames (a slice each), not one frame of each site in turn.
    assert sum(runs) / len(runs) >= 4, runs
