"""Ingest benchmark: TrackFrames per second one server process accepts from N simulated edge boxes speaking the
real protocol (20 people per frame), and the latency from a frame's capture to its live update reaching a
WebSocket client, at half that load.

    python -m benchmarks.ingest_load [--boxes 4] [--cameras-per-box 2] [--seconds 10] [--people 20]
        [--analytics on|off|both] [--latency-seconds 45] [--checkout PATH ...] [--rounds 3]

The server is the real `retail-server run` in its own process (pinned to CPU 0 when possible, so "one core"), with
the production settings (DEBUG off, a generated secret key, JSON logs; plain gRPC on loopback via
GRPC_ALLOW_INSECURE) and the embedded stores in a temporary data directory (removed afterwards) unless
DATABASE_URL / REDIS_URL / INFLUX_URL are set. The load generator runs in this process (pinned to CPU 1): frames
are sent as fast as flow control allows and counted as accepted when the server acks them (acks are sent only
after the stream state is persisted).

--checkout runs the server (and the inventory set-up, with that tree's migrations) from another checkout of the
repository via PYTHONPATH, so two versions can be compared by the same load generator; with several checkouts
and --rounds the contenders are interleaved (A, B, A, B, ...) and a summary gives the median and range per
contender. A percentile is printed only with at least 10 / (1 - q) samples (p50: 20, p95: 200, p99: 1,000), so
that it is not just the largest sample: the live pushes come at LIVE_PUSH_HZ (5/s), so p99 needs
--latency-seconds 200 or more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import numpy as np
import websockets

REPO_ROOT = Path(__file__).resolve().parent.parent
# The inventory set-up runs in a child process with the server's checkout first on the path (see run_once).
SERVER_TREE = Path(os.environ.get("INGEST_LOAD_SERVER_TREE", str(REPO_ROOT))).resolve()
sys.path.insert(0, str(SERVER_TREE))

from proto.retail.v1 import edge_service_pb2, track_pb2  # noqa: E402
from tests.support.processes import BIN, free_port, log_tail, running, wait_http  # noqa: E402


def setup_inventory(
    boxes: int, cameras_per_box: int, sites: int = 1
) -> tuple[int, list[tuple[int, str, list[int]]], str]:
    """Migrate and create the sites (boxes spread over them round-robin; the first site is the one the latency
    phase watches), devices, cameras and a staff session (in the set-up child process, whose environment names
    the settings and the data directory)."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from server.accounts.roles import ensure_roles
    from server.devices.services import device_create, device_set_credentials
    from server.inventory.models import Camera, FloorPlan, Site, Zone

    call_command("migrate", interactive=False, verbosity=0)
    ensure_roles()
    all_sites = []
    for number in range(max(1, sites)):
        site = Site.objects.create(name=f"Bench {number} {time.time_ns()}")
        FloorPlan.objects.create(site=site, width_m=40, height_m=30)
        Zone.objects.create(
            site=site,
            name="Vault",
            kind="restricted",
            polygon=[[30, 0], [40, 0], [40, 5], [30, 5]],
            required_level=5,
            warning_distance_m=1.0,
        )
        all_sites.append(site)
    site = all_sites[0]
    devices = []
    for index in range(boxes):
        device = device_create(site=all_sites[index % len(all_sites)], name=f"box-{index}")
        secret = f"bench-secret-{index}-0123456789abcdefghijklmnop"
        device_set_credentials(device=device, secret=secret)
        cameras = [
            Camera.objects.create(site=device.site, device=device, name=f"box{index}-cam{c}").pk
            for c in range(cameras_per_box)
        ]
        devices.append((device.pk, secret, cameras))
    from django.contrib.auth.models import Group

    user, _ = get_user_model().objects.get_or_create(username="bench-staff")
    user.groups.add(Group.objects.get(name="staff"))
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    # As django.contrib.auth.login records it: a backend that is not configured logs the session out.
    session["_auth_user_backend"] = settings.AUTHENTICATION_BACKENDS[0]
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return site.pk, devices, str(session.session_key)


WINDOW = 256
WARMUP_S = 3.0


def make_frame(camera_id: int, sequence: int, people: int, t_us: int, rng: np.random.Generator) -> bytes:
    frame = track_pb2.TrackFrame(camera_id=camera_id, sequence=sequence, capture_time_us=t_us)
    frame.local_id_deltas.extend([1] * people)
    frame.bbox_x_px.extend(rng.integers(0, 1200, people).tolist())
    frame.bbox_y_px.extend(rng.integers(0, 600, people).tolist())
    frame.bbox_w_px.extend(rng.integers(30, 90, people).tolist())
    frame.bbox_h_px.extend(rng.integers(80, 220, people).tolist())
    # People spread over the floor, each camera its own strip so that fusion keeps them apart.
    frame.floor_x_cm.extend((np.arange(people) * 150 + 100).tolist())
    frame.floor_y_cm.extend([(camera_id % 10) * 250 + 600 + (sequence % 50)] * people)
    frame.score_permille.extend([850] * people)
    frame.state.extend([track_pb2.TRACK_STATE_CONFIRMED] * people)
    return edge_service_pb2.EdgeMessage(frame=frame).SerializeToString()


async def run_box(
    port: int,
    device_id: int,
    secret: str,
    cameras: list[int],
    people: int,
    seconds: float,
    rate_hz: float | None,
    acked: dict[int, int],
    start_sequence: dict[int, int],
) -> int:
    """Stream frames round-robin over the box's cameras for `seconds`; returns the number of frames sent."""
    rng = np.random.default_rng(device_id)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    method = channel.stream_stream(
        "/retail.v1.EdgeService/Stream",
        request_serializer=lambda raw: raw,
        response_deserializer=edge_service_pb2.ServerMessage.FromString,
    )
    sent = 0
    # Pre-encode a pool of frames per camera (capture times are re-stamped only in the paced mode).
    stop_at = time.monotonic() + seconds

    async def requests() -> AsyncIterator[bytes]:
        nonlocal sent
        sequences = dict(start_sequence)
        period = None if rate_hz is None else 1.0 / rate_hz
        next_at = time.monotonic()
        while time.monotonic() < stop_at:
            for camera_id in cameras:
                # Like the edge agent's uplink: at most WINDOW unacked frames in flight per camera.
                while sequences[camera_id] - acked.get(camera_id, start_sequence[camera_id]) >= WINDOW:
                    await asyncio.sleep(0.005)
                    if time.monotonic() >= stop_at:
                        return
                sequences[camera_id] += 1
                yield make_frame(camera_id, sequences[camera_id], people, time.time_ns() // 1000, rng)
                sent += 1
            if period is not None:
                next_at += period
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif sent % 64 == 0:
                await asyncio.sleep(0)

    call = method(
        requests(), metadata=(("x-device-id", str(device_id)), ("authorization", f"Bearer {secret}"))
    )
    try:
        async for reply in call:
            if reply.HasField("ack"):
                for ack in reply.ack.cameras:
                    acked[ack.camera_id] = ack.highest_contiguous_sequence
    except grpc.aio.AioRpcError as err:
        if err.code() != grpc.StatusCode.CANCELLED:
            raise
    await channel.close(grace=None)
    return sent


async def load_phase(
    port: int,
    devices: list[tuple[int, str, list[int]]],
    people: int,
    seconds: float,
    rate_hz: float | None,
    sequences: dict[int, int],
) -> tuple[int, int, float]:
    acked: dict[int, int] = {}
    started = time.perf_counter()
    sent_counts = await asyncio.gather(
        *(
            run_box(port, device_id, secret, cameras, people, seconds, rate_hz, acked, sequences)
            for device_id, secret, cameras in devices
        )
    )
    elapsed = time.perf_counter() - started
    stored = sum(acked.get(c, 0) - sequences[c] for _, _, cameras in devices for c in cameras)
    for _, _, cameras in devices:
        for camera_id in cameras:
            sequences[camera_id] = max(sequences[camera_id], acked.get(camera_id, 0))
    return sum(sent_counts), stored, elapsed


async def latency_phase(
    http_port: int,
    grpc_port: int,
    site_id: int,
    cookie: str,
    devices: list[tuple[int, str, list[int]]],
    people: int,
    seconds: float,
    rate_hz: float,
    sequences: dict[int, int],
) -> tuple[list[float], int]:
    latencies_ms: list[float] = []
    url = f"ws://127.0.0.1:{http_port}/ws/sites/{site_id}/"
    headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{http_port}"}
    async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
        load = asyncio.create_task(load_phase(grpc_port, devices, people, seconds, rate_hz, sequences))
        # The first seconds after the boxes (re)connect are a transient: the fusion's reorder buffer still counts
        # the previous phase's cameras as live and holds frames for them (up to its window). Steady state only.
        steady_from = time.monotonic() + WARMUP_S
        while not load.done():
            try:
                message = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            now_us = time.time_ns() // 1000
            event = json.loads(message)
            if event.get("type") == "live.positions" and time.monotonic() >= steady_from:
                latencies_ms.append((now_us - int(event["time_us"])) / 1000.0)
        sent, _, _ = await load
    return latencies_ms, sent


PERCENTILES = (50.0, 95.0, 99.0)


def min_samples(q: float) -> int:
    """Samples needed before percentile q means something: at least 10 samples above it (p99: 1,000)."""
    return round(10 / (1 - q / 100))


def format_percentiles(values: list[float]) -> str:
    """'p50 x ms (n=N), p95 ...'; a percentile with too few samples is refused, not printed as the maximum."""
    parts = []
    for q in PERCENTILES:
        if len(values) >= min_samples(q):
            parts.append(f"p{q:g} {float(np.percentile(np.asarray(values), q)):.1f} ms")
        else:
            parts.append(f"p{q:g} n/a (needs >= {min_samples(q):,})")
    return ", ".join(parts) + f" over n={len(values):,} pushes"


def production_env(data_dir: Path, secret_key: str, analytics: bool) -> dict[str, str]:
    """The production settings module with what it requires from the environment; TLS would end in front of
    the process (GRPC_ALLOW_INSECURE) and the loopback HTTP port is not redirected to HTTPS."""
    env = {
        "DJANGO_SETTINGS_MODULE": "server.config.settings.production",
        "DJANGO_SECRET_KEY": secret_key,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "GRPC_ALLOW_INSECURE": "true",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "RETAIL_DATA_DIR": str(data_dir),
        "INGEST_SITE_ANALYTICS": "1" if analytics else "0",
    }
    return env


def _setup(
    tree: Path, args: argparse.Namespace, env: dict[str, str], sites: int
) -> tuple[int, list[tuple[int, str, list[int]]], str]:
    setup = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--setup-only",
            *("--boxes", str(args.boxes), "--cameras-per-box", str(args.cameras_per_box)),
            *("--sites", str(sites)),
        ],
        env={**os.environ, **env, "INGEST_LOAD_SERVER_TREE": str(tree)},
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    if setup.returncode != 0:
        raise RuntimeError(f"inventory set-up failed in {tree}:\n{setup.stderr[-3000:]}")
    site_id, devices, cookie = json.loads(setup.stdout.strip().splitlines()[-1])
    return int(site_id), [(int(d), str(s), [int(c) for c in cams]) for d, s, cams in devices], str(cookie)


async def _consumer_backlog(bus_url: str, stream: str) -> tuple[int, int]:
    """(site consumers, messages not yet delivered to a worker over all of them). A worker pulls a batch only once it
    applied the previous one, so delivered is applied within one batch; the last frames of each camera stay in the
    fusion's reorder buffer (unacked) until newer frames come, so "acked" would never reach 0 here."""
    import nats

    nc = await nats.connect(bus_url)
    try:
        names = json.loads((await nc.request(f"$JS.API.CONSUMER.NAMES.{stream}", b"{}", timeout=5)).data)
        backlog = 0
        for name in names.get("consumers") or []:
            info = json.loads(
                (await nc.request(f"$JS.API.CONSUMER.INFO.{stream}.{name}", b"{}", timeout=5)).data
            )
            backlog += int(info.get("num_pending", 0))
        return len(names.get("consumers") or []), backlog
    finally:
        await nc.close()


def run_once_bus(tree: Path, args: argparse.Namespace, sites: int) -> dict[str, object]:
    """The scale-out path: a NATS JetStream node, a gateway (`retail-server run` with RETAIL_BUS_URL, which also
    serves the WebSocket) and one site worker (`retail-server worker`) pinned alone to CPU 0.

    Throughput: the boxes stream while no worker runs (the gateway's rate: frames acked once JetStream has them),
    then the worker starts and drains the backlog: its rate is the frames over the time from its first ack to the
    last (its start-up excluded). Latency: frame capture -> WebSocket with the worker running, at half its rate."""
    from tests.support.nats import nats_cluster

    with tempfile.TemporaryDirectory(prefix="retail-bench-") as tmp, nats_cluster(1) as nodes:
        data_dir = Path(tmp)
        stream_name = f"BENCH_{time.time_ns()}"
        env = production_env(data_dir, secrets.token_urlsafe(50), True)
        env.update(PYTHONPATH=str(tree), RETAIL_BUS_URL=nodes[0].url, RETAIL_BUS_STREAM=stream_name)
        site_id, devices, cookie = _setup(tree, args, env, sites)
        http_port, grpc_port = free_port(), free_port()
        gateway = ["taskset", "-c", "1", str(BIN / "retail-server"), "run", "--no-migrate"]
        gateway += ["--http", f"127.0.0.1:{http_port}", "--grpc", f"127.0.0.1:{grpc_port}"]
        worker = ["taskset", "-c", "0", str(BIN / "retail-server"), "worker", "--no-migrate"]
        sequences = {c: 0 for _, _, cameras in devices for c in cameras}
        load_before = os.getloadavg()[0]
        try:
            with running(gateway, env=env, log_path=data_dir / "server.log") as server:
                wait_http(f"http://127.0.0.1:{http_port}/api/health", process=server)
                sent, stored, elapsed = asyncio.run(
                    load_phase(grpc_port, devices, args.people, args.seconds, None, sequences)
                )
                gateway_rate = stored / elapsed
                with running(worker, env=env, log_path=data_dir / "worker.log") as worker_process:
                    first = None
                    backlog_start = stored
                    deadline = time.monotonic() + 600
                    while time.monotonic() < deadline:
                        if worker_process.poll() is not None:
                            raise RuntimeError("the worker exited")
                        consumers, backlog = asyncio.run(_consumer_backlog(nodes[0].url, stream_name))
                        now = time.perf_counter()
                        if consumers >= sites and first is None and backlog < backlog_start:
                            first, first_backlog = now, backlog
                        if consumers >= sites and backlog == 0:
                            break
                        time.sleep(0.25)
                    assert first is not None
                    worker_rate = first_backlog / max(1e-6, now - first)
                    cameras = sum(len(c) for _, _, c in devices)
                    per_camera = args.camera_fps or worker_rate / 2 / cameras
                    latencies, _ = asyncio.run(
                        latency_phase(
                            http_port,
                            grpc_port,
                            site_id,
                            cookie,
                            devices,
                            args.people,
                            args.latency_seconds + WARMUP_S,
                            per_camera,
                            sequences,
                        )
                    )
        except Exception:
            print(f"gateway log:\n{log_tail(data_dir / 'server.log')}", file=sys.stderr)
            print(f"worker log:\n{log_tail(data_dir / 'worker.log')}", file=sys.stderr)
            raise
        return {
            "rate": worker_rate,
            "gateway_rate": gateway_rate,
            "sent": sent,
            "elapsed": elapsed,
            "live_rate": per_camera * cameras,
            "latencies": latencies,
            "load": (load_before + os.getloadavg()[0]) / 2,
        }


def run_once(tree: Path, args: argparse.Namespace, analytics: bool, sites: int = 1) -> dict[str, object]:
    """One server from `tree` in a fresh temporary data directory: throughput, then live latency."""
    with tempfile.TemporaryDirectory(prefix="retail-bench-") as tmp:
        data_dir = Path(tmp)
        env = production_env(data_dir, secrets.token_urlsafe(50), analytics)
        env["PYTHONPATH"] = str(tree)
        site_id, devices, cookie = _setup(tree, args, env, sites)
        http_port, grpc_port = free_port(), free_port()
        command = [str(BIN / "retail-server"), "run", "--no-migrate"]
        command += ["--http", f"127.0.0.1:{http_port}", "--grpc", f"127.0.0.1:{grpc_port}"]
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
            command = ["taskset", "-c", "0", *command]
        sequences = {c: 0 for _, _, cameras in devices for c in cameras}
        load_before = os.getloadavg()[0]
        try:
            with running(
                command, env={**env, "PYTHONPATH": str(tree)}, log_path=data_dir / "server.log"
            ) as server:
                wait_http(f"http://127.0.0.1:{http_port}/api/health", process=server)
                asyncio.run(load_phase(grpc_port, devices, args.people, 2.0, None, sequences))  # warm-up
                sent, stored, elapsed = asyncio.run(
                    load_phase(grpc_port, devices, args.people, args.seconds, None, sequences)
                )
                rate = stored / elapsed
                cameras = sum(len(c) for _, _, c in devices)
                per_camera = args.camera_fps or rate / 2 / cameras
                latencies, _ = asyncio.run(
                    latency_phase(
                        http_port,
                        grpc_port,
                        site_id,
                        cookie,
                        devices,
                        args.people,
                        args.latency_seconds + WARMUP_S,
                        per_camera,  # each loop of a box sends one frame per camera
                        sequences,
                    )
                )
        except Exception:
            # The data directory goes with the temporary directory: show why the server failed first.
            print(f"server log ({tree}):\n{log_tail(data_dir / 'server.log')}", file=sys.stderr)
            raise
        return {
            "rate": rate,
            "sent": sent,
            "elapsed": elapsed,
            "live_rate": per_camera * cameras,
            "latencies": latencies,
            "load": (load_before + os.getloadavg()[0]) / 2,
        }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--boxes", type=int, default=4)
    parser.add_argument("--cameras-per-box", type=int, default=2)
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="throughput phase length")
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=45.0,
        help="latency phase length (p95 needs ~40 s at 5 pushes/s)",
    )
    parser.add_argument("--analytics", choices=("on", "off", "both"), default="on")
    parser.add_argument("--no-analytics", action="store_true", help="same as --analytics off")
    parser.add_argument(
        "--camera-fps",
        type=float,
        default=0.0,
        help="latency phase: frames per second per camera (default: half the measured throughput)",
    )
    parser.add_argument(
        "--checkout",
        type=Path,
        action="append",
        default=[],
        help="run the server from this checkout (repeat to compare; default: this one)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds per contender")
    parser.add_argument(
        "--mode",
        choices=("embedded", "bus", "both"),
        default="embedded",
        help="embedded: one process fuses what it ingests; bus: gateway -> NATS JetStream -> one site worker "
        "(needs DATABASE_URL and REDIS_URL); both: interleaved in each round",
    )
    parser.add_argument(
        "--sites",
        default="1",
        help="comma-separated site counts (the boxes are spread over the sites), e.g. 1,64",
    )
    parser.add_argument("--setup-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # `timeout` / Ctrl+C: unwind, so that the servers, the NATS node and the temporary directories go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.setup_only:
        print(json.dumps(setup_inventory(args.boxes, args.cameras_per_box, int(args.sites))))
        return 0
    if args.no_analytics:
        args.analytics = "off"
    trees = [path.resolve() for path in args.checkout] or [REPO_ROOT]
    modes = {"on": [True], "off": [False], "both": [False, True]}[args.analytics]
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {1})
    print(
        f"server: one process on one core, production settings; {args.boxes} boxes x {args.cameras_per_box} "
        f"cameras, {args.people} people per frame; {args.rounds} round(s), contenders interleaved"
    )
    site_counts = [int(n) for n in str(args.sites).split(",") if n.strip()]
    paths = {"embedded": ["embedded"], "bus": ["bus"], "both": ["embedded", "bus"]}[args.mode]
    if "bus" in paths and not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        parser.error("--mode bus needs DATABASE_URL and REDIS_URL (the gateway and the worker share them)")
    results: dict[tuple[str, bool, int, Path], list[dict[str, object]]] = {}
    for round_index in range(args.rounds):
        for sites in site_counts:
            for path in paths:
                for analytics in modes if path == "embedded" else [True]:
                    for tree in trees:
                        if path == "bus":
                            result = run_once_bus(tree, args, sites)
                        else:
                            result = run_once(tree, args, analytics, sites)
                        results.setdefault((path, analytics, sites, tree), []).append(result)
                        latencies = result["latencies"]
                        assert isinstance(latencies, list)
                        extra = (
                            f" (gateway alone: {float(result['gateway_rate']):,.0f} frames/s acked after JetStream)"  # type: ignore[arg-type]
                            if path == "bus"
                            else ""
                        )
                        print(
                            f"round {round_index + 1} {path} {sites} site(s) analytics {'on ' if analytics else 'off'} "
                            f"{tree}: {result['rate']:,.0f} frames/s stored+analysed{extra}; live at "
                            f"{result['live_rate']:,.0f} frames/s: {format_percentiles(latencies)}; load avg "
                            f"{result['load']:.1f}",
                            flush=True,
                        )
    print("summary (throughput: median [min-max] over rounds; latency: all rounds' pushes pooled):")
    for (path, analytics, sites, tree), runs in results.items():
        rates = [float(run["rate"]) for run in runs]  # type: ignore[arg-type]
        pooled = [x for run in runs for x in run["latencies"]]  # type: ignore[attr-defined]
        loads = [float(run["load"]) for run in runs]  # type: ignore[arg-type]
        print(
            f"  {path} {sites} site(s) analytics {'on ' if analytics else 'off'} {tree}: "
            f"{float(np.median(rates)):,.0f} frames/s "
            f"[{min(rates):,.0f}-{max(rates):,.0f}], goal >= 2,000 ingest only; frame capture -> WebSocket "
            f"{format_percentiles(pooled)} (goal p99 <= 100 ms); load avg {min(loads):.1f}-{max(loads):.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
