"""The scale-out layout with real processes on loopback: a 3-node NATS JetStream cluster (the frame stream with 3
replicas), two gateways (`retail-server run --no-http`, RETAIL_BUS_URL), three site workers (`retail-server worker`),
a web process (`--no-grpc`), PostgreSQL and Redis. Three sites stream through the edge protocol client; each
site's client resends from its last ack to the other gateway when its stream breaks, as the edge spool does.

Mid-stream, `kill -9` of the worker that fuses the first site (a fourth worker joins then), of the first gateway and
of a NATS node. Afterwards: every frame acked, each acked frame's effect recorded once (heat-map person-seconds
within the sample-and-hold interval lost per take-over, no visit left open or doubled, every site's durable progress
covering its stream), every site's live feed on the web process never silent for more than 10 s, and the fourth
worker fuses a share of the sites.

Workers run under a supervisor, as systemd or Kubernetes would run them: one that exits (crash-only: a site's stream
unreadable, a release's barrier failed; one that lost a site drops it and goes on) is started again; the one killed
on purpose too, after the test checked the take-over.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
import websockets

from server.ingest.models import CameraStreamState, SiteFrameProgress
from server.insights.models import PersonVisit
from tests.integration.system.test_bus_failover import (
    FRAME_US,
    PEOPLE,
    _env,
    _frame,
    _heat_person_s,
    _last_stream_seq,
    _owner,
    _site,
    _takeovers,
    _wait,
)
from tests.support.django_system import session_cookie
from tests.support.edge_client import stream
from tests.support.nats import nats_cluster, servers_url
from tests.support.processes import BIN, free_port, log_tail, running, wait_http

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
]
FRAMES = 900
PACE_S = 0.02
# After the faults, until the joining worker has taken a site over, the boxes send their last SLOW_TAIL_FRAMES
# frames at a camera's 10 fps (the rest at 50 fps, so that a join on a fast host happens at full input load): the
# join's start-up (7-17 s on a loaded 2-core host) ran past the streams' end at 50 fps, and a site whose stream has
# ended is taken over by nobody, so "the joining worker took no share" said nothing about rebalancing.
SLOW_PACE_S = 0.1
SLOW_TAIL_FRAMES = 300
SHARE_WITHIN_S = 60.0  # the slow phase's limit: a joining worker that takes no share by then fails the test
SITES = 3
MAX_SILENCE_S = 10.0


class Supervisor:
    """Keeps worker processes running: one that exits is started again (its log appended)."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self._env = env
        self._tmp = tmp_path
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.restarts: dict[str, int] = {}
        self.paused: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def start(self, name: str) -> None:
        self.logs[name] = self._tmp / f"{name}.log"
        with self.logs[name].open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [str(BIN / "retail-server"), "worker", "--no-migrate"],
                env={**os.environ, **self._env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self, name: str) -> None:
        self.paused.add(name)
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait(timeout=10)

    def resume(self, name: str) -> None:
        self.paused.discard(name)

    def _watch(self) -> None:
        while not self._stop.wait(0.3):
            for name, process in list(self.processes.items()):
                if process.poll() is not None and name not in self.paused:
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    self.start(name)

    def stop(self) -> list[int]:
        """SIGTERM every worker (a clean stop closes open visits and heat buckets); their exit codes."""
        self._stop.set()
        self._thread.join(timeout=5)
        codes = []
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                codes.append(process.wait(timeout=30))
            except subprocess.TimeoutExpired:
                # Where it waits, into its log for the failure message: its tasks (SIGUSR2), its threads (SIGUSR1).
                process.send_signal(signal.SIGUSR2)
                process.send_signal(signal.SIGUSR1)
                time.sleep(3.0)
                process.kill()
                codes.append(process.wait(timeout=5))
        return codes


def _log_end(text: str) -> str:
    """A log's last 2,500 characters, or, from a worker that did not stop in time, its stack dumps (`stop`)."""
    dumped = text.rfind("worker tasks (")
    return text[max(0, dumped - 500) :][:15000] if dumped >= 0 else text[-2500:]


@contextmanager
def _supervised(env: dict[str, str], tmp_path: Path) -> Iterator[Supervisor]:
    supervisor = Supervisor(env, tmp_path)
    try:
        yield supervisor
    finally:
        supervisor.stop()


async def _edge(
    ports: list[int],
    first: int,
    device: int,
    secret: str,
    camera: int,
    base_us: int,
    stop: asyncio.Event,
    pace: Callable[[int], float] = lambda left: PACE_S,
) -> tuple[int, int]:
    """Stream FRAMES frames (`pace(frames left to send)` seconds apart), as a box with a spool: on a broken stream,
    resend from the last ack to the other gateway. Returns (frames acked, reconnects)."""
    acked, reconnects, index = 0, 0, first
    frames = {s: _frame(camera, s, base_us) for s in range(1, FRAMES + 1)}
    while acked < FRAMES and not stop.is_set():
        left = FRAMES - acked

        def pause() -> float:
            nonlocal left
            left -= 1
            return pace(left)

        result = await stream(
            ports[index],
            device,
            secret,
            [frames[s] for s in range(acked + 1, FRAMES + 1)],
            pace_s=pause,
            linger_s=30,
            until=lambda r: r.acked.get(camera) == FRAMES,
        )
        acked = max(acked, result.acked.get(camera, 0))
        if acked < FRAMES:
            reconnects += 1
            index = (index + 1) % len(ports)
            await asyncio.sleep(0.5)
    return acked, reconnects


async def _watch(http_port: int, cookie: str, site_id: int, events: list[float], stop: asyncio.Event) -> None:
    headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{http_port}"}
    while not stop.is_set():
        try:
            async with websockets.connect(
                f"ws://127.0.0.1:{http_port}/ws/sites/{site_id}/", additional_headers=headers
            ) as ws:
                while not stop.is_set():
                    try:
                        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=0.3))
                    except TimeoutError:
                        continue
                    if message.get("type") == "live.positions" and message.get("site_id") == site_id:
                        events.append(time.monotonic())
        except (OSError, websockets.WebSocketException):
            await asyncio.sleep(0.5)


_STATUS = re.compile(r"worker status (\{.*\})$", re.MULTILINE)
_STATUS_LINES = re.compile(
    r"^.* INFO server\.worker\.service: worker( [a-z ]+)?( status \{.*\}|: .*)\n", re.MULTILINE
)


def _diagnosis(logs: dict[str, Path], heat: dict[int, tuple[float, float, int]]) -> str:
    """Per site the heat expected and stored, then per worker process (its last status line) the counters that
    say where a frame's effect went: dropped as late, duplicates, gaps given up, skipped sequences, caught up,
    frames applied, sites owned and taken over, and per site the camera sequences fused, the messages made
    durable and the heat it made durable. Compact: it leads the failure message and goes to stderr too."""
    lines = (
        []
        if not heat
        else [
            "heat (person-s): "
            + "; ".join(
                f"site {site_id} {stored:.1f} of {truth:.1f} ({starts} take-over(s))"
                for site_id, (stored, truth, starts) in heat.items()
            )
        ]
    )
    for name, path in logs.items():
        last: dict[int, dict[str, Any]] = {}
        for match in _STATUS.finditer(log_tail(path, 10**7)):
            status = json.loads(match.group(1))
            last[status["pid"]] = status
        for pid, status in last.items():
            sites = " ".join(
                f"[{site_id}: fused {' '.join(f'c{c}:{r}' for c, r in site['fused'].items()) or '-'}, "
                f"late {site['late']}, durable {site['durable']}, heat {site['heat']}, "
                f"takeovers {site['takeovers']}, releases {site['releases']}]"
                for site_id, site in status["sites"].items()
            )
            lines.append(
                f"{name} pid {pid} ({status['event'] or 'running'}): owned {status['owned']}, frames "
                f"{status['frames']}, late {status['late']}, duplicates {status['duplicates']}, holding "
                f"{status['holding']}, gaps {status['gaps_held']} held {status['gaps_given_up']} given up "
                f"({status['never_came']} never came), caught up {status['caught_up']}, covered "
                f"{status['covered']}, skipped {status['skipped']}, take-overs {status['takeovers']}, releases "
                f"{status['releases']} {sites}"
            )
    return "\n".join(lines)


def _fused_by(log: Path) -> bool:
    """Whether the worker of `log` has fused a site (a take-over done: its analytics started, its backlog caught
    up), not only claimed one."""
    return "now fused here" in log_tail(log, 10**7)


def _max_silence(events: list[float], start: float, end: float) -> float:
    times = [start, *(t for t in events if start <= t <= end), end]
    return max(b - a for a, b in itertools.pairwise(times))


# Known issues (docs/operations.md, "The frame bus", "Known issue"): on a loaded 2-core machine a run failed now and
# then on a joining worker that took no share (its start-up outlasted the streams: SLOW_PACE_S now keeps them
# going until it has), on a worker stopped while it was still starting, or on processes that
# did not start in time, and once (1 Dec 2026) on heat lost again after the gap-hold fix (three paths closed since,
# not proven to be that one; a heat failure's message now says which path it took). Each failure is reported by
# pytest-rerunfailures in the run's summary, and up to two reruns keep the rest of CI from standing on it; every
# assertion is unchanged.
@pytest.mark.flaky(reruns=2, reruns_delay=2)
def test_cluster_survives_kill_9_of_a_worker_a_gateway_and_a_nats_node(tmp_path: Path) -> None:
    sites = [_site(f"Store{i}") for i in range(SITES)]
    cookie = session_cookie("cluster-staff", role="staff")
    base_us = time.time_ns() // 1000
    with ExitStack() as stack:
        nodes = stack.enter_context(nats_cluster(3, log_dir=tmp_path))
        bus_url = servers_url(nodes)
        # A status line every 2 s: a worker killed mid-stream leaves its counters of shortly before.
        env = {**_env(tmp_path, bus_url), "RETAIL_BUS_REPLICAS": "3", "RETAIL_WORKER_STATUS_S": "2"}
        http_port = free_port()
        web_log = tmp_path / "web.log"
        web = stack.enter_context(
            running(
                [
                    str(BIN / "retail-server"),
                    "run",
                    "--no-migrate",
                    "--no-grpc",
                    "--http",
                    f"127.0.0.1:{http_port}",
                ],
                env=env,
                log_path=web_log,
            )
        )
        gateway_ports = [free_port(), free_port()]
        gateway_logs = [tmp_path / f"gateway-{i}.log" for i in range(2)]
        gateways = [
            stack.enter_context(
                running(
                    [
                        str(BIN / "retail-server"),
                        "run",
                        "--no-migrate",
                        "--no-http",
                        "--grpc",
                        f"127.0.0.1:{p}",
                    ],
                    env=env,
                    log_path=log,
                )
            )
            for p, log in zip(gateway_ports, gateway_logs, strict=True)
        ]
        supervisor = stack.enter_context(_supervised(env, tmp_path))
        for name in ("worker-1", "worker-2", "worker-3"):
            supervisor.start(name)
        wait_http(f"http://127.0.0.1:{http_port}/api/health", process=web)
        for port in gateway_ports:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                grpc.channel_ready_future(channel).result(timeout=60)

        def tails() -> str:
            """The workers' last status lines (`_diagnosis`), then the tail of each log without them."""
            parts = [*supervisor.logs.items(), ("gateway-0", gateway_logs[0]), ("gateway-1", gateway_logs[1])]
            return "\n".join(
                [
                    _diagnosis(supervisor.logs, {}),
                    *(f"--- {n}\n{_log_end(_STATUS_LINES.sub('', log_tail(p, 10**6)))}" for n, p in parts),
                ]
            )

        live: dict[int, list[float]] = {site_id: [] for site_id, *_ in sites}
        marks: dict[str, float] = {}

        async def scenario() -> list[tuple[int, int]]:
            stop = asyncio.Event()
            watchers = [
                asyncio.create_task(_watch(http_port, cookie, site_id, live[site_id], stop))
                for site_id, *_ in sites
            ]
            slow = asyncio.Event()  # set after the faults, until the joining worker has taken a site over
            edges = [
                asyncio.create_task(
                    _edge(
                        gateway_ports,
                        i % 2,
                        device,
                        secret,
                        camera,
                        base_us,
                        stop,
                        lambda left: SLOW_PACE_S if slow.is_set() and left < SLOW_TAIL_FRAMES else PACE_S,
                    )
                )
                for i, (_, device, secret, camera) in enumerate(sites)
            ]
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and any(
                not live[s] for s, *_ in sites
            ):  # every site fused and live first
                await asyncio.sleep(0.2)
            assert all(live[s] for s, *_ in sites), f"no live feed at first\n{tails()}"
            marks["start"] = time.monotonic()
            victim = _owner(supervisor.logs, sites[0][0])
            assert victim is not None, tails()
            await asyncio.sleep(1.0)
            supervisor.kill(victim)
            marks["worker"] = time.monotonic()
            supervisor.start("worker-4")  # joins: takes a share while the sites stream
            await asyncio.sleep(3.0)
            gateways[0].send_signal(signal.SIGKILL)
            marks["gateway"] = time.monotonic()
            await asyncio.sleep(3.0)
            nodes[1].kill()
            marks["nats"] = time.monotonic()
            await asyncio.sleep(1.0)
            assert not any(e.done() for e in edges), "the streams ended before the faults"
            slow.set()
            share_deadline = time.monotonic() + SHARE_WITHIN_S
            while (
                not any(e.done() for e in edges)
                and time.monotonic() < share_deadline
                and not _fused_by(supervisor.logs["worker-4"])
            ):
                await asyncio.sleep(0.5)
            slow.clear()
            marks["share"] = time.monotonic()
            results = await asyncio.wait_for(asyncio.gather(*edges), timeout=150)
            marks["end"] = time.monotonic()
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*watchers)
            return results

        results = asyncio.run(scenario())
        assert [acked for acked, _ in results] == [FRAMES] * SITES, (results, tails())
        assert any(reconnects for _, reconnects in results), "no stream went through the killed gateway"
        silences = {
            site_id: _max_silence(live[site_id], marks["start"], marks["end"]) for site_id, *_ in sites
        }
        assert max(silences.values()) <= MAX_SILENCE_S, (silences, marks, tails())
        for site_id, *_ in sites:
            last = asyncio.run(_last_stream_seq(bus_url, site_id))

            def covered(site_id: int = site_id, last: int = last) -> bool:
                row = SiteFrameProgress.objects.filter(site_id=site_id).first()
                return row is not None and row.applied_through >= last

            _wait(covered, 60, f"site {site_id}'s progress to cover stream sequence {last}\n{tails()}")
        assert _fused_by(supervisor.logs["worker-4"]), f"the joining worker took no share\n{marks}\n{tails()}"
        codes = supervisor.stop()
        assert all(code in (0, -signal.SIGKILL) for code in codes), (codes, tails())
        log_text = tails()
        restarts = dict(supervisor.restarts)

    heat: dict[int, tuple[float, float, int]] = {}
    for site_id, *_ in sites:
        truth = (FRAMES - 1) * FRAME_US / 1e6 * PEOPLE
        heat[site_id] = (_heat_person_s(site_id), truth, _takeovers(supervisor.logs, site_id))
    diagnosis = _diagnosis(supervisor.logs, heat)
    print(f"cluster test diagnosis:\n{diagnosis}\nrestarts {restarts}", file=sys.stderr)
    for site_id, _, _, camera in sites:
        assert CameraStreamState.objects.get(camera_id=camera).frames_stored == FRAMES
        person_s, truth, starts = heat[site_id]
        assert truth - starts * PEOPLE * 1.0 <= person_s <= truth + 0.01, (
            f"site {site_id}: heat {person_s:.1f} of {truth:.1f} person-s, restarts {restarts}\n{diagnosis}\n"
            f"{log_text}"
        )
        visits = PersonVisit.objects.filter(site_id=site_id)
        left_open = list(visits.filter(ended_at__isnull=True).values_list("person_id", "started_at"))
        assert not left_open, f"site {site_id}: visits left open {left_open}\n{diagnosis}\n{log_text}"
        assert PEOPLE <= visits.count() <= PEOPLE * starts, (
            f"site {site_id}: {visits.count()} visits, {starts} take-over(s)\n{diagnosis}"
        )
