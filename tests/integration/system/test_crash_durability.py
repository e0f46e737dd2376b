"""What an ack promises survives `kill -9` (docs/operations.md, "Durability"), against the real `retail-server run`
process: a client that behaves like the edge spool (it resends every frame not acked yet after a reconnect)
streams frames; the server is killed with SIGKILL at seeded random moments and restarted on the same data.

- Ingest only (embedded SQLite store, then InfluxDB): every acked frame's positions are in the time series,
  once each.
- Fusion + analytics: the heat map holds the frames' person-seconds (no bucket lost, none counted twice; at most
  the sample-and-hold interval of the last frame before each kill is missing), and no visit is recorded twice
  or left open.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from proto.retail.v1 import edge_service_pb2, track_pb2
from server.devices.services import device_create, device_set_credentials
from server.insights.models import HeatmapHour, PersonVisit
from server.inventory.models import Camera, FloorPlan, Site, Zone
from tests.support.django_system import shared_database_url
from tests.support.edge_client import StreamResult, stream
from tests.support.influxdb import EphemeralInfluxDB
from tests.support.processes import BIN, REPO_ROOT, free_port, log_tail, running, wait_http

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SECRET = "crash-test-secret-0123456789abcdefghijklmnop"
FRAME_US = 100_000
PEOPLE = 4
KILLS = 3


def _inventory() -> tuple[int, int, int]:
    """A site with one zone and one device with one camera: (site id, device id, camera id)."""
    site = Site.objects.create(name=f"Crash {time.time_ns()}")
    FloorPlan.objects.create(site=site, width_m=30, height_m=20)
    Zone.objects.create(site=site, name="Front", polygon=[[0, 0], [8, 0], [8, 10], [0, 10]])
    device = device_create(site=site, name="box")
    device_set_credentials(device=device, secret=SECRET)
    camera = Camera.objects.create(site=site, device=device, name="cam").pk
    return site.pk, device.pk, camera


def _frame(camera_id: int, sequence: int, base_us: int) -> bytes:
    """`PEOPLE` people standing 3 m apart (none close to another), one frame every 100 ms."""
    frame = track_pb2.TrackFrame(
        camera_id=camera_id, sequence=sequence, capture_time_us=base_us + sequence * FRAME_US
    )
    frame.local_id_deltas.extend([1] * PEOPLE)
    frame.bbox_x_px.extend([100 + 60 * i for i in range(PEOPLE)])
    frame.bbox_y_px.extend([200] * PEOPLE)
    frame.bbox_w_px.extend([40] * PEOPLE)
    frame.bbox_h_px.extend([120] * PEOPLE)
    frame.floor_x_cm.extend([300 + 300 * i for i in range(PEOPLE)])
    frame.floor_y_cm.extend([500] * PEOPLE)
    frame.score_permille.extend([900] * PEOPLE)
    frame.state.extend([track_pb2.TRACK_STATE_CONFIRMED] * PEOPLE)
    return edge_service_pb2.EdgeMessage(frame=frame).SerializeToString()


@contextmanager
def _server(data_dir: Path, log_path: Path, **env: str) -> Iterator[tuple[int, int]]:
    """`retail-server run` on fresh ports and the given data directory; yields (grpc port, process id)."""
    http_port, grpc_port = free_port(), free_port()
    full_env = {
        "DJANGO_SETTINGS_MODULE": "server.config.settings.local",
        "DATABASE_URL": shared_database_url(),
        "RETAIL_DATA_DIR": str(data_dir),
        "INGEST_ACK_INTERVAL_MS": "100",
        # This checkout's code, also where another checkout is the installed (editable) one.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])),
        **env,
    }
    command = [str(BIN / "retail-server"), "run", "--no-migrate"]
    command += ["--http", f"127.0.0.1:{http_port}", "--grpc", f"127.0.0.1:{grpc_port}"]
    with running(command, env=full_env, log_path=log_path) as process:
        try:
            wait_http(f"http://127.0.0.1:{http_port}/api/health", process=process)
        except RuntimeError as err:
            raise AssertionError(f"{err}\n{log_tail(log_path)}") from err
        yield grpc_port, process.pid


async def _stream_and_kill(
    grpc_port: int,
    device: int,
    messages: list[bytes],
    done: Callable[[StreamResult], bool],
    kill: tuple[int, float] | None,
) -> StreamResult:
    """Stream `messages`; with `kill`, SIGKILL the server process `kill[1]` seconds in."""
    task = asyncio.create_task(
        stream(grpc_port, device, SECRET, messages, pace_s=0.002, linger_s=20, until=done)
    )
    if kill is not None:
        await asyncio.sleep(kill[1])
        os.kill(kill[0], signal.SIGKILL)
    return await task


def _stream_with_kills(
    tmp_path: Path, camera: int, device: int, frames: int, seed: int, **env: str
) -> tuple[list[int], int]:
    """Stream frames 1..`frames`, `kill -9` the server `KILLS` times at seeded random moments, resume after each
    restart from the first unacked frame. Returns (acked sequence at each kill, frames acked at the end)."""
    rng = random.Random(seed)
    base_us = time.time_ns() // 1000 - 3_600_000_000  # an hour ago: every frame is inside the time window
    data_dir = tmp_path / "data"
    acked_at_kills: list[int] = []
    acked = 0
    for run in range(KILLS + 1):
        log_path = tmp_path / f"server-{run}.log"
        with _server(data_dir, log_path, **env) as (grpc_port, pid):
            messages = [_frame(camera, s, base_us) for s in range(acked + 1, frames + 1)]
            kill = (pid, rng.uniform(0.3, 1.2)) if run < KILLS else None
            result = asyncio.run(
                _stream_and_kill(grpc_port, device, messages, lambda r: r.acked.get(camera) == frames, kill)
            )
            if run < KILLS:
                # What the server acked before it died: the client forgets those frames, as the spool does.
                acked = max(acked, result.acked.get(camera, 0))
                acked_at_kills.append(acked)
                time.sleep(0.2)  # the killed process is gone; `running` sees it exited
            else:
                acked = result.acked.get(camera, 0)
                assert acked == frames, log_tail(log_path)
    return acked_at_kills, acked


def _embedded_positions(data_dir: Path) -> tuple[int, int]:
    """(points, distinct frame times) of the positions measurement in the embedded store."""
    with sqlite3.connect(data_dir / "timeseries.sqlite3") as db:
        (points,) = db.execute("SELECT count(*) FROM ts_points WHERE measurement = 'positions'").fetchone()
        (times,) = db.execute(
            "SELECT count(DISTINCT time_ns / 1000) FROM ts_points WHERE measurement = 'positions'"
        ).fetchone()
    return int(points), int(times)


def _influx_positions(url: str, database: str) -> int:
    query = urllib.parse.urlencode({"db": database, "q": 'SELECT count("x_m") FROM "positions"'})
    with urllib.request.urlopen(f"{url}/query?{query}", timeout=10) as response:
        body = json.load(response)
    series = body["results"][0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


INGEST_ONLY = {"INGEST_SITE_ANALYTICS": "0", "POSITIONS_SAMPLE_HZ": "1000"}  # every frame's positions
EMBEDDED = {"INFLUX_URL": ""}  # the embedded SQLite store, whatever the environment says


def test_kill_9_loses_no_acked_positions_embedded_store(tmp_path: Path) -> None:
    _, device, camera = _inventory()
    frames = 1200
    acked_at_kills, _ = _stream_with_kills(
        tmp_path, camera, device, frames, seed=11, **INGEST_ONLY, **EMBEDDED
    )
    assert all(0 < a < frames for a in acked_at_kills), acked_at_kills  # each kill came mid-stream
    points, times = _embedded_positions(tmp_path / "data")
    assert (points, times) == (frames * PEOPLE, frames), acked_at_kills


def test_kill_9_loses_no_acked_positions_influxdb(tmp_path: Path) -> None:
    _, device, camera = _inventory()
    frames = 1200
    with EphemeralInfluxDB() as influx:
        acked_at_kills, _ = _stream_with_kills(
            tmp_path, camera, device, frames, seed=12, INFLUX_URL=influx.url, INFLUX_DB="crash", **INGEST_ONLY
        )
        assert all(0 < a < frames for a in acked_at_kills), acked_at_kills
        assert _influx_positions(influx.url, "crash") == frames * PEOPLE, acked_at_kills


def test_kill_9_loses_no_analytics_records(tmp_path: Path) -> None:
    site_id, device, camera = _inventory()
    frames = (
        1200  # two minutes of capture time: heat buckets close during the run, and one is open at each kill
    )
    acked_at_kills, _ = _stream_with_kills(
        tmp_path, camera, device, frames, seed=13, POSITIONS_SAMPLE_HZ="1", **EMBEDDED
    )
    assert all(0 < a < frames for a in acked_at_kills), acked_at_kills
    # The last server stopped cleanly (SIGTERM): it closed what was open. Everything is recorded once.
    person_s = sum(
        float(np.frombuffer(bytes(row.person_s), dtype="<f4").sum())
        for row in HeatmapHour.objects.filter(site_id=site_id)
    )
    # Sample-and-hold: frame k's people count from t_k to t_{k+1}. The last frame before a kill and the first
    # after a restart (fusion starts again) may miss one interval each; the fusion confirms a person after a
    # few frames. Nothing may be counted twice.
    truth = (frames - 1) * FRAME_US / 1e6 * PEOPLE
    assert truth - (KILLS + 1) * PEOPLE * 1.0 <= person_s <= truth + 0.01, (person_s, truth, acked_at_kills)
    visits = PersonVisit.objects.filter(site_id=site_id)
    assert visits.filter(ended_at__isnull=True).count() == 0
    # One visit per person per server run (fusion ids start again after a crash), never one twice.
    assert visits.count() == PEOPLE * (KILLS + 1), list(visits.values_list("person_id", "started_at"))
