"""Scale-out on one machine: two ingest-only processes (`retail-server run --no-http`) and one web-only process
(`--no-grpc`) sharing PostgreSQL and Redis. Each site's boxes stream to one ingest process (the site's fusion
worker); the web process's WebSocket clients receive both sites' live state through the Redis channel layer, and
the REST API of the web process serves what the ingest processes stored.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
import websockets

from server.devices.services import device_create, device_set_credentials
from server.ingest.models import CameraStreamState
from server.inventory.models import Camera, FloorPlan, Site
from tests.support.django_system import session_cookie, shared_database_url
from tests.support.edge_client import stream, track_frame
from tests.support.processes import BIN, free_port, log_tail, running, wait_http

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _site(name: str) -> tuple[int, int, str, int]:
    site = Site.objects.create(name=name)
    FloorPlan.objects.create(site=site, width_m=30, height_m=20)
    device = device_create(site=site, name=f"{name} box")
    secret = f"scale-out-{name}-0123456789abcdefghijklmnop"
    device_set_credentials(device=device, secret=secret)
    camera = Camera.objects.create(site=site, device=device, name=f"{name} cam")
    return site.pk, device.pk, secret, camera.pk


async def _watch_and_stream(
    http_port: int, cookie: str, sites: list[tuple[int, int, str, int, int]]
) -> dict[int, int]:
    """Open one WebSocket per site on the web process, stream 40 frames per site to its ingest process."""
    headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{http_port}"}
    received: dict[int, int] = {site_id: 0 for site_id, *_ in sites}

    async def watch(site_id: int, stop: asyncio.Event, ready: asyncio.Event) -> None:
        async with websockets.connect(
            f"ws://127.0.0.1:{http_port}/ws/sites/{site_id}/", additional_headers=headers
        ) as ws:
            ready.set()  # the server accepts only after joining the site's groups
            while not stop.is_set():
                try:
                    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=0.3))
                except TimeoutError:
                    continue
                if message.get("type") == "live.positions" and message.get("site_id") == site_id:
                    received[site_id] += 1

    stop = asyncio.Event()
    ready = {site_id: asyncio.Event() for site_id, *_ in sites}
    watchers = [asyncio.create_task(watch(site_id, stop, ready[site_id])) for site_id, *_ in sites]
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready.values())), timeout=30)
    base_us = time.time_ns() // 1000
    await asyncio.gather(
        *(
            stream(
                grpc_port,
                device_id,
                secret,
                # Capture times 50 ms apart, as a camera analysed at 20 fps would stamp them.
                [track_frame(camera_id, s, t_us=base_us + s * 50_000) for s in range(1, 41)],
                pace_s=0.05,
            )
            for _, device_id, secret, camera_id, grpc_port in sites
        )
    )
    # Pushes still on their way (throttled to the live rate) get a moment to arrive.
    deadline = asyncio.get_running_loop().time() + 10
    while min(received.values()) < 5 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*watchers)
    return received


def test_two_ingest_processes_and_one_web_process(tmp_path: Path) -> None:
    site_a = _site("North")
    site_b = _site("South")
    cookie = session_cookie("scale-staff", role="staff")
    common = {
        "DJANGO_SETTINGS_MODULE": "server.config.settings.local",
        "DATABASE_URL": shared_database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "RETAIL_DATA_DIR": str(tmp_path / "data"),
    }
    http_port, grpc_a, grpc_b = free_port(), free_port(), free_port()
    web = [str(BIN / "retail-server"), "run", "--no-migrate", "--no-grpc", "--http", f"127.0.0.1:{http_port}"]
    ingest_a = [
        str(BIN / "retail-server"),
        "run",
        "--no-migrate",
        "--no-http",
        "--grpc",
        f"127.0.0.1:{grpc_a}",
    ]
    ingest_b = [
        str(BIN / "retail-server"),
        "run",
        "--no-migrate",
        "--no-http",
        "--grpc",
        f"127.0.0.1:{grpc_b}",
    ]
    logs = [tmp_path / "web.log", tmp_path / "ingest-a.log", tmp_path / "ingest-b.log"]
    with (
        running(web, env=common, log_path=logs[0]) as web_process,
        running(ingest_a, env=common, log_path=logs[1]),
        running(ingest_b, env=common, log_path=logs[2]),
    ):
        wait_http(f"http://127.0.0.1:{http_port}/api/health", process=web_process)
        for port in (grpc_a, grpc_b):  # the ingest processes have no HTTP port: wait for their gRPC ports
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                grpc.channel_ready_future(channel).result(timeout=60)
        received = asyncio.run(_watch_and_stream(http_port, cookie, [(*site_a, grpc_a), (*site_b, grpc_b)]))
        tails = "\n".join(log_tail(path, 1500) for path in logs)
        assert received[site_a[0]] >= 5, f"site A live events via Redis: {received}\n{tails}"
        assert received[site_b[0]] >= 5, f"site B live events via Redis: {received}\n{tails}"
    for _, _, _, camera_id in (site_a, site_b):
        assert CameraStreamState.objects.get(camera_id=camera_id).frames_stored == 40
