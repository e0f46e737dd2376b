"""Server faults (issue 4, SPEC §7), each against the real `retail-server run` process:

- InfluxDB stopped and restarted during ingest: acks are withheld while it is down (an ack means the frame's
  points are stored; the edge spool keeps the frames), ingest goes on, and nothing is lost when it is back.
- Redis stopped: ingest goes on, health says so; the live push resumes when Redis returns.
- A client sending 10,000 malformed messages: the server stays up and a good client is unaffected.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import websockets

from server.devices.services import device_create, device_set_credentials
from server.ingest.models import CameraStreamState
from server.inventory.models import Camera, FloorPlan, Site
from tests.support.django_system import session_cookie, shared_database_url
from tests.support.edge_client import StreamResult, stream, track_frame
from tests.support.influxdb import EphemeralInfluxDB
from tests.support.processes import BIN, free_port, log_tail, running, wait_http

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
SECRET = "fault-test-secret-0123456789abcdefghijklmnop"


def _inventory(cameras: int = 2) -> tuple[int, list[int], list[int]]:
    """A site, two devices with `cameras` cameras each; returns (site id, device ids, camera ids of device 0)."""
    site = Site.objects.create(name=f"Faults {time.time_ns()}")
    FloorPlan.objects.create(site=site, width_m=30, height_m=20)
    device_ids, first_cameras = [], []
    for index in range(2):
        device = device_create(site=site, name=f"box-{index}")
        device_set_credentials(device=device, secret=f"{SECRET}-{index}")
        ids = [
            Camera.objects.create(site=site, device=device, name=f"b{index}c{c}").pk for c in range(cameras)
        ]
        device_ids.append(device.pk)
        if index == 0:
            first_cameras = ids
    return site.pk, device_ids, first_cameras


@contextmanager
def server(tmp_path: Path, **env: str) -> Iterator[tuple[int, int, Path]]:
    http_port, grpc_port = free_port(), free_port()
    base_env = {
        "DJANGO_SETTINGS_MODULE": "server.config.settings.local",
        "DATABASE_URL": shared_database_url(),
        "RETAIL_DATA_DIR": str(tmp_path / f"data-{http_port}"),
        "INGEST_AUTH_RECHECK_S": "1",
        **env,
    }
    log_path = tmp_path / f"server-{http_port}.log"
    command = [str(BIN / "retail-server"), "run", "--no-migrate"]
    command += ["--http", f"127.0.0.1:{http_port}", "--grpc", f"127.0.0.1:{grpc_port}"]
    with running(command, env=base_env, log_path=log_path) as process:
        try:
            wait_http(f"http://127.0.0.1:{http_port}/api/health", process=process)
        except RuntimeError as err:
            raise AssertionError(f"{err}\n{log_tail(log_path)}") from err
        yield http_port, grpc_port, log_path
        assert process.poll() is None, f"server died\n{log_tail(log_path)}"


def _health(http_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/health", timeout=10) as response:
        return dict(json.load(response))


def acked(camera_id: int, sequence: int) -> Callable[[StreamResult], bool]:
    """`stream(until=...)`: every frame of the camera up to `sequence` acknowledged."""
    return lambda result: result.acked.get(camera_id) == sequence


def _wait_redis_back(http_port: int, redis: subprocess.Popen[bytes]) -> None:
    """Until the restarted Redis answers the server's health check (the live push needs it)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert redis.poll() is None, "the restarted Redis exited"
        if _health(http_port)["checks"]["redis"]["ok"]:
            return
        time.sleep(0.2)
    raise AssertionError("Redis did not come back within 30 s")


def _influx_points(url: str, database: str) -> int:
    query = urllib.parse.urlencode({"db": database, "q": 'SELECT count("x_m") FROM "positions"'})
    with urllib.request.urlopen(f"{url}/query?{query}", timeout=10) as response:
        body = json.load(response)
    series = body["results"][0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


def test_influxdb_outage_withholds_acks_and_loses_nothing(tmp_path: Path) -> None:
    _, device_ids, cameras = _inventory(cameras=1)
    camera = cameras[0]
    frames, people = 300, 4
    base_us = time.time_ns() // 1000 - 60_000_000
    with (
        EphemeralInfluxDB() as influx,
        server(
            tmp_path,
            INFLUX_URL=influx.url,
            INFLUX_DB="faults",
            POSITIONS_SAMPLE_HZ="1000",  # every frame's positions, so that the expected count is exact
            INGEST_SITE_ANALYTICS="0",
        ) as (http_port, grpc_port, log_path),
    ):

        def batch(first: int, last: int) -> list[bytes]:
            return [
                track_frame(camera, s, people=people, t_us=base_us + s * 100_000)
                for s in range(first, last + 1)
            ]

        first = asyncio.run(
            stream(
                grpc_port, device_ids[0], f"{SECRET}-0", batch(1, 100), linger_s=15, until=acked(camera, 100)
            )
        )
        assert first.acked.get(camera) == 100
        influx.stop()
        during = asyncio.run(
            stream(
                grpc_port, device_ids[0], f"{SECRET}-0", batch(101, 200), linger_s=3, until=acked(camera, 200)
            )
        )
        assert during.error is None
        assert during.acked.get(camera) == 100, "frames whose points are not stored must not be acked"
        health = _health(http_port)
        assert health["checks"]["timeseries"]["ok"] is False
        assert health["checks"]["timeseries"]["buffered_points"] > 0
        influx.start()
        after = asyncio.run(
            stream(
                grpc_port,
                device_ids[0],
                f"{SECRET}-0",
                batch(101, frames),  # what the edge spool resends: every frame not acked
                linger_s=15,
                until=acked(camera, frames),
            )
        )
        assert after.acked.get(camera) == frames
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _influx_points(influx.url, "faults") < frames * people:
            time.sleep(0.5)
        assert _influx_points(influx.url, "faults") == frames * people, log_tail(log_path)
        assert _health(http_port)["checks"]["timeseries"]["dropped_points"] == 0


async def _live_events(http_port: int, site_id: int, cookie: str, seconds: float, send: Any) -> int:
    """Count live.positions events received while `send` (a coroutine) streams frames."""
    url = f"ws://127.0.0.1:{http_port}/ws/sites/{site_id}/"
    headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{http_port}"}
    count = 0
    async with websockets.connect(url, additional_headers=headers) as ws:
        sender = asyncio.create_task(send)
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), timeout=0.5))
            except TimeoutError:
                continue
            count += message.get("type") == "live.positions"
        await sender
    return count


def test_redis_outage_ingest_goes_on_and_push_resumes(tmp_path: Path) -> None:
    site_id, device_ids, cameras = _inventory(cameras=1)
    camera = cameras[0]
    cookie = session_cookie("fault-staff", role="staff")
    redis_port = free_port()
    redis_cmd = [
        "redis-server",
        "--bind",
        "127.0.0.1",
        "--port",
        str(redis_port),
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    redis_cmd += ["--dir", str(tmp_path)]
    redis = subprocess.Popen(redis_cmd, stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        with server(tmp_path, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", INGEST_SITE_ANALYTICS="0") as (
            http_port,
            grpc_port,
            log_path,
        ):
            sequence = iter(range(1, 100_000))

            def frames(n: int) -> list[bytes]:
                return [track_frame(camera, next(sequence)) for _ in range(n)]

            before = asyncio.run(
                _live_events(
                    http_port,
                    site_id,
                    cookie,
                    3.0,
                    stream(grpc_port, device_ids[0], f"{SECRET}-0", frames(20), pace_s=0.1),
                )
            )
            assert before >= 5, log_tail(log_path)
            redis.terminate()
            redis.wait(timeout=10)
            during = asyncio.run(
                stream(
                    grpc_port,
                    device_ids[0],
                    f"{SECRET}-0",
                    frames(30),
                    pace_s=0.02,
                    linger_s=15,
                    until=acked(camera, 50),
                )
            )
            assert during.acked.get(camera) == 50, "ingest must go on while Redis is down"
            health = _health(http_port)
            assert health["status"] == "degraded"
            assert health["checks"]["redis"]["ok"] is False
            assert "ingest goes on" in health["checks"]["redis"]["detail"]
            redis = subprocess.Popen(redis_cmd, stdout=subprocess.DEVNULL)
            _wait_redis_back(http_port, redis)
            after = asyncio.run(
                _live_events(
                    http_port,
                    site_id,
                    cookie,
                    4.0,
                    stream(grpc_port, device_ids[0], f"{SECRET}-0", frames(25), pace_s=0.1),
                )
            )
            assert after >= 5, f"live push did not resume after Redis returned\n{log_tail(log_path)}"
            assert _health(http_port)["checks"]["redis"]["ok"] is True
    finally:
        redis.terminate()
        redis.wait(timeout=10)


def test_malformed_flood_does_not_hurt_good_clients(tmp_path: Path) -> None:
    _, device_ids, cameras = _inventory(cameras=1)
    good_camera = cameras[0]
    with server(tmp_path, INGEST_SITE_ANALYTICS="0") as (http_port, grpc_port, _log_path):
        garbage = [b"\x0a\xff\xff\xff\xff\x0f" + bytes([i % 251]) * 7 for i in range(10_000)]

        async def both() -> tuple[Any, Any]:
            bad = stream(
                grpc_port,
                device_ids[1],
                f"{SECRET}-1",
                garbage,
                linger_s=20,
                until=lambda r: len(r.rejected) == len(garbage),
            )
            good = stream(
                grpc_port,
                device_ids[0],
                f"{SECRET}-0",
                [track_frame(good_camera, s) for s in range(1, 201)],
                pace_s=0.01,
                linger_s=15,
                until=acked(good_camera, 200),
            )
            return await asyncio.gather(bad, good)

        bad, good = asyncio.run(both())
        assert good.error is None
        assert good.acked.get(good_camera) == 200
        assert not good.rejected
        assert len(bad.rejected) == 10_000
        assert all("malformed" in r.reason for r in bad.rejected[:10])
        assert _health(http_port)["checks"]["ingest"]["frames_rejected"] >= 10_000
    state = CameraStreamState.objects.get(camera_id=good_camera)
    assert state.frames_stored == 200
