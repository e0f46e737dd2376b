"""Start-up time of a site worker (`retail-server worker --no-migrate`, a real process): from its launch to its
first pull request on a site consumer, as a worker that joins while the streams run (a scale-out, a restart, the
cluster test's fourth worker) takes no share before it pulls.

    DATABASE_URL=... REDIS_URL=... python benchmarks/worker_startup.py [--sites 8] [--runs 5]
        [--reference /work/main]

A nats-server from `tests.support.nats` and `--sites` sites in the database (created here, deleted at the end); each
run launches a worker and polls the site consumers' waiting pull requests (JetStream's consumer info, every 20 ms)
until one shows, and the worker's CPU time then (user + system: what load disturbs least); measured from outside the
worker, so any two versions compare. The first run creates the site
consumers; the rest find them (a restart). With ``--reference`` each run is followed by one of a worker whose
PYTHONPATH puts that checkout first (interleaved, under the same load). The worker's own log line ("worker start-up:
first pull ... s after the process started: ...", where it has one) gives the phases of the last run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
STREAM = "RETAIL_FRAMES_STARTUP"


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.config.settings.local")
    import django

    django.setup()


async def _first_pull(
    url: str, site_ids: list[int], process: subprocess.Popen[bytes], timeout_s: float
) -> float:
    import nats

    from server.bus import jetstream

    config = jetstream.BusConfig(servers=(url,), stream=STREAM)
    nc = await nats.connect(url)
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout_s:
            if process.poll() is not None:
                raise RuntimeError(f"the worker exited ({process.returncode})")
            for site_id in site_ids:
                try:
                    info = await jetstream.consumer_info(nc, config, site_id)
                except Exception:  # not created yet
                    info = {}
                if int(info.get("num_waiting", 0)) > 0:
                    return time.monotonic() - started
            await asyncio.sleep(0.02)
        raise RuntimeError(f"no pull within {timeout_s} s")
    finally:
        await nc.close()


def _cpu_s(pid: int) -> float:
    """The process's CPU time so far (user + system, all its threads)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(tree: Path, url: str, site_ids: list[int], log: Path) -> tuple[float, float]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "server.config.settings.local",
        "INFLUX_URL": "",
        "RETAIL_BUS_URL": url,
        "RETAIL_BUS_STREAM": STREAM,
        "PYTHONPATH": str(tree),
    }
    command = [str(Path(sys.executable).with_name("retail-server")), "worker", "--no-migrate"]
    with log.open("wb") as out:
        started = time.monotonic()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tree)
        try:
            asyncio.run(_first_pull(url, site_ids, process, 120.0))
            # From the launch (the poller started after it); and the CPU time it took, which load disturbs less.
            return time.monotonic() - started, _cpu_s(process.pid)
        finally:
            process.kill()  # its stop is not measured
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sites", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reference", type=Path, help="a checkout to compare with (e.g. /work/main)")
    args = parser.parse_args()
    _django()
    from server.inventory.models import Site
    from tests.support.nats import nats_cluster

    sites = [Site.objects.create(name=f"Start-up bench {n} {time.time_ns()}") for n in range(args.sites)]
    site_ids = [site.pk for site in sites]
    trees = {"this": ROOT, **({"reference": args.reference.resolve()} if args.reference else {})}
    times: dict[str, list[float]] = {name: [] for name in trees}
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    try:
        with tempfile.TemporaryDirectory() as tmp, nats_cluster(1, log_dir=Path(tmp)) as (node,):
            for n in range(args.runs):
                for name, tree in trees.items():
                    log = Path(tmp) / f"{name}-{n}.log"
                    wall_s, cpu_s = _run(tree, node.url, site_ids, log)
                    times[name].append(wall_s)
                    cpu[name].append(cpu_s)
                    line = re.search(r"worker start-up: first pull (.*)", log.read_text(errors="replace"))
                    print(
                        f"run {n} {name}: first pull {wall_s:.2f} s after the launch, {cpu_s:.2f} s of CPU"
                        + (f" (the worker: {line.group(1)})" if line else ""),
                        flush=True,
                    )
    finally:
        Site.objects.filter(pk__in=site_ids).delete()
    for name, values in times.items():
        later = values[1:] or values
        spent = cpu[name][1:] or cpu[name]
        print(
            f"{name}: first run {values[0]:.2f} s; later runs median {statistics.median(later):.2f} s "
            f"(min {min(later):.2f}, max {max(later):.2f}), CPU median {statistics.median(spent):.2f} s "
            f"(min {min(spent):.2f}, max {max(spent):.2f})"
        )


if __name__ == "__main__":
    main()
