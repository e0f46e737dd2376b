"""BatchingWriter against a scriptable backend: batches, bounded buffer, retries, rejections, no blocking."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from server.timeseries.errors import TimeSeriesUnavailable
from server.timeseries.health import health
from server.timeseries.writer import BatchingWriter
from tests.unit.timeseries.fakes import FakeBackend, points


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def make_writer(backend: FakeBackend) -> Iterator[type[BatchingWriter]]:
    made: list[BatchingWriter] = []

    def factory(**kwargs: object) -> BatchingWriter:
        options: dict[str, object] = {"retry_initial_s": 0.01, "retry_max_s": 0.05, "flush_interval_s": 0.05}
        options.update(kwargs)
        writer = BatchingWriter(backend, **options)  # type: ignore[arg-type]
        made.append(writer)
        return writer

    yield factory  # type: ignore[misc]
    for writer in made:
        backend.available.set()
        if backend.gate is not None:
            backend.gate.set()
        writer.stop(timeout_s=2)


def test_points_are_written_in_batches_of_batch_size(backend: FakeBackend, make_writer) -> None:
    writer = make_writer(batch_size=100, flush_interval_s=10.0)
    writer.write(points(250))
    assert writer.flush(timeout_s=5)
    assert [p.time_ns for p in backend.stored] == list(range(250))
    assert backend.calls[:2] == [100, 100]
    assert sum(backend.calls) == 250
    stats = writer.stats()
    assert (stats.written_points, stats.buffered_points, stats.dropped_points) == (250, 0, 0)


def test_flush_interval_sends_a_partial_batch_without_flush(backend: FakeBackend, make_writer) -> None:
    writer = make_writer(batch_size=1000, flush_interval_s=0.05)
    writer.write(points(3))
    deadline = time.monotonic() + 5
    while len(backend.stored) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(backend.stored) == 3


def test_outage_keeps_points_and_retries_until_back(backend: FakeBackend, make_writer) -> None:
    backend.available.clear()
    writer = make_writer(batch_size=50, max_buffer_points=1000)
    writer.write(points(120))
    assert not writer.flush(timeout_s=0.3)
    stats = writer.stats()
    assert stats.buffered_points == 120
    assert stats.written_points == 0
    assert not stats.backend_healthy
    assert "fake store is down" in stats.last_error
    deadline = time.monotonic() + 5
    while len(backend.calls) < 2 and time.monotonic() < deadline:  # the flusher thread may wait for a core
        time.sleep(0.01)
    assert len(backend.calls) >= 2  # it retried
    backend.available.set()
    assert writer.flush(timeout_s=5)
    assert [p.time_ns for p in backend.stored] == list(range(120))
    stats = writer.stats()
    assert stats.backend_healthy
    assert (stats.written_points, stats.dropped_points, stats.failed_batches) == (120, 0, 0)


def test_full_buffer_drops_the_oldest_and_counts_them(backend: FakeBackend, make_writer) -> None:
    backend.available.clear()
    writer = make_writer(batch_size=10, max_buffer_points=100)
    for start in range(0, 250, 25):
        writer.write(points(25, start=start))
    stats = writer.stats()
    assert stats.buffered_points == 100
    assert stats.dropped_points == 150
    backend.available.set()
    assert writer.flush(timeout_s=5)
    assert sorted({p.time_ns for p in backend.stored}) == list(range(150, 250))
    stats = writer.stats()
    assert stats.written_points + stats.dropped_points == 250


def test_one_write_larger_than_the_buffer_keeps_its_newest_points(backend: FakeBackend, make_writer) -> None:
    backend.available.clear()
    writer = make_writer(batch_size=10, max_buffer_points=30)
    writer.write(points(100))
    assert writer.stats().dropped_points == 70
    backend.available.set()
    assert writer.flush(timeout_s=5)
    assert sorted({p.time_ns for p in backend.stored}) == list(range(70, 100))


def test_overflow_during_a_slow_write_is_counted_once(backend: FakeBackend, make_writer) -> None:
    backend.gate = threading.Event()
    writer = make_writer(batch_size=20, max_buffer_points=40, flush_interval_s=0.01)
    writer.write(points(20))  # the flusher takes these 20 and blocks in write_batch
    deadline = time.monotonic() + 5
    while not backend.calls and time.monotonic() < deadline:
        time.sleep(0.005)
    writer.write(points(40, start=20))  # overflow: the 20 in flight are the oldest
    assert writer.stats().dropped_points == 20
    backend.gate.set()
    assert writer.flush(timeout_s=5)
    stats = writer.stats()
    # the in-flight 20 did reach the store, so they no longer count as dropped
    assert stats.written_points + stats.dropped_points == 60
    assert len({p.time_ns for p in backend.stored}) == stats.written_points
    assert set(range(20, 60)) <= {p.time_ns for p in backend.stored}


def test_rejected_points_named_by_index_are_dropped_and_the_rest_written(
    backend: FakeBackend, make_writer
) -> None:
    backend.is_bad = lambda point: point.time_ns % 10 == 3
    backend.name_bad_indices = True
    writer = make_writer(batch_size=50)
    writer.write(points(100))
    assert writer.flush(timeout_s=5)
    assert sorted(p.time_ns for p in backend.stored) == [t for t in range(100) if t % 10 != 3]
    stats = writer.stats()
    assert (stats.written_points, stats.dropped_points, stats.failed_batches) == (90, 10, 2)
    assert "bad points" in stats.last_error


def test_server_rejection_is_isolated_by_halving_not_retried_forever(
    backend: FakeBackend, make_writer
) -> None:
    backend.is_bad = lambda point: point.time_ns == 37
    writer = make_writer(batch_size=64)
    writer.write(points(64))
    assert writer.flush(timeout_s=5)
    assert sorted(p.time_ns for p in backend.stored) == [t for t in range(64) if t != 37]
    stats = writer.stats()
    assert (stats.written_points, stats.dropped_points, stats.failed_batches) == (63, 1, 1)
    assert len(backend.calls) <= 1 + 2 * 6  # halving: log2(64) levels, two requests each
    writer.write(points(5, start=100))
    assert writer.flush(timeout_s=5)
    assert writer.stats().written_points == 68


def test_isolation_budget_bounds_requests_for_an_all_bad_batch(backend: FakeBackend, make_writer) -> None:
    backend.is_bad = lambda point: True
    writer = make_writer(batch_size=1000, max_isolation_requests=8)
    writer.write(points(1000))
    assert writer.flush(timeout_s=5)
    assert len(backend.calls) <= 1 + 8
    stats = writer.stats()
    assert (stats.written_points, stats.dropped_points, stats.failed_batches) == (0, 1000, 1)


def test_unexpected_backend_error_drops_the_batch_and_keeps_going(backend: FakeBackend, make_writer) -> None:
    original = backend.write_batch
    failures = [1]

    def flaky(batch):  # type: ignore[no-untyped-def]
        if failures:
            failures.pop()
            raise RuntimeError("bug")
        original(batch)

    backend.write_batch = flaky  # type: ignore[method-assign]
    writer = make_writer(batch_size=10)
    writer.write(points(10))
    assert writer.flush(timeout_s=5)
    writer.write(points(10, start=10))
    assert writer.flush(timeout_s=5)
    stats = writer.stats()
    assert (stats.written_points, stats.dropped_points, stats.failed_batches) == (10, 10, 1)
    assert "bug" in stats.last_error


def test_write_never_blocks_while_the_backend_hangs(backend: FakeBackend, make_writer) -> None:
    backend.gate = threading.Event()  # every write_batch hangs until the gate opens
    writer = make_writer(batch_size=10, max_buffer_points=5000)
    # A writer that waited on the backend would never finish this loop while the gate is shut (no timing:
    # a scheduler hiccup on a busy CI machine must not fail it).
    producer = threading.Thread(
        target=lambda: [writer.write(points(10, start=start)) for start in range(0, 2000, 10)], daemon=True
    )
    producer.start()
    producer.join(timeout=8)  # less than the fake's 10 s hang: a blocked write cannot have returned
    assert not producer.is_alive(), "write() blocked on a hanging backend"
    assert backend.stored == []
    backend.gate.set()
    assert writer.flush(timeout_s=5)
    assert writer.stats().written_points == 2000


def test_write_never_raises_on_bad_input(backend: FakeBackend, make_writer) -> None:
    writer = make_writer()
    writer.write(None)  # type: ignore[arg-type]
    writer.write(iter(points(2)))
    writer.write_point(points(1, start=7)[0])
    assert writer.flush(timeout_s=5)
    assert sorted(p.time_ns for p in backend.stored) == [0, 1, 7]


def test_concurrent_producers_lose_nothing(backend: FakeBackend, make_writer) -> None:
    writer = make_writer(batch_size=500, max_buffer_points=100_000)

    def produce(offset: int) -> None:
        for start in range(offset, offset + 5000, 50):
            writer.write(points(50, start=start))

    threads = [threading.Thread(target=produce, args=(i * 10_000,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.flush(timeout_s=10)
    assert len(backend.stored) == 20_000
    assert len({p.time_ns for p in backend.stored}) == 20_000


def test_stop_flushes_then_drops_and_counts_later_writes(backend: FakeBackend, make_writer) -> None:
    writer = make_writer(batch_size=1000, flush_interval_s=10.0)
    writer.write(points(30))
    assert writer.stop(timeout_s=5)
    assert len(backend.stored) == 30
    writer.write(points(5, start=30))
    stats = writer.stats()
    assert (stats.written_points, stats.dropped_points, stats.buffered_points) == (30, 5, 0)


def test_stop_gives_up_when_the_store_stays_down(backend: FakeBackend, make_writer) -> None:
    backend.available.clear()
    writer = make_writer(batch_size=10)
    writer.write(points(25))
    began = time.monotonic()
    assert not writer.stop(timeout_s=0.3)
    assert time.monotonic() - began < 2.0
    assert writer.stats().buffered_points == 25


def test_health_reports_backend_and_writer_stats(backend: FakeBackend, make_writer) -> None:
    writer = make_writer(batch_size=10)
    writer.write(points(10))
    assert writer.flush(timeout_s=5)
    report = health(backend, writer)
    assert report["backend"] == "fake"
    assert report["ok"] is True
    assert report["written_points"] == 10
    backend.available.clear()
    report = health(backend, writer)
    assert report["ok"] is False
    assert "down" in str(report["detail"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_buffer_points": 0},
        {"batch_size": 0},
        {"flush_interval_s": 0},
        {"retry_initial_s": 1, "retry_max_s": 0.5},
    ],
)
def test_bad_writer_settings(backend: FakeBackend, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        BatchingWriter(backend, **kwargs)  # type: ignore[arg-type]


def test_checkpoint_commits_once_its_points_are_stored_and_raises_while_the_store_is_down(
    backend: FakeBackend, make_writer
) -> None:
    """The ingest's ack barrier: a frame is acked only once its points are in the store."""
    writer = make_writer(batch_size=1000, flush_interval_s=30.0, durable_timeout_s=0.3)
    assert writer.checkpoint() is None  # nothing queued
    writer.write(points(5))
    checkpoint = writer.checkpoint()
    writer.write(points(3, start=5))  # queued after the checkpoint: not waited for
    assert checkpoint is not None
    checkpoint.commit()
    assert len(backend.stored) >= 5
    backend.available.clear()
    writer.write(points(2, start=8))
    down = writer.checkpoint()
    assert down is not None
    started = time.monotonic()
    with pytest.raises(TimeSeriesUnavailable):
        down.commit()
    assert time.monotonic() - started < 2.0
    assert writer.stats().buffered_points >= 2  # kept for the next attempt
    backend.available.set()
    down.commit()
    assert [p.time_ns for p in backend.stored][-2:] == [8, 9]
