"""A take-over (server.worker.service `_take_over`) whose analytics cannot start (the site's setup or the closing
of what the predecessor left open failed: a database error, a deadlock with the old owner's barrier) must leave the
site not taken over, so that the next delivery takes it over again. Left activated, its next messages were applied
with nothing fused (the processor skips a site it has no state for), made durable and acked: their heat lost."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.js.errors import NotFoundError

from server.bus import jetstream
from server.frames import CameraRef
from server.worker import service
from server.worker.ordering import SiteOrder
from server.worker.progress import SiteLedger


class _Stream:
    async def get_msg(self, stream: str, *, seq: int, subject: str, next: bool) -> Any:
        raise NotFoundError()  # nothing before the first delivery


class _Connection:
    def jetstream(self) -> _Stream:
        return _Stream()


class _Progress:
    def __init__(self) -> None:
        self.sites: dict[int, SiteLedger] = {}

    async def activate(self, site_id: int) -> SiteLedger:
        ledger = self.sites[site_id] = SiteLedger(site_id=site_id, through=10, revision=2)
        return ledger


class _Processor:
    """Its first `prepare` fails as the database refusing would."""

    def __init__(self) -> None:
        self.failures = 1
        self.prepared: list[int] = []

    async def prepare(self, camera: CameraRef) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("deadlock detected")
        self.prepared.append(camera.site_id)


class _Runtime:
    def __init__(self) -> None:
        self.processor = _Processor()


def _worker() -> service.SiteWorker:
    worker = object.__new__(service.SiteWorker)
    worker._nc = _Connection()  # type: ignore[assignment]
    worker._config = jetstream.BusConfig(servers=("nats://127.0.0.1:1",))
    worker._progress = _Progress()  # type: ignore[assignment]
    worker._runtime = _Runtime()  # type: ignore[assignment]
    worker._orders = {}
    worker._orders_done = []
    worker._cameras = {}
    worker._pins = {7: "pin"}
    worker._taking_over = set()
    worker._rebalance_view = ()
    worker.stats = service.WorkerStats()
    return worker


@pytest.fixture(autouse=True)
def _consumer_info(monkeypatch: pytest.MonkeyPatch) -> None:
    async def info(nc: Any, config: Any, site_id: int) -> dict[str, Any]:
        return {"ack_floor": {"stream_seq": 0}}

    monkeypatch.setattr(jetstream, "consumer_info", info)


def test_a_take_over_whose_analytics_fail_to_start_is_undone_and_done_again() -> None:
    worker = _worker()
    with pytest.raises(RuntimeError):
        asyncio.run(worker._take_over(7, 20))
    # Not taken over: `_receive` takes the site over again at its next delivery (from its durable progress).
    assert 7 not in worker._progress.sites
    assert 7 not in worker._orders
    asyncio.run(worker._take_over(7, 20))
    assert 7 in worker._progress.sites
    assert worker._runtime.processor.prepared == [7]  # type: ignore[attr-defined]


def test_the_rebalancing_releases_no_site_held_for_a_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A release gives the site's gap up; its frames, still coming in the stream, would reach the new owner's
    fusion after newer ones and be dropped as late. Another site is released instead (none while all hold)."""

    async def present(nc: Any, config: Any) -> int:
        return 2  # two workers answer the roll call: a share of one site each

    monkeypatch.setattr(jetstream, "workers_present", present)
    worker = _worker()
    worker._pins = {1: "a", 2: "b"}
    worker._pullers = {1: None, 2: None}  # type: ignore[dict-item]
    worker._worker_samples = []
    holding: SiteOrder[str] = SiteOrder(hold_s=5.0)
    holding.offer(9, 0, 1, "first")
    assert holding.offer(9, 0, 3, "after a gap") == ([], True)
    worker._orders = {2: holding}  # type: ignore[dict-item]
    released: list[int] = []

    async def release(site_id: int) -> None:
        released.append(site_id)

    worker.release = release  # type: ignore[method-assign]
    asyncio.run(worker._rebalance())
    assert released == [1]
    worker._orders = {1: holding, 2: holding}  # type: ignore[dict-item]
    asyncio.run(worker._rebalance())
    assert released == [1]
