"""BatchingWriter against a real influxd that is stopped, killed and restarted (SPEC §7: InfluxDB down):
nothing lost within the buffer bound, overflow drops the oldest, 4xx rejections are counted and not retried
forever, and write() never blocks while InfluxDB is down."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Sequence

import pytest

from server.timeseries.health import health
from server.timeseries.influx_v1 import InfluxV1Backend
from server.timeseries.types import Point, Row, SeriesQuery
from server.timeseries.writer import BatchingWriter
from tests.support.influxdb import EphemeralInfluxDB

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000_000_000
# 95 % of write() calls while the store is down; a blocking write would cost the 0.5 s connect timeout.
WRITE_BUDGET_S = 0.02


class CountingBackend(InfluxV1Backend):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.requests = 0

    def write_batch(self, points: Sequence[Point]) -> None:
        self.requests += 1
        super().write_batch(points)


@pytest.fixture
def backend(ephemeral_influxdb: EphemeralInfluxDB) -> Iterator[CountingBackend]:
    ephemeral_influxdb.start()
    store = CountingBackend(
        ephemeral_influxdb.url, f"faults_{uuid.uuid4().hex[:8]}", timeout_s=2.0, connect_timeout_s=0.5
    )
    yield store
    ephemeral_influxdb.start()
    store.close()


def make_writer(backend: InfluxV1Backend, **kwargs: float) -> BatchingWriter:
    options: dict[str, float] = {
        "batch_size": 500,
        "flush_interval_s": 0.05,
        "retry_initial_s": 0.05,
        "retry_max_s": 0.3,
    }
    options.update(kwargs)
    return BatchingWriter(backend, **options)  # type: ignore[arg-type]


def count(backend: InfluxV1Backend, measurement: str) -> int:
    rows = backend.query(SeriesQuery(measurement, T0 - 1, T0 + 10**15, fields=["seq"], aggregate="count"))
    return int(rows[0].fields["seq"]) if rows else 0


def batch(start: int, size: int, measurement: str = "load") -> list[Point]:
    return [Point(measurement, {"site": "s"}, {"seq": i}, T0 + i * 1000) for i in range(start, start + size)]


@pytest.mark.parametrize("outage", ["stop", "kill"])
def test_restart_while_writing_loses_nothing_within_the_buffer(
    ephemeral_influxdb: EphemeralInfluxDB, backend: CountingBackend, outage: str
) -> None:
    writer = make_writer(backend, max_buffer_points=50_000)
    total = 0
    durations_while_down_s: list[float] = []
    down = threading.Event()
    try:
        for step in range(120):  # 120 x 100 points over ~1.2 s plus the outage
            if step == 30:
                ephemeral_influxdb.stop() if outage == "stop" else ephemeral_influxdb.kill()
                down.set()
            if step == 90:
                ephemeral_influxdb.start()
                down.clear()
            began = time.perf_counter()
            writer.write(batch(total, 100))
            elapsed_s = time.perf_counter() - began
            total += 100
            if down.is_set():
                durations_while_down_s.append(elapsed_s)
                if step == 60:
                    report = health(backend, writer)
                    assert report["ok"] is False
            time.sleep(0.01)
        assert writer.flush(timeout_s=30), writer.stats()
    finally:
        writer.stop(timeout_s=5)
    stats = writer.stats()
    assert len(durations_while_down_s) == 60
    durations_while_down_s.sort()
    # The budget holds for 95 % of the calls; the rest may meet the 2-core CI machine's scheduler (or a GIL
    # switch, 5 ms by default) but must stay far below the 0.5 s connect timeout a blocking write would cost.
    p95_s = durations_while_down_s[int(0.95 * len(durations_while_down_s)) - 1]
    assert p95_s < WRITE_BUDGET_S, f"95 % of write() calls took up to {p95_s * 1000:.2f} ms"
    slowest_s = durations_while_down_s[-1]
    # A write() that waited for the store would never return: the store comes back from this same loop. The
    # bound is loose on purpose (a loaded 2-core CI machine can stall any call for a few hundred ms); a write()
    # that paid the 0.5 s connect timeout each time is caught by the p95 budget above.
    assert slowest_s < 2.0, f"slowest write() took {slowest_s * 1000:.1f} ms"
    print(f"write() while InfluxDB was down: p95 {p95_s * 1e6:.0f} us, max {slowest_s * 1e6:.0f} us")
    assert stats.dropped_points == 0
    assert stats.written_points == total
    assert count(backend, "load") == total == 12_000
    assert stats.backend_healthy
    assert health(backend, writer)["ok"] is True


def test_overflow_while_down_drops_the_oldest_and_counts_them(
    ephemeral_influxdb: EphemeralInfluxDB, backend: CountingBackend
) -> None:
    backend.write_batch(batch(0, 1))  # create the database while the server is up
    ephemeral_influxdb.stop()
    writer = make_writer(backend, max_buffer_points=1000, batch_size=200)
    try:
        for start in range(1, 3001, 100):
            writer.write(batch(start, 100, measurement="overflow"))
        stats = writer.stats()
        assert stats.buffered_points == 1000
        assert stats.dropped_points == 2000
        ephemeral_influxdb.start()
        assert writer.flush(timeout_s=30)
    finally:
        writer.stop(timeout_s=5)
    rows = backend.query(SeriesQuery("overflow", T0, T0 + 10**12, fields=["seq"]))
    assert [int(r.fields["seq"]) for r in rows] == list(range(2001, 3001))
    stats = writer.stats()
    assert (stats.written_points, stats.dropped_points) == (1000, 2000)


def test_rejected_points_are_counted_isolated_and_not_retried_forever(backend: CountingBackend) -> None:
    backend.write_batch([Point("typed", {}, {"v": 1}, T0)])  # "v" is an integer field from now on
    writer = make_writer(backend, batch_size=100, flush_interval_s=10.0)
    try:
        good_then_bad = [Point("typed", {}, {"v": i}, T0 + i) for i in range(1, 100)]
        good_then_bad.insert(50, Point("typed", {}, {"v": 0.5}, T0 + 1000))  # float into an int field: 400
        requests_before = backend.requests
        writer.write(good_then_bad)
        assert writer.flush(timeout_s=15)
        stats = writer.stats()
        assert stats.failed_batches == 1
        assert stats.dropped_points == 1
        assert stats.written_points == 99
        assert "field type conflict" in stats.last_error
        assert backend.requests - requests_before <= 1 + 2 * 7  # halving over 100 points, not a retry loop
        writer.write([Point("typed", {}, {"v": 7}, T0 + 5000)])
        assert writer.flush(timeout_s=15)
    finally:
        writer.stop(timeout_s=5)
    rows = backend.query(SeriesQuery("typed", T0, T0 + 10**6))
    assert len(rows) == 101
    assert Row(T0 + 5000, {}, {"v": 7}) in rows
    assert all(r.time_ns != T0 + 1000 for r in rows)
    assert writer.stats().written_points == 100
