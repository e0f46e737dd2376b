"""EmbeddedBackend specifics (a SQLite file in tmp_path): merge on rewrite, limits, odd tag keys, concurrency.
The query semantics shared with InfluxDB are checked in tests/integration/timeseries against both stores."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.timeseries.embedded import EmbeddedBackend
from server.timeseries.errors import TimeSeriesRejected, TimeSeriesUnavailable
from server.timeseries.types import Point, Row, SeriesQuery


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedBackend]:
    backend = EmbeddedBackend(tmp_path / "nested" / "ts.sqlite3")
    yield backend
    backend.close()


def test_schema_wal_and_index(store: EmbeddedBackend) -> None:
    connection = sqlite3.connect(store.path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {row[1] for row in connection.execute("PRAGMA index_list('ts_points')")}
    assert "ts_points_measurement_time" in indexes
    columns = [row[2] for row in connection.execute("PRAGMA index_info('ts_points_measurement_time')")]
    assert columns == ["measurement", "time_ns"]
    connection.close()


def test_rewriting_a_point_merges_fields_instead_of_duplicating(store: EmbeddedBackend) -> None:
    store.write_batch([Point("m", {"site": "a"}, {"v": 1, "w": "x"}, 10)])
    store.write_batch(
        [Point("m", {"site": "a", "zone": ""}, {"v": 2}, 10), Point("m", {"site": "a"}, {"v": 3}, 11)]
    )
    assert store.query(SeriesQuery("m", 0, 100)) == [
        Row(10, {"site": "a"}, {"v": 2, "w": "x"}),
        Row(11, {"site": "a"}, {"v": 3}),
    ]


def test_limit_is_exact_at_a_tie_in_time(store: EmbeddedBackend) -> None:
    store.write_batch([Point("m", {"site": s}, {"v": 1}, t) for t in (1, 2) for s in ("c", "a", "b")])
    rows = store.query(SeriesQuery("m", 0, 100, limit=2))
    assert [(r.time_ns, r.tags["site"]) for r in rows] == [(1, "a"), (1, "b")]
    rows = store.query(SeriesQuery("m", 0, 100, limit=4))
    assert [(r.time_ns, r.tags["site"]) for r in rows] == [(1, "a"), (1, "b"), (1, "c"), (2, "a")]


def test_tag_keys_that_cannot_go_in_a_json_path_are_filtered_in_python(store: EmbeddedBackend) -> None:
    store.write_batch(
        [Point("m", {'we"i\\rd': "1"}, {"v": 1}, 1), Point("m", {'we"i\\rd': "2"}, {"v": 2}, 2)]
    )
    rows = store.query(SeriesQuery("m", 0, 10, tags={'we"i\\rd': "2"}, limit=5))
    assert rows == [Row(2, {'we"i\\rd': "2"}, {"v": 2})]


def test_invalid_points_rejected_by_index_and_nothing_written(store: EmbeddedBackend) -> None:
    with pytest.raises(TimeSeriesRejected) as caught:
        store.write_batch([Point("m", {}, {"v": 1}, 1), Point("m", {}, {"v": float("nan")}, 2)])
    assert caught.value.bad_indices == (1,)
    assert store.query(SeriesQuery("m", 0, 10)) == []


def test_delete_before(store: EmbeddedBackend) -> None:
    store.write_batch([Point("a", {}, {"v": 1}, t) for t in range(10)] + [Point("b", {}, {"v": 1}, 1)])
    assert store.delete_before(5, measurement="a") == 5
    assert store.delete_before(5) == 1
    assert [r.time_ns for r in store.query(SeriesQuery("a", 0, 100))] == [5, 6, 7, 8, 9]


def test_writer_thread_and_reader_threads_share_the_file(store: EmbeddedBackend) -> None:
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            for start in range(offset, offset + 500, 50):
                store.write_batch(
                    [Point("m", {"t": str(offset)}, {"v": i}, i) for i in range(start, start + 50)]
                )
        except BaseException as err:  # collected and asserted below
            errors.append(err)

    def read() -> None:
        try:
            for _ in range(20):
                store.query(SeriesQuery("m", 0, 10_000, aggregate="count"))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=write, args=(i * 1000,)) for i in range(3)] + [
        threading.Thread(target=read)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.query(SeriesQuery("m", 0, 10_000, aggregate="count")) == [Row(0, {}, {"v": 1500})]


def test_closed_store_is_unavailable(tmp_path: Path) -> None:
    store = EmbeddedBackend(tmp_path / "ts.sqlite3")
    store.close()
    with pytest.raises(TimeSeriesUnavailable):
        store.write_batch([Point("m", {}, {"v": 1}, 1)])


def test_unwritable_path_is_unavailable(tmp_path: Path) -> None:
    store = EmbeddedBackend(tmp_path / "ts.sqlite3")
    try:
        connection = sqlite3.connect(store.path)
        connection.execute("DROP TABLE ts_points")
        connection.close()
        with pytest.raises(TimeSeriesUnavailable) as caught:
            store.write_batch([Point("m", {}, {"v": 1}, 1)])
        assert caught.value.code == "sqlite"
    finally:
        store.close()
