"""A site that leaves a worker (a rebalancing release, a clean stop) while messages wait for a gap in a camera's
sequences: those messages are not fused there. Fused with the gap given up on (as they were), they were made
durable with the camera's next sequence past the gap, and the gap's frames, still on their way in the stream, reached
the next owner's fusion after them and were dropped as late: acked, their effect lost."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.bus import jetstream
from server.worker import service
from server.worker.ordering import SiteOrder
from server.worker.progress import Applied


class _Processor:
    def __init__(self) -> None:
        self.released: list[int] = []
        self.flushed = 0

    def dropped_late_frames(self, site_id: int) -> int:
        return 0

    def release_site(self, site_id: int) -> None:
        self.released.append(site_id)

    def flush(self) -> None:
        self.flushed += 1


class _Runtime:
    def __init__(self) -> None:
        self.processor = _Processor()


def _worker() -> tuple[service.SiteWorker, list[tuple[int, list[Any]]], list[str]]:
    worker = object.__new__(service.SiteWorker)
    worker._config = jetstream.BusConfig(servers=("nats://127.0.0.1:1",))
    worker._nc = object()  # type: ignore[assignment]
    worker._runtime = _Runtime()  # type: ignore[assignment]
    worker._pullers = {}
    worker._pins = {5: "pin"}
    worker._orders_done = []
    worker._stopping = True  # no puller started again after the release
    worker.stats = service.WorkerStats()
    fused: list[tuple[int, list[Any]]] = []
    barriers: list[str] = []

    def fuse(site_id: int, released: list[Any]) -> None:
        fused.append((site_id, [entry.item for entry in released]))

    async def flush() -> None:
        barriers.append("barrier")

    worker._fuse = fuse  # type: ignore[method-assign]
    worker._flush = flush  # type: ignore[method-assign]
    worker._progress = type("P", (), {"sites": {5: object()}})()  # type: ignore[assignment]
    return worker, fused, barriers


def _holding_order() -> SiteOrder[tuple[Applied, Any]]:
    """Camera 9 applied through sequence 1; sequence 3 came before 2 and waits for it."""
    order: SiteOrder[tuple[Applied, Any]] = SiteOrder(hold_s=5.0, by_stream=True)
    order.offer(9, 0, 1, (Applied(10, 9, 0, 1, "ack.10"), "frame 1"))
    released, holding = order.offer(9, 0, 3, (Applied(12, 9, 0, 3, "ack.12", waiting=True), "frame 3"))
    assert (released, holding) == ([], True)
    return order


@pytest.fixture(autouse=True)
def _no_unpin(monkeypatch: pytest.MonkeyPatch) -> None:
    async def unpin(nc: Any, config: Any, site_id: int) -> None:
        return None

    monkeypatch.setattr(jetstream, "unpin", unpin)


def test_a_release_leaves_the_messages_held_for_a_gap_unfused_and_waiting() -> None:
    worker, fused, barriers = _worker()
    order = _holding_order()
    held_applied = order._held[0][2][0]
    worker._orders = {5: order}
    asyncio.run(worker.release(5))
    assert fused == []  # frame 3 is the next owner's, once frame 2 comes
    assert barriers == ["barrier"]
    assert worker._runtime.processor.released == [5]  # type: ignore[attr-defined]
    assert held_applied.waiting  # the barrier makes durable only what precedes it (SiteProgress.checkpoint)
    # Kept for its counters only: the frames it held are not kept in memory for the process's life.
    assert worker._orders_done == [order]
    assert order.holding == 0
    assert order.gaps_held == 1


def test_a_clean_stop_leaves_the_messages_held_for_a_gap_unfused_and_waiting() -> None:
    worker, fused, barriers = _worker()
    order = _holding_order()
    held_applied = order._held[0][2][0]
    worker._orders = {5: order}
    asyncio.run(worker._finish_sites())
    assert fused == []
    assert barriers == ["barrier"]
    assert worker._runtime.processor.flushed == 1  # type: ignore[attr-defined]
    assert held_applied.waiting


def test_a_site_not_holding_is_finished_as_before() -> None:
    worker, fused, barriers = _worker()
    order: SiteOrder[tuple[Applied, Any]] = SiteOrder(hold_s=5.0, by_stream=True)
    order.offer(9, 0, 1, (Applied(10, 9, 0, 1, "ack.10"), "frame 1"))
    worker._orders = {5: order}
    asyncio.run(worker._finish_sites())
    assert fused == []  # nothing was held: nothing to release (frame 1 went to the fusion when offered)
    assert barriers == ["barrier"]


def test_a_release_whose_unpin_times_out_is_a_release(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A NATS node dying as the release unpins: the site is released here all the same (its pin ends by its TTL),
    counted and logged as such, not reported as a failed rebalancing with the release's bookkeeping skipped."""

    async def unpin(nc: Any, config: Any, site_id: int) -> None:
        raise TimeoutError("nats: timeout")

    monkeypatch.setattr(jetstream, "unpin", unpin)
    worker, _, barriers = _worker()
    worker._orders = {}
    with caplog.at_level("INFO", logger="server.worker.service"):
        asyncio.run(worker.release(5))
    assert barriers == ["barrier"]
    assert worker.stats.releases == 1
    assert 5 not in worker._pins
    assert "unpinning it failed" in caplog.text
    assert "site 5 released for rebalancing" in caplog.text


def _hand_over(stream: list[tuple[int, int, int]], stopped_after: int) -> tuple[list[Any], list[Any]]:
    """The old owner applies `stream[:stopped_after]` (stream sequence, camera, sequence) and stops holding (its
    barrier settles); the next owner, seeded from the durable progress, reads the stream from its watermark on,
    skipping what is covered, then gives up any gap left. The frames each fused (duplicates dropped)."""
    from server.worker.progress import SiteLedger, SiteProgress

    progress = SiteProgress(held_from=lambda camera, epoch: None, ack=lambda reply: None)
    progress.sites[1] = SiteLedger(site_id=1)
    order: SiteOrder[Applied] = SiteOrder(hold_s=5.0, by_stream=True)
    old: list[Any] = []
    for stream_seq, camera, sequence in stream[:stopped_after]:
        applied = Applied(stream_seq, camera, 0, sequence, f"ack.{stream_seq}", waiting=True)
        progress.record(1, applied)
        for entry in order.offer(camera, 0, sequence, applied)[0]:
            entry.item.waiting = False
            if not entry.duplicate:
                old.append((camera, sequence))
    checkpoint = progress.checkpoint()
    assert checkpoint is not None
    checkpoint.settled()
    durable = progress.sites[1]
    following: SiteOrder[tuple[int, int]] = SiteOrder(hold_s=5.0, by_stream=True)
    for (camera, epoch), next_sequence in durable.cameras.items():
        following.seed(camera, epoch, next_sequence)
    new: list[Any] = []
    for stream_seq, camera, sequence in stream:
        if not durable.covered(stream_seq):
            new += [
                e.item for e in following.offer(camera, 0, sequence, (camera, sequence))[0] if not e.duplicate
            ]
    new += [e.item for e in following.expire(everything=True) if not e.duplicate]
    return old, new


def test_the_next_owner_fuses_what_was_held_and_the_gap_once_in_order() -> None:
    # Camera 9's sequence 2 comes after the stop; camera 7's 5 waited behind its gap.
    old, new = _hand_over(
        [(10, 9, 1), (11, 7, 4), (12, 9, 3), (13, 9, 4), (14, 7, 5), (15, 9, 2), (16, 7, 6)], 5
    )
    assert old == [(9, 1), (7, 4)]
    assert new == [(9, 2), (9, 3), (9, 4), (7, 5), (7, 6)]


def test_a_frame_stored_twice_while_held_is_fused_once_over_the_hand_over() -> None:
    # Camera 7's sequence 10 is stored twice (stream sequences 15 and 20), both while camera 9's gap is held.
    old, new = _hand_over([(10, 9, 1), (11, 7, 9), (12, 9, 3), (15, 7, 10), (20, 7, 10), (21, 9, 2)], 5)
    assert old == [(9, 1), (7, 9)]
    assert new == [(9, 2), (9, 3), (7, 10)]
