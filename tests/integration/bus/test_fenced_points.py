"""A site worker's time-series points go to the store only from a barrier that passed the site's fence, with the
real worker (`SiteWorker`, the runtime `retail-server worker` builds), PostgreSQL and each time-series store
(InfluxDB 1.x, the embedded SQLite store).

The worker fuses frames 1..35 of a site and makes them durable; then it fuses frames 36..65 and, before its next
barrier, another worker takes the site over. That barrier is fenced: the worker drops the site, and none of the
points of frames 36..65 may reach the store (before the fix, the batching writer sent them within its flush
interval, and the barrier itself before its fenced transaction). The new owner then applies 36..65 again and
writes its points: the store holds the new owner's occupancy samples of those frames only (before: the old
owner's at 41, 51, 61 beside the new owner's at 36, 46, 56). Both stores keep one point per (measurement, tags,
time), a second write merging its fields (the embedded store's primary key, InfluxDB's documented rule): so what
landed twice were the old owner's points at other times than the new owner's (its samples, its entries and exits
counted since its own last sample), and its values of instants both wrote were replaced by the new owner's.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from server.bus import jetstream
from server.bus.codec import encode_frame
from server.ingest.models import SiteFrameProgress
from server.inventory.models import Camera, FloorPlan, Site, Zone
from server.runtime import Runtime, build_runtime
from server.timeseries.types import Row, SeriesQuery
from server.worker import service
from server.worker.progress import SiteProgress
from tests.integration.system.test_bus_failover import FRAME_US
from tests.integration.system.test_bus_order import _decoded

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

DURABLE = 35  # frames made durable by the first owner
APPLIED = 65  # then applied up to this one, fenced
MEASUREMENTS = ("occupancy", "positions", "zone_counts")


def _store() -> tuple[int, int]:
    site = Site.objects.create(name=f"Fenced points {time.time_ns()}")
    FloorPlan.objects.create(site=site, width_m=30, height_m=20)
    Zone.objects.create(site=site, name="Front", polygon=[[0, 0], [8, 0], [8, 10], [0, 10]])
    return site.pk, Camera.objects.create(site=site, name="cam").pk


def _rows(runtime: Runtime, site_id: int, base_us: int) -> dict[str, list[Row]]:
    assert runtime.writer.flush(5.0)
    start, end = base_us * 1000, (base_us + (APPLIED + 10) * FRAME_US) * 1000
    return {
        m: runtime.backend.query(SeriesQuery(m, start, end, tags={"site": str(site_id)}))
        for m in MEASUREMENTS
    }


def _newest(rows: dict[str, list[Row]]) -> dict[str, int]:
    return {m: max((r.time_ns for r in found), default=0) for m, found in rows.items()}


@pytest.fixture(params=["influxdb", "embedded"])
def store(request: pytest.FixtureRequest, tmp_path: Path, settings: Any) -> str:
    if request.param == "embedded":
        settings.INFLUX_URL = ""
        settings.TIMESERIES_EMBEDDED_PATH = str(tmp_path / "timeseries.sqlite3")
    else:
        assert settings.INFLUX_URL, "the test runner provides InfluxDB (INFLUX_URL)"
    return str(request.param)


@pytest.mark.asyncio
async def test_a_fenced_barrier_writes_no_points_and_the_new_owner_writes_each_instant_once(
    store: str,
) -> None:
    site_id, camera_id = await sync_to_async(_store)()
    base_us = time.time_ns() // 1000 - 3600 * 10**6
    runtime = build_runtime(role="worker")
    worker = service.SiteWorker(
        runtime=runtime,
        config=jetstream.BusConfig(servers=("nats://127.0.0.1:1",), stream="UNUSED"),
        ack_interval_s=0.1,
        max_lag_s=10**9,
        list_sites=lambda: [site_id],
    )

    async def take_over() -> None:  # what `SiteWorker._take_over` does, less reading the stream
        await worker._progress.activate(site_id)
        await runtime.processor.prepare(worker._camera(site_id, 0))

    def apply(first: int, last: int) -> None:
        for sequence in range(first, last + 1):
            worker._apply(site_id, sequence, encode_frame(_decoded(camera_id, sequence, base_us)), None)

    try:
        await take_over()
        apply(1, DURABLE)
        await worker._flush()
        durable = await asyncio.to_thread(_rows, runtime, site_id, base_us)
        assert all(durable.values()), durable  # a barrier that passed: its points are in the store
        newest_durable = _newest(durable)

        apply(DURABLE + 1, APPLIED)
        await asyncio.sleep(1.0)  # longer than the writer's flush interval
        # Another worker takes the site over: its claim raises the revision.
        await SiteProgress(held_from=lambda camera, epoch: None, ack=lambda reply: None).activate(site_id)
        await worker._flush()
        assert site_id not in worker._progress.sites  # fenced: dropped here
        after_fence = await asyncio.to_thread(_rows, runtime, site_id, base_us)
        assert _newest(after_fence) == newest_durable, (store, after_fence)  # nothing of 36..65
        assert after_fence == durable, store

        # The new owner (this worker again, as after a take-over) applies 36..65 and makes them durable.
        await take_over()
        apply(DURABLE + 1, APPLIED)
        await worker._flush()
        final = await asyncio.to_thread(_rows, runtime, site_id, base_us)
        row = await SiteFrameProgress.objects.aget(site_id=site_id)
        assert row.applied_through == APPLIED
        site_wide = [r.time_ns for r in final["occupancy"] if not r.tags.get("zone")]
        # One site-wide occupancy sample per second of capture time, each owner from the first frame it fused: the
        # new owner's at 36, 46, 56 (before: the old owner's at 41, 51, 61 between them).
        assert [t for t in site_wide if t > newest_durable["occupancy"]] == [
            (base_us + k * FRAME_US) * 1000 for k in (36, 46, 56)
        ], (store, site_wide)
    finally:
        await runtime.aclose()
        await sync_to_async(connections.close_all)()
