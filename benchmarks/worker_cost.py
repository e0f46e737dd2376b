"""Cost of one site worker's hot path per bus message, in one process on one core: decode, camera-sequence order,
progress, fusion + analytics, live state, time-series points, the ack barrier (PostgreSQL) and the NATS acks, at
20 people per frame and 8 cameras per site, for 1 to 64 sites per worker.

    DATABASE_URL=... REDIS_URL=... python benchmarks/worker_cost.py [--sites 1,16,64] [--frames 6000]
        [--reference /work/main] [--rounds 3] [--profile PATH]

What `ingest_load --mode bus` times end to end, without the gateway, the load generator and the stream sharing the
machine: the worker (`server.worker.service.SiteWorker` with the runtime `retail-server worker` builds) is given
what the gateway would have published (every site's frames in a JetStream stream, before the clock starts) and
runs as `retail-server worker` does: it pulls each site's consumer (a nats-server from `tests.support.nats`), its
own barrier loop makes the frames durable and acks them. Capture times advance at 10 fps per camera, a little
ahead of the clock (no load shedding: the live pushes are on); one worker keeps every site (a long pin, no
rebalancing).
The rate is the messages over the worker process's CPU time (all its threads; on a shared host the figure that
load disturbs least) and over the clock, from the first to the last one applied plus a final barrier (the
warm-up, one pull per site, excluded). Each run also prints the messages JetStream delivered to the worker and how
many of them were redeliveries (delivered again because the ack wait ran out before the worker acked them).

With ``--reference`` the same measurement runs, interleaved round by round, in a child process whose PYTHONPATH
puts that checkout first (e.g. ``--reference /work/main``), so two versions are compared under the same load.
``--profile PATH`` first runs each tree once per site count under cProfile (not among the rounds' figures):
PATH-this-<sites>.txt / .prof, PATH-reference-<sites>.txt / .prof.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01
PEOPLE = 20
CAMERAS_PER_SITE = 8


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of each thread of this process so far, by thread name (Linux: /proc/self/task)."""
    import threading

    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir() if Path("/proc/self/task").is_dir() else []:
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(task.name), "other")
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) * TICK_S
    return out


def _frames(camera_id: int, count: int, t0_us: int, offset_us: int) -> list[bytes]:
    import numpy as np

    from server.bus.codec import encode_frame
    from server.frames import DecodedFrame

    rng = np.random.default_rng(camera_id)
    out = []
    for k in range(count):
        sequence = k + 1
        bbox = np.stack(
            [
                rng.integers(0, 1200, PEOPLE),
                rng.integers(0, 600, PEOPLE),
                rng.integers(30, 90, PEOPLE),
                rng.integers(80, 220, PEOPLE),
            ],
            axis=1,
        ).astype(np.int32)
        floor = np.stack(
            [
                np.arange(PEOPLE) * 150 + 100,
                np.full(PEOPLE, (camera_id % 10) * 250 + 600 + (sequence % 50)),
            ],
            axis=1,
        ).astype(np.int32)
        frame = DecodedFrame(
            camera_id=camera_id,
            sequence=sequence,
            capture_time_us=t0_us + k * 100_000 + offset_us,
            local_ids=np.arange(1, PEOPLE + 1, dtype=np.int64),
            bbox_xywh_px=bbox,
            floor_xy_cm=floor,
            score_permille=np.full(PEOPLE, 850, dtype=np.int32),
            state=np.full(PEOPLE, 2, dtype=np.int32),  # CONFIRMED
            flags=np.zeros(PEOPLE, dtype=np.int32),
        )
        out.append(encode_frame(frame))
    return out


async def _run(
    sites: int, frames: int, nats_url: str, profile: str | None
) -> tuple[float, float, dict[str, float], dict[str, int]]:
    import nats
    from django.conf import settings

    from server.bus import jetstream
    from server.bus.codec import message_id, site_subject
    from server.runtime import build_runtime
    from server.worker import service

    sys.path.insert(0, str(HERE.parent))
    from ingest_load import setup_inventory

    _, devices, _ = await asyncio.to_thread(setup_inventory, sites, CAMERAS_PER_SITE, sites)
    from server.inventory.models import Camera

    site_of = {}
    for _, _, cameras in devices:
        for camera_id in cameras:
            site_of[camera_id] = (await Camera.objects.aget(pk=camera_id)).site_id
    # One pull per site of warm-up, at least one timed.
    warm_per_site = service.PULL_BATCH
    per_camera = max(
        2 * warm_per_site // CAMERAS_PER_SITE, frames // len(site_of) + warm_per_site // CAMERAS_PER_SITE
    )
    # Capture times from a little ahead: the worker's lag stays 0, so that it pushes live (no load shedding).
    t0_us = time.time_ns() // 1000 + 600 * 1_000_000
    run = time.time_ns()
    # One worker that keeps its sites: a pin that outlasts a slow round over the sites, no rebalancing.
    config = jetstream.BusConfig(
        servers=(nats_url,), stream=f"BENCH_{run}", subject_prefix=f"bench.{run}", pin_ttl_s=600.0
    )
    service.REBALANCE_EVERY_S = 3600.0
    deliveries = _count_deliveries(jetstream)
    # The gateway's part, before the clock: every site's frames in the stream, its cameras round-robin at 10 fps.
    nc = await nats.connect(nats_url)
    await jetstream.ensure_stream(nc, config)
    js = nc.jetstream()
    by_site: dict[int, list[list[bytes]]] = {}
    for index, camera_id in enumerate(sorted(site_of)):
        offset = (index % CAMERAS_PER_SITE) * 100_000 // CAMERAS_PER_SITE
        by_site.setdefault(site_of[camera_id], []).append(_frames(camera_id, per_camera, t0_us, offset))
    total = 0
    for site_id, columns in by_site.items():
        await jetstream.ensure_site_consumer(nc, config, site_id)
        subject = site_subject(config.subject_prefix, site_id)
        pending = []
        for k, row in enumerate(zip(*columns, strict=True)):
            for c, data in enumerate(row):
                headers = {"Nats-Msg-Id": message_id(c, site_id, k + 1)}
                pending.append(js.publish(subject, data, headers=headers))
                total += 1
            if len(pending) >= 512:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    await nc.close()

    runtime = build_runtime(role="worker")
    runtime.writer.start()
    runtime.start_background()
    site_ids = sorted(by_site)
    worker = service.SiteWorker(
        runtime=runtime,
        config=config,
        ack_interval_s=settings.INGEST_ACK_INTERVAL_MS / 1000.0,
        max_lag_s=settings.RETAIL_WORKER_MAX_LAG_S,
        list_sites=lambda: site_ids,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    warm = warm_per_site * sites
    while worker.stats.frames < warm:
        await asyncio.sleep(0.005)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu_started, first = time.perf_counter(), time.process_time(), worker.stats.frames
    threads_started = _thread_cpu()
    seen, progressed, cpu_at = first, started, cpu_started
    # To the last frame; one that never comes (seen once: a run of the reference that stopped short) ends the
    # run 20 s after the last progress, timed up to that progress.
    while worker.stats.frames < total and time.perf_counter() - progressed < 20.0:
        await asyncio.sleep(0.005)
        if worker.stats.frames != seen:
            seen, progressed, cpu_at = worker.stats.frames, time.perf_counter(), time.process_time()
    if worker.stats.frames < total:
        print(f"only {worker.stats.frames} of {total} frames applied", file=sys.stderr)
        elapsed, cpu, total = progressed - started, cpu_at - cpu_started, worker.stats.frames
    else:
        await runtime.pipeline.flush()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    threads = {
        name: round(cpu_s - threads_started.get(name, 0.0), 2)
        for name, cpu_s in _thread_cpu().items()
        if cpu_s - threads_started.get(name, 0.0) > 0
    }
    if profiler is not None and profile:
        import io
        import pstats

        profiler.disable()
        profiler.dump_stats(str(Path(profile).with_suffix(".prof")))
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)
        Path(profile).write_text(text.getvalue())
    stop.set()
    await running
    await runtime.aclose()
    return (total - first) / elapsed, (total - first) / cpu, threads, deliveries


def _count_deliveries(jetstream: object) -> dict[str, int]:
    """Count every message JetStream delivers to the worker's pull inboxes, and those it delivered before (its
    metadata's `num_delivered` > 1: the ack wait ran out before the worker acked it), by wrapping
    `jetstream.Deliveries._take` (in this tree and the reference alike)."""
    counts = {"delivered": 0, "redelivered": 0}
    deliveries = jetstream.Deliveries  # type: ignore[attr-defined]
    take = deliveries._take

    async def counted(self: object, msg: object) -> None:
        headers = getattr(msg, "headers", None) or {}
        if not headers.get("Status"):
            counts["delivered"] += 1
            with contextlib.suppress(Exception):  # not a JetStream message (no ack subject)
                if (msg.metadata.num_delivered or 1) > 1:  # type: ignore[attr-defined]
                    counts["redelivered"] += 1
        await take(self, msg)

    deliveries._take = counted
    return counts


def child(sites: int, frames: int, nats_url: str, profile: str | None) -> None:
    import django

    django.setup()
    print(json.dumps(asyncio.run(_run(sites, frames, nats_url, profile))))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sites", default="1,16,64")
    parser.add_argument("--frames", type=int, default=6000, help="messages per run, over all sites")
    parser.add_argument("--reference", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--profile", default=None, help="first one run each under cProfile: PATH-<tree>-<sites>.txt / .prof"
    )
    parser.add_argument(
        "--threads",
        action="store_true",
        help="print each run's CPU seconds per thread (the event loop: MainThread)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--nats", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(int(args.sites), args.frames, args.nats, args.profile)
        return 0
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        parser.error("needs DATABASE_URL and REDIS_URL (the worker's stores)")
    sys.path.insert(0, str(HERE.parent.parent))
    from tests.support.nats import nats_cluster

    here = str(HERE.parent.parent)
    trees = [("this tree", here)] + ([("reference", args.reference)] if args.reference else [])
    counts = [int(n) for n in args.sites.split(",") if n.strip()]
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    core = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    with nats_cluster(1) as nodes, tempfile.TemporaryDirectory(prefix="retail-worker-cost-") as tmp:

        def once(name: str, tree: str, sites: int, profile: str | None) -> tuple[float, float]:
            """One run in a child process: messages per second by the clock and per CPU second of the worker."""
            env = {
                **os.environ,
                "PYTHONPATH": tree,
                "DJANGO_SETTINGS_MODULE": "server.config.settings.production",
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
                "GRPC_ALLOW_INSECURE": "true",
                "DJANGO_SECURE_SSL_REDIRECT": "false",
                "RETAIL_DATA_DIR": tempfile.mkdtemp(dir=tmp),
                "LOG_LEVEL": "WARNING",
            }
            command = [sys.executable, str(HERE), "--child", "--sites", str(sites)]
            command += ["--frames", str(args.frames), "--nats", nodes[0].url]
            if profile:
                command += ["--profile", profile]
            if core is not None:
                command = ["taskset", "-c", str(core), *command]
            done = subprocess.run(
                command, env=env, cwd=tree, capture_output=True, text=True, timeout=900, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(f"{name} failed:\n{done.stderr[-4000:]}")
            wall, cpu, *rest = json.loads(done.stdout.strip().splitlines()[-1])
            if args.threads and rest:
                print(f"  {name}, {sites} site(s): CPU s per thread {rest[0]}", flush=True)
            if len(rest) > 1:
                print(
                    f"  {name}, {sites} site(s): {rest[1]['delivered']:,} deliveries, "
                    f"{rest[1]['redelivered']:,} of them redeliveries",
                    flush=True,
                )
            return float(wall), float(cpu)

        if args.profile:  # one run per tree and site count under cProfile, before (and not among) the rounds
            for sites in counts:
                for index, (name, tree) in enumerate(trees):
                    path = f"{args.profile}-{'this' if index == 0 else 'reference'}-{sites}.txt"
                    wall, cpu = once(name, tree, sites, path)
                    print(
                        f"profiled {sites} site(s) {name}: {cpu:,.0f} messages per CPU s -> {path}",
                        flush=True,
                    )
        for round_index in range(args.rounds):
            for sites in counts:
                for name, tree in trees:
                    wall, cpu = once(name, tree, sites, None)
                    results.setdefault((name, sites), []).append((cpu, wall))
                    print(
                        f"round {round_index + 1} {sites} site(s) {name}: {cpu:,.0f} messages per CPU second "
                        f"of the worker ({wall:,.0f}/s by the clock)",
                        flush=True,
                    )
    print(
        f"worker messages per CPU second (by the clock), {PEOPLE} people x {CAMERAS_PER_SITE} cameras per site, "
        "median [min-max]:"
    )
    for (name, sites), runs in results.items():
        cpus, walls = sorted(r[0] for r in runs), sorted(r[1] for r in runs)
        print(
            f"  {sites:>3} site(s) {name:<10} {cpus[len(cpus) // 2]:>8,.0f} [{cpus[0]:,.0f}-{cpus[-1]:,.0f}]"
            f"  ({walls[len(walls) // 2]:,.0f} [{walls[0]:,.0f}-{walls[-1]:,.0f}])"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
