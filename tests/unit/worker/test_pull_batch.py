"""A worker's pulls ask JetStream for what it gets through in a few seconds (server.worker.service `_pull_batch`),
not 128 messages per site whatever the number of sites: a message JetStream has sent and the worker has not read off
its connection yet cannot be kept from redelivery by an in-progress ack, and at 64 sites x 128 the worker read them
at its own rate, tens of seconds, past the ack wait (a quarter to a half of them redelivered, read and acked twice)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from server.bus import jetstream
from server.worker import service


class _Nats:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def publish(self, subject: str, data: bytes, reply: str = "") -> None:
        self.requests.append(json.loads(data))


def _worker(sites: int, rate: float | None) -> tuple[service.SiteWorker, _Nats]:
    worker = object.__new__(service.SiteWorker)
    nc = _Nats()
    worker._nc = nc  # type: ignore[assignment]
    worker._config = jetstream.BusConfig(servers=("nats://127.0.0.1:1",))
    worker._first_pull = True
    worker._pins = {}
    worker._share = None
    worker._pullers = dict.fromkeys(range(1, sites + 1))  # type: ignore[assignment]
    worker._rate = rate
    worker._pulled_at = {}
    worker._stopping = False

    async def one_pull(site_id: int, sub: Any, batch: int = 0) -> None:
        raise asyncio.CancelledError

    worker._receive = one_pull  # type: ignore[method-assign]
    return worker, nc


def _batch(sites: int, rate: float | None) -> int:
    worker, nc = _worker(sites, rate)

    async def as_the_sites_puller() -> None:
        worker._pullers[1] = asyncio.current_task()  # type: ignore[assignment]
        await worker._pull_loop(1, None, "inbox")

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(as_the_sites_puller())
    (request,) = nc.requests
    return int(request["batch"])


@pytest.mark.parametrize(
    ("sites", "rate", "batch"),
    [
        (64, None, 8),  # starting: 512 in all, not 8,192
        (64, 200.0, 8),  # 500 messages in 2.5 s over 64 sites
        (8, 200.0, 62),
        (1, 350.0, 128),
        (64, 0.0, 8),  # idle: still pulls
    ],
)
def test_a_pull_asks_for_the_sites_share_of_a_few_seconds_of_work(
    sites: int, rate: float | None, batch: int
) -> None:
    assert _batch(sites, rate) == batch
    # In all, at most a few seconds of work (or the least of each site).
    assert sites * batch <= max(sites * 8, (rate or 0) * 2.5)
