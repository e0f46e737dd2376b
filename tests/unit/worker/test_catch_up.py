"""The worker's catch-up (server.worker.service `_catch_up`): reading from the stream the site's messages it was
not delivered. A stream that does not answer for a moment (a NATS node died, a leader election) must not end the
catch-up early: the frames after it would be applied without the skipped ones, the site's progress (a watermark)
would cover those, and they would be acked unapplied when redelivered (their heat lost)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from nats.js.errors import NotFoundError

from server.bus import jetstream
from server.worker import service
from server.worker.progress import SiteLedger


@dataclass
class _Raw:
    seq: int
    data: bytes


class _Stream:
    """The site's messages at stream sequences `seqs`; the first `failures` reads time out (no answer)."""

    def __init__(self, seqs: list[int], failures: int) -> None:
        self.seqs = seqs
        self.failures = failures
        self.reads = 0

    async def get_msg(self, stream: str, *, seq: int, subject: str, next: bool) -> _Raw:
        self.reads += 1
        if self.failures:
            self.failures -= 1
            raise TimeoutError("no answer (a stream leader election)")
        later = [s for s in self.seqs if s >= seq]
        if not later:
            raise NotFoundError()
        return _Raw(later[0], b"")


class _Connection:
    def __init__(self, stream: _Stream) -> None:
        self._stream = stream

    def jetstream(self) -> _Stream:
        return self._stream


class _Progress:
    def __init__(self, ledger: SiteLedger) -> None:
        self.sites = {ledger.site_id: ledger}
        self.lost: set[int] = set()


def _worker(stream: _Stream, applied: list[int], lost: list[str]) -> service.SiteWorker:
    worker = object.__new__(service.SiteWorker)
    worker._nc = _Connection(stream)  # type: ignore[assignment]
    worker._config = jetstream.BusConfig(servers=("nats://127.0.0.1:1",))
    worker._progress = _Progress(SiteLedger(site_id=7, through=10))  # type: ignore[assignment]
    worker.stats = service.WorkerStats()
    worker._stopping = False
    worker._on_lost = lost.append

    def apply(site_id: int, stream_seq: int, data: bytes, reply: str | None) -> bool:
        applied.append(stream_seq)
        worker._progress.sites[site_id].seen[stream_seq] = None  # type: ignore[assignment]
        return False

    worker._apply = apply  # type: ignore[method-assign]
    return worker


@pytest.fixture(autouse=True)
def _consumer_info(monkeypatch: pytest.MonkeyPatch) -> None:
    async def info(nc: Any, config: Any, site_id: int) -> dict[str, Any]:
        return {"ack_floor": {"stream_seq": 0}}

    monkeypatch.setattr(jetstream, "consumer_info", info)
    monkeypatch.setattr(service, "CATCH_UP_RETRY_PAUSE_S", 0.0)


def test_a_stream_that_does_not_answer_for_a_moment_is_read_again() -> None:
    stream = _Stream([11, 13, 15, 17], failures=2)
    applied: list[int] = []
    lost: list[str] = []
    caught_up = asyncio.run(_worker(stream, applied, lost)._catch_up(7, 20))
    assert applied == [11, 13, 15, 17]
    assert caught_up == 4
    assert lost == []


def test_nothing_more_of_the_site_ends_the_catch_up() -> None:
    stream = _Stream([11, 25], failures=0)
    applied: list[int] = []
    caught_up = asyncio.run(_worker(stream, applied, [])._catch_up(7, 20))
    assert (applied, caught_up) == ([11], 1)


def test_consumer_info_unavailable_catches_up_from_the_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_info(nc: Any, config: Any, site_id: int) -> dict[str, Any]:
        raise TimeoutError("no answer")

    monkeypatch.setattr(jetstream, "consumer_info", no_info)
    stream = _Stream([11, 12], failures=0)
    applied: list[int] = []
    assert asyncio.run(_worker(stream, applied, [])._catch_up(7, 20)) == 2
    assert applied == [11, 12]


def test_a_stream_that_stays_unreadable_makes_the_worker_give_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "CATCH_UP_RETRY_S", -1.0)
    stream = _Stream([11, 12], failures=10**6)
    applied: list[int] = []
    lost: list[str] = []
    with pytest.raises(TimeoutError):
        asyncio.run(_worker(stream, applied, lost)._catch_up(7, 20))
    assert applied == []
    assert len(lost) == 1
    assert "cannot be read" in lost[0]


class _Pipeline:
    async def flush(self) -> None:
        raise RuntimeError("the database is away")


class _Processor:
    def __init__(self) -> None:
        self.released: list[int] = []

    def release_site(self, site_id: int) -> None:
        self.released.append(site_id)

    def dropped_late_frames(self, site_id: int) -> int:
        return 0


class _Runtime:
    def __init__(self) -> None:
        self.pipeline = _Pipeline()
        self.processor = _Processor()


def test_a_release_whose_barrier_fails_makes_the_worker_exit() -> None:
    """Its analytics of the site are released, its ledger is not: going on, frames pulled next would be acked with
    nothing fused."""
    lost: list[str] = []
    worker = _worker(_Stream([], failures=0), [], lost)
    worker._runtime = _Runtime()  # type: ignore[assignment]
    worker._pullers = {}
    worker._orders = {}
    worker._pins = {7: "pin"}

    async def release() -> None:
        with pytest.raises(RuntimeError):
            await worker.release(7)
        for task in worker._pullers.values():
            task.cancel()

    asyncio.run(release())
    assert worker._runtime.processor.released == [7]  # type: ignore[attr-defined]
    assert len(lost) == 1
    assert "releasing it failed" in lost[0]


class _FlushingPipeline:
    async def flush(self) -> None:
        return None


def test_a_release_cancelled_by_the_stop_ends_and_starts_no_puller(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM while the rebalancing waits for the site's puller to wind down (a database call it must finish first:
    its cancellation waits for the thread). The release used to take the stop's cancellation for the puller's and
    swallow it: it went on, started a new puller (which took the site over again after the worker's last barrier)
    and the rebalancing task never ended, so the worker's stop waited for ever (killed after 30 s, its visits left
    open)."""
    unpinned: list[int] = []

    async def unpin(nc: Any, config: Any, site_id: int) -> None:
        unpinned.append(site_id)

    monkeypatch.setattr(jetstream, "unpin", unpin)
    worker = _worker(_Stream([], failures=0), [], [])
    runtime = _Runtime()
    runtime.pipeline = _FlushingPipeline()  # type: ignore[assignment]
    worker._runtime = runtime  # type: ignore[assignment]
    worker._orders = {}
    worker._pins = {7: "pin"}

    async def puller() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(0.2)  # e.g. a database call in a thread, finished before it ends
            raise

    async def stop_during_release() -> tuple[bool, list[asyncio.Task[None]]]:
        first = asyncio.create_task(puller())
        worker._pullers = {7: first}
        await asyncio.sleep(0)
        releasing = asyncio.create_task(worker.release(7))
        await asyncio.sleep(0.05)  # the release waits for the puller now
        worker._stopping = True
        releasing.cancel()
        done, _ = await asyncio.wait([releasing], timeout=2.0)
        await asyncio.wait([first])
        started = [t for t in worker._pullers.values() if t is not first]
        for task in started:
            task.cancel()
        return releasing in done and releasing.cancelled(), started

    ended, started = asyncio.run(stop_during_release())
    assert ended  # the stop's cancellation ends the release
    assert started == []  # no puller started by a stopping worker
    assert unpinned == []
