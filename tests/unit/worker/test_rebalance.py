"""Rebalancing (server.worker.service `_rebalance`) releases a site this worker holds over its share, but not one
whose take-over is still under way here: cancelled mid-way, its claim (a database thread) still raised the site's
revision after the release, and the worker JetStream pinned next found its first barrier fenced (a cluster run
showed a site released so, before its take-over was logged)."""

from __future__ import annotations

import logging

import pytest

from server.bus import jetstream
from server.worker import service


def _worker(released: list[int]) -> service.SiteWorker:
    worker = object.__new__(service.SiteWorker)
    worker._nc = object()  # type: ignore[assignment]
    worker._config = jetstream.BusConfig(servers=("nats://127.0.0.1:1",))
    worker._worker_samples = []
    worker._pullers = {1: None, 2: None, 3: None, 4: None}  # type: ignore[dict-item]
    worker._pins = {1: "a", 2: "b", 3: "c"}
    worker._orders = {}
    worker._taking_over = {3}
    worker._rebalance_view = ()

    async def release(site_id: int) -> None:
        released.append(site_id)

    worker.release = release  # type: ignore[method-assign]
    return worker


@pytest.mark.asyncio
async def test_a_site_whose_take_over_is_under_way_is_not_released(monkeypatch: pytest.MonkeyPatch) -> None:
    async def two_workers(nc: object, config: object) -> int:
        return 2

    monkeypatch.setattr(jetstream, "workers_present", two_workers)
    released: list[int] = []
    worker = _worker(released)
    await worker._rebalance()  # 3 sites held, a share of 2: one goes, the highest not being taken over
    assert released == [2]
    worker._taking_over.clear()
    await worker._rebalance()
    assert released == [2, 3]


@pytest.mark.asyncio
async def test_the_rebalancing_says_what_it_decided_once_per_change(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def two_workers(nc: object, config: object) -> int:
        return 2

    monkeypatch.setattr(jetstream, "workers_present", two_workers)
    released: list[int] = []
    worker = _worker(released)
    worker._taking_over = {1, 2, 3}  # nothing free: over its share, and it says why nothing goes
    with caplog.at_level(logging.INFO, logger="server.worker.service"):
        await worker._rebalance()
        await worker._rebalance()  # the same view: not logged again
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rebalance:")]
    assert len(lines) == 1
    assert "sites [1, 2, 3] here of 4, 2 worker(s)" in lines[0]
    assert "share 2; none free to release" in lines[0]
    assert released == []
