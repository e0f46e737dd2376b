"""Walking skeleton: the real server (`retail-server run`) on free ports against PostgreSQL, Redis and InfluxDB,
the real edge agent (`retail-edge run`) on the sample video for a few seconds, and a real WebSocket client.

Asserts that frames with tracked people were stored (PostgreSQL stream state, analytics records), written to
InfluxDB (positions, occupancy) and pushed live over the Channels WebSocket (through Redis).
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import websockets

from server.demo.setup import setup_demo
from server.ingest.models import CameraStreamState
from server.insights.models import PersonVisit
from tests.support.django_system import session_cookie, shared_database_url
from tests.support.processes import BIN, SAMPLE_VIDEO, free_port, log_tail, running, wait_http

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _influx_count(influx_url: str, database: str, query: str) -> int:
    url = f"{influx_url}/query?" + urllib.parse.urlencode({"db": database, "q": query})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    series = body["results"][0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


async def _collect_live(url: str, cookie: str, origin: str, seconds: float) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    async with websockets.connect(
        url, additional_headers={"Cookie": f"sessionid={cookie}", "Origin": origin}
    ) as ws:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            try:
                message = await asyncio.wait_for(ws.recv(), timeout=max(0.1, deadline - loop.time()))
            except TimeoutError:
                break
            events.append(json.loads(message))
    return events


def test_edge_agent_to_database_timeseries_and_websocket(tmp_path: Path) -> None:
    assert SAMPLE_VIDEO.is_file(), f"sample video missing: {SAMPLE_VIDEO}"
    influx_url = os.environ["INFLUX_URL"]
    redis_url = os.environ["REDIS_URL"]
    demo = setup_demo(video_path=str(SAMPLE_VIDEO))
    cookie = session_cookie("staff")
    http_port, grpc_port = free_port(), free_port()
    influx_db = f"skeleton_{http_port}"
    env = {
        "DJANGO_SETTINGS_MODULE": "server.config.settings.local",
        "DATABASE_URL": shared_database_url(),
        "REDIS_URL": redis_url,
        "INFLUX_URL": influx_url,
        "INFLUX_DB": influx_db,
        "RETAIL_DATA_DIR": str(tmp_path / "data"),
        "LIVE_PUSH_HZ": "5",
        "POSITIONS_SAMPLE_HZ": "2",
    }
    server_log = tmp_path / "server.log"
    server_args = [str(BIN / "retail-server"), "run", "--no-migrate"]
    server_args += ["--http", f"127.0.0.1:{http_port}", "--grpc", f"127.0.0.1:{grpc_port}"]
    with running(server_args, env=env, log_path=server_log) as server:
        try:
            wait_http(f"http://127.0.0.1:{http_port}/api/health", process=server)
        except RuntimeError as err:
            raise AssertionError(f"{err}\n{log_tail(server_log)}") from err
        edge_args = [str(BIN / "retail-edge"), "run", f"--server=127.0.0.1:{grpc_port}"]
        edge_args += [f"--device-id={demo.device_id}", f"--device-secret={demo.device_secret}"]
        edge_args += ["--state-dir", str(tmp_path / "edge"), "--max-seconds", "12", "--pace", "fast"]
        for camera_id, crop, homography in zip(
            demo.camera_ids, demo.crops_px, demo.homographies, strict=True
        ):
            edge_args += [f"--source={SAMPLE_VIDEO}", f"--camera-id={camera_id}"]
            edge_args += [
                "--crop=" + ",".join(map(str, crop)),
                "--homography=" + ",".join(map(repr, homography)),
            ]
        edge_log = tmp_path / "edge.log"
        with running(edge_args, env={}, log_path=edge_log) as edge:
            events = asyncio.run(
                _collect_live(
                    f"ws://127.0.0.1:{http_port}/ws/sites/{demo.site_id}/",
                    cookie,
                    f"http://127.0.0.1:{http_port}",
                    seconds=10,
                )
            )
            edge.wait(timeout=60)
        assert edge.returncode == 0, log_tail(edge_log)
        health_request = urllib.request.Request(  # an admin sees the health details
            f"http://127.0.0.1:{http_port}/api/health",
            headers={"Cookie": f"sessionid={session_cookie('skeleton-admin', role='admin')}"},
        )
        with urllib.request.urlopen(health_request, timeout=5) as response:
            health = json.load(response)
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as response:
            metrics_text = response.read().decode()
    # Stored in PostgreSQL.
    states = list(CameraStreamState.objects.filter(camera_id__in=demo.camera_ids))
    assert len(states) == 2, f"expected both cameras' stream state\n{log_tail(server_log)}"
    for state in states:
        assert state.frames_stored > 20, (state.camera_id, state.frames_stored)
        assert state.track_updates_stored > 5 * state.frames_stored, "frames should carry several people each"
        assert state.highest_contiguous_sequence == state.frames_stored + state.frames_rejected
        assert state.frames_rejected == 0
    assert PersonVisit.objects.filter(site_id=demo.site_id).count() >= 10
    # Written to InfluxDB.
    assert _influx_count(influx_url, influx_db, 'SELECT count("x_m") FROM "positions"') > 50
    assert _influx_count(influx_url, influx_db, 'SELECT count("people") FROM "occupancy"') > 3
    assert _influx_count(influx_url, influx_db, 'SELECT count("entries") FROM "zone_counts"') > 3
    assert _influx_count(influx_url, influx_db, 'SELECT count("fps") FROM "edge_health"') >= 2  # per camera
    # Pushed over the WebSocket, with people on the floor.
    assert events
    assert events[0]["type"] == "hello"
    live = [e for e in events if e["type"] == "live.positions"]
    assert len(live) >= 10, f"{len(live)} live events in 10 s at 5 Hz"
    assert max(len(e["persons"]) for e in live) >= 10  # type: ignore[arg-type]
    assert health["checks"]["redis"]["ok"] is True
    accepted = [
        line for line in metrics_text.splitlines() if line.startswith("retail_ingest_frames_accepted_total")
    ]
    assert accepted, "ingest metrics missing from /metrics"
    assert float(accepted[0].split()[-1]) >= sum(s.frames_stored for s in states) - 1
    assert health["checks"]["ingest"]["frames_accepted"] >= sum(s.frames_stored for s in states) - 1
