"""Scale-out on the bus, with real processes on loopback: a NATS JetStream node, a gateway (`retail-server run` with
RETAIL_BUS_URL: it publishes the frames it accepts), two site workers (`retail-server worker`), PostgreSQL and
Redis. Two sites stream; the worker that fuses one of them is killed with SIGKILL mid-stream. JetStream pins the
site on the other worker, which takes over.

Afterwards every frame is acked to the edge, and every acked frame's effect is recorded once: the heat map holds
the frames' person-seconds (at most the sample-and-hold interval per person lost at each take-over, when the fusion
starts again; nothing counted twice), no visit is left open or recorded twice, and the site's durable progress
covers every message of the stream.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import pytest

from proto.retail.v1 import edge_service_pb2, track_pb2
from server.devices.services import device_create, device_set_credentials
from server.ingest.models import CameraStreamState, SiteFrameProgress
from server.insights.models import HeatmapHour, PersonVisit
from server.inventory.models import Camera, FloorPlan, Site, Zone
from tests.support.django_system import shared_database_url
from tests.support.edge_client import StreamResult, stream
from tests.support.nats import nats_cluster, servers_url
from tests.support.processes import BIN, REPO_ROOT, free_port, log_tail, running, wait_http

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
FRAME_US = 100_000
PEOPLE = 4
FRAMES = 500
STREAM = "RETAIL_FRAMES_TEST"


def _site(name: str) -> tuple[int, int, str, int]:
    """A site with one zone and one device with one camera: (site, device, secret, camera)."""
    site = Site.objects.create(name=f"{name} {time.time_ns()}")
    FloorPlan.objects.create(site=site, width_m=30, height_m=20)
    Zone.objects.create(site=site, name="Front", polygon=[[0, 0], [8, 0], [8, 10], [0, 10]])
    device = device_create(site=site, name=f"{name} box")
    secret = f"bus-{name}-0123456789abcdefghijklmnopqrstuv"
    device_set_credentials(device=device, secret=secret)
    camera = Camera.objects.create(site=site, device=device, name=f"{name} cam")
    return site.pk, device.pk, secret, camera.pk


def _frame(camera_id: int, sequence: int, base_us: int) -> bytes:
    """`PEOPLE` people standing 3 m apart, one frame every 100 ms of capture time."""
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


def _env(tmp_path: Path, bus_url: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "server.config.settings.local",
        "DATABASE_URL": shared_database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "RETAIL_DATA_DIR": str(tmp_path / "data"),
        "INFLUX_URL": "",
        "RETAIL_BUS_URL": bus_url,
        "RETAIL_BUS_STREAM": STREAM,
        "RETAIL_WORKER_PIN_TTL_S": "2",
        "INGEST_ACK_INTERVAL_MS": "100",
        "POSITIONS_SAMPLE_HZ": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])),
    }


@contextmanager
def _gateway(tmp_path: Path, env: dict[str, str], name: str) -> Iterator[int]:
    http_port, grpc_port = free_port(), free_port()
    command = [str(BIN / "retail-server"), "run", "--no-migrate"]
    command += ["--http", f"127.0.0.1:{http_port}", "--grpc", f"127.0.0.1:{grpc_port}"]
    log = tmp_path / f"{name}.log"
    with running(command, env=env, log_path=log) as process:
        try:
            wait_http(f"http://127.0.0.1:{http_port}/api/health", process=process)
        except RuntimeError as err:
            raise AssertionError(f"{err}\n{log_tail(log)}") from err
        yield grpc_port


def _all_acked(camera_id: int) -> Callable[[StreamResult], bool]:
    return lambda result: result.acked.get(camera_id) == FRAMES


def _owner(logs: dict[str, Path], site_id: int) -> str | None:
    """The worker that took `site_id` over last (from the workers' logs)."""
    latest: tuple[float, str] | None = None
    pattern = re.compile(rf"site {site_id} taken over")
    for name, path in logs.items():
        for line in log_tail(path, 200_000).splitlines():
            if pattern.search(line):
                stamp = time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) + int(line[20:23]) / 1000
                if latest is None or stamp >= latest[0]:
                    latest = (stamp, name)
    return latest[1] if latest else None


def _takeovers(logs: dict[str, Path], site_id: int) -> int:
    return sum(log_tail(path, 200_000).count(f"site {site_id} taken over") for path in logs.values())


async def _last_stream_seq(bus_url: str, site_id: int, *, timeout_s: float = 30.0) -> int:
    """The site's last stream sequence. JetStream may answer 503 (or not at all) for a while after a NATS node
    died (a stream leader election): asked again until `timeout_s`."""
    import nats
    import nats.errors
    import nats.js.errors

    nc = await nats.connect(bus_url.split(","))
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                raw = await nc.jetstream().get_msg(STREAM, subject=f"retail.frames.{site_id}")
                return int(raw.seq or 0)
            except (nats.js.errors.ServiceUnavailableError, nats.errors.TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await nc.close()


def victim_dead(workers: Mapping[str, subprocess.Popen[bytes]]) -> bool:
    """Exactly one worker is gone (the one killed) and none exited otherwise."""
    return sum(1 for p in workers.values() if p.poll() is not None) == 1


def _heat_person_s(site_id: int) -> float:
    return sum(
        float(np.frombuffer(bytes(row.person_s), dtype="<f4").sum())
        for row in HeatmapHour.objects.filter(site_id=site_id)
    )


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _work(
    tmp_path: Path,
    env: dict[str, str],
    name: str,
    site_id: int,
    through: int,
    *,
    timeout_s: float = 90,
    settle_s: float = 1.5,
) -> str:
    """Run a worker (`retail-server worker`) until the site's progress covers stream sequence `through`, wait
    `settle_s` (a status line after the last frame), stop it cleanly (it must exit 0); its whole log."""
    log = tmp_path / f"{name}.log"
    with running([str(BIN / "retail-server"), "worker", "--no-migrate"], env=env, log_path=log) as worker:

        def covered() -> bool:
            row = SiteFrameProgress.objects.filter(site_id=site_id).first()
            return row is not None and row.applied_through >= through

        _wait(covered, timeout_s, f"the site's progress to cover stream sequence {through}\n{log_tail(log)}")
        time.sleep(settle_s)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log_tail(log)
    return log_tail(log, 10**6)


# Part of the known issues of the frame bus (docs/operations.md, "The frame bus", "Known issue"): once in a full run
# a worker did not finish its clean stop within 30 s (fixed since: a stop during a rebalancing release); on a host
# loaded far beyond its cores the streams can end before the workers started. Up to two reruns; every assertion is
# unchanged.
@pytest.mark.flaky(reruns=2, reruns_delay=2)
def test_kill_9_of_a_site_worker_loses_and_doubles_nothing(tmp_path: Path) -> None:
    sites = [_site("East"), _site("West")]
    base_us = time.time_ns() // 1000
    with ExitStack() as stack:
        nodes = stack.enter_context(nats_cluster(1, log_dir=tmp_path))
        bus_url = servers_url(nodes)
        env = _env(tmp_path, bus_url)
        grpc_port = stack.enter_context(_gateway(tmp_path, env, "gateway"))
        logs = {name: tmp_path / f"{name}.log" for name in ("worker-a", "worker-b", "worker-c")}
        workers = {
            name: stack.enter_context(
                running([str(BIN / "retail-server"), "worker", "--no-migrate"], env=env, log_path=logs[name])
            )
            for name in ("worker-a", "worker-b")
        }

        def tails() -> str:
            return "\n".join(f"--- {n}\n{log_tail(p, 3000)}" for n, p in logs.items())

        async def scenario() -> dict[int, int]:
            tasks = [
                asyncio.create_task(
                    stream(
                        grpc_port,
                        device,
                        secret,
                        [_frame(camera, s, base_us) for s in range(1, FRAMES + 1)],
                        pace_s=0.012,
                        linger_s=60,
                        until=_all_acked(camera),
                    )
                )
                for _, device, secret, camera in sites
            ]
            # Mid-stream: kill -9 the worker that fuses the first site.
            deadline = time.monotonic() + 30
            victim = None
            while victim is None and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                victim = _owner(logs, sites[0][0])
            assert victim is not None, tails()
            await asyncio.sleep(1.5)
            assert not any(t.done() for t in tasks), "the streams ended before the kill"
            workers[victim].send_signal(signal.SIGKILL)
            # A worker that joins takes a share of the sites (the survivor releases one: rebalancing).
            workers["worker-c"] = stack.enter_context(
                running(
                    [str(BIN / "retail-server"), "worker", "--no-migrate"], env=env, log_path=logs["worker-c"]
                )
            )
            results = await asyncio.gather(*tasks)
            return {
                camera: r.acked.get(camera, 0) for (_, _, _, camera), r in zip(sites, results, strict=True)
            }

        acked = asyncio.run(scenario())
        assert all(a == FRAMES for a in acked.values()), (acked, tails())
        alive = [name for name, p in workers.items() if p.poll() is None]
        assert victim_dead(workers), tails()
        _wait(
            lambda: {_owner(logs, site_id) for site_id, *_ in sites} == set(alive),
            30,
            f"each live worker to own one site\n{tails()}",
        )
        for site_id, *_ in sites:
            last = asyncio.run(_last_stream_seq(bus_url, site_id))

            def covered(site_id: int = site_id, last: int = last) -> bool:
                row = SiteFrameProgress.objects.filter(site_id=site_id).first()
                return row is not None and row.applied_through >= last

            _wait(covered, 60, f"site {site_id}'s progress to cover stream sequence {last}\n{tails()}")
        assert _takeovers(logs, sites[0][0]) >= 2, tails()  # it did move
        for name in alive:  # a clean stop closes the open visits and heat buckets
            workers[name].send_signal(signal.SIGTERM)
        for name in alive:
            assert workers[name].wait(timeout=30) == 0, tails()
        log_text = tails()

    for site_id, _, _, camera in sites:
        assert CameraStreamState.objects.get(camera_id=camera).frames_stored == FRAMES
        starts = _takeovers(logs, site_id)
        truth = (FRAMES - 1) * FRAME_US / 1e6 * PEOPLE
        person_s = _heat_person_s(site_id)
        assert truth - starts * PEOPLE * 1.0 <= person_s <= truth + 0.01, (site_id, person_s, truth, log_text)
        visits = PersonVisit.objects.filter(site_id=site_id)
        assert visits.filter(ended_at__isnull=True).count() == 0
        assert PEOPLE <= visits.count() <= PEOPLE * starts, list(
            visits.values_list("person_id", "started_at")
        )
