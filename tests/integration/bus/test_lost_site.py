"""A worker that loses one of its sites to another worker keeps its other sites, with real processes on a real NATS
JetStream node and PostgreSQL.

Worker 1 fuses two sites; the stream of one of them (B) has ended, its people's visits are open. Worker 1 stalls
(SIGSTOP) while site A's frames come; JetStream pins worker 2 on A, which takes it over. Worker 1 resumes with A's
frames it had been given and not made durable: its barrier that saves them is fenced. It drops A, and only A: it
goes on serving B, whose visits its clean stop closes. Before, it exited there (crash-only), and as no frame of B
came any more to start a take-over of B, B's visits stayed open for ever.

Each acked frame's effect is recorded once on both sites: the heat map holds their frames' person-seconds (at most
the sample-and-hold interval per person lost at each take-over; nothing of A written twice by the worker that lost
it), no visit is left open.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from pathlib import Path

import pytest

from server.ingest.models import SiteFrameProgress
from server.insights.models import PersonVisit
from tests.integration.system.test_bus_failover import (
    FRAME_US,
    PEOPLE,
    _env,
    _heat_person_s,
    _last_stream_seq,
    _site,
    _wait,
)
from tests.integration.system.test_bus_order import _publish
from tests.support.nats import nats_cluster, servers_url
from tests.support.processes import BIN, log_tail, running

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
]
FIRST = 100
LAST = 600


def _covered(site_id: int, through: int) -> bool:
    row = SiteFrameProgress.objects.filter(site_id=site_id).first()
    return row is not None and row.applied_through >= through


def test_a_worker_that_lost_a_site_keeps_its_other_sites(tmp_path: Path) -> None:
    kept, _, _, kept_camera = _site("Kept")
    lost, _, _, lost_camera = _site("Lost")
    base_us = time.time_ns() // 1000
    logs = {name: tmp_path / f"{name}.log" for name in ("worker-1", "worker-2")}

    def tails() -> str:
        return "\n".join(f"--- {n}\n{log_tail(p, 4000)}" for n, p in logs.items())

    with nats_cluster(1, log_dir=tmp_path) as nodes:
        bus_url = servers_url(nodes)
        env = {**_env(tmp_path, bus_url), "RETAIL_WORKER_STATUS_S": "1"}
        command = [str(BIN / "retail-server"), "worker", "--no-migrate"]
        asyncio.run(_publish(bus_url, kept, kept_camera, base_us, list(range(1, FIRST + 1))))
        asyncio.run(_publish(bus_url, lost, lost_camera, base_us, list(range(1, FIRST + 1))))
        kept_last = asyncio.run(_last_stream_seq(bus_url, kept))
        with running(command, env=env, log_path=logs["worker-1"]) as first:
            _wait(lambda: _covered(kept, kept_last), 90, f"worker 1 to apply site {kept}\n{tails()}")
            _wait(lambda: _covered(lost, kept_last + FIRST), 30, f"worker 1 to apply site {lost}\n{tails()}")

            async def stall_while_the_site_moves() -> None:
                # A's frames keep coming; worker 1 stalls with some of them given to it and not durable.
                publishing = asyncio.create_task(
                    _publish(
                        bus_url, lost, lost_camera, base_us, list(range(FIRST + 1, LAST + 1)), pace_s=0.01
                    )
                )
                await asyncio.sleep(1.0)
                first.send_signal(signal.SIGSTOP)
                try:
                    with running(command, env=env, log_path=logs["worker-2"]) as second:
                        # Resumed once worker 2 claimed A: stopped inside a barrier, worker 1 holds row locks
                        # that worker 2's barriers wait for.
                        claimed = re.compile(rf"site {lost} taken over")
                        deadline = time.monotonic() + 90
                        while not claimed.search(log_tail(logs["worker-2"], 10**6)):
                            assert time.monotonic() < deadline, (
                                f"worker 2 to take site {lost} over\n{tails()}"
                            )
                            assert second.poll() is None, tails()
                            await asyncio.sleep(0.2)
                        first.send_signal(signal.SIGCONT)
                        await publishing
                        last = await _last_stream_seq(bus_url, lost)
                        while not await asyncio.to_thread(_covered, lost, last):
                            assert time.monotonic() < deadline, f"worker 2 to apply site {lost}\n{tails()}"
                            assert second.poll() is None, tails()
                            await asyncio.sleep(0.2)
                        # Worker 1 finds A lost (its fenced barrier, or the periodic fence of the sites it holds).
                        dropped = re.compile(rf"site {lost}: taken over by another worker; dropped")
                        while not dropped.search(log_tail(logs["worker-1"], 10**6)):
                            assert first.poll() is None, f"worker 1 exited\n{tails()}"
                            assert time.monotonic() < deadline, tails()
                            await asyncio.sleep(0.2)
                        await asyncio.sleep(2.0)  # a status line, a rebalancing round
                        assert first.poll() is None, f"worker 1 exited\n{tails()}"
                        second.send_signal(signal.SIGTERM)
                        assert await asyncio.to_thread(second.wait, 30) == 0, tails()
                finally:
                    first.send_signal(signal.SIGCONT)

            asyncio.run(stall_while_the_site_moves())
            first.send_signal(signal.SIGTERM)  # a clean stop closes B's open visits
            assert first.wait(timeout=30) == 0, tails()
        text = tails()

    assert re.search(r'"lost":1\b', log_tail(logs["worker-1"], 10**6)), text
    for site_id, frames, takeovers in ((kept, FIRST, 1), (lost, LAST, 2)):
        truth = (frames - 1) * FRAME_US / 1e6 * PEOPLE
        person_s = _heat_person_s(site_id)
        assert truth - takeovers * PEOPLE * 1.0 <= person_s <= truth + 0.01, (site_id, person_s, truth, text)
        visits = PersonVisit.objects.filter(site_id=site_id)
        assert visits.filter(ended_at__isnull=True).count() == 0, (site_id, text)
        assert PEOPLE <= visits.count() <= PEOPLE * takeovers, (site_id, text)
