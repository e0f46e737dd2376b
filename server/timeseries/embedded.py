"""The embedded time-series store: one SQLite file (WAL), for the no-services default.

One table, one row per point: ``(measurement, time_ns, tags, fields)`` where ``tags`` is the canonical JSON of
the point's non-empty tags (sorted keys; it is also the series key) and ``fields`` a JSON object. The primary
key (measurement, tags, time_ns) gives InfluxDB's rule "one point per series and time; a second write merges
its fields", so retried batches never duplicate. An index on (measurement, time_ns) serves range reads;
aggregation runs in Python with the same semantics as the InfluxDB backends
(``server.timeseries.aggregation``).
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from server.timeseries.aggregation import evaluate
from server.timeseries.errors import TimeSeriesRejected, TimeSeriesUnavailable
from server.timeseries.types import FieldValue, Point, Row, SeriesQuery
from server.timeseries.validation import point_problem, stored_tags

logger = logging.getLogger(__name__)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ts_points (
        measurement TEXT NOT NULL,
        time_ns INTEGER NOT NULL,
        tags TEXT NOT NULL,
        fields TEXT NOT NULL,
        PRIMARY KEY (measurement, tags, time_ns)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS ts_points_measurement_time ON ts_points (measurement, time_ns)",
)
_UPSERT = """INSERT INTO ts_points (measurement, time_ns, tags, fields) VALUES (?, ?, ?, ?)
    ON CONFLICT (measurement, tags, time_ns)
    DO UPDATE SET fields = json_patch(ts_points.fields, excluded.fields)"""
_PLAIN_KEY = re.compile(r"^[^\"\\\x00-\x1f]+$")  # keys usable inside a quoted JSON path $."key"


def canonical_tags(tags: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(tags.items())), ensure_ascii=False, separators=(",", ":"))


class EmbeddedBackend:
    """Time-series backend on a local SQLite file; safe to use from several threads (one connection each)."""

    name = "embedded"

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        connection = self._connection()
        with connection:
            for statement in _SCHEMA:
                connection.execute(statement)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        if self._closed:
            raise TimeSeriesUnavailable("embedded time-series store is closed", code="closed")
        try:
            connection = sqlite3.connect(self.path, timeout=self._busy_timeout_s, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as err:
            raise TimeSeriesUnavailable(f"cannot open {self.path}: {err}", code="sqlite") from err
        self._local.connection = connection
        with self._connections_lock:
            self._connections.append(connection)
        return connection

    def write_batch(self, points: Sequence[Point]) -> None:
        rows: list[tuple[str, int, str, str]] = []
        bad: list[int] = []
        first_problem = ""
        for index, point in enumerate(points):
            problem = point_problem(point)
            if problem is not None:
                bad.append(index)
                first_problem = first_problem or problem
                continue
            fields = json.dumps(dict(point.fields), ensure_ascii=False, separators=(",", ":"))
            rows.append((point.measurement, point.time_ns, canonical_tags(stored_tags(point)), fields))
        if bad:
            raise TimeSeriesRejected(
                f"{len(bad)} invalid point(s), first at {bad[0]}: {first_problem}",
                code="invalid_point",
                bad_indices=tuple(bad),
            )
        try:
            connection = self._connection()
            with connection:
                connection.executemany(_UPSERT, rows)
        except sqlite3.Error as err:
            raise TimeSeriesUnavailable(f"embedded store write failed: {err}", code="sqlite") from err

    def query(self, q: SeriesQuery) -> list[Row]:
        where = ["measurement = ?", "time_ns >= ?", "time_ns < ?"]
        params: list[Any] = [q.measurement, q.start_ns, q.end_ns]
        all_pushed = True
        for key, value in sorted(q.tags.items()):
            if not _PLAIN_KEY.match(key):
                all_pushed = False  # filtered in Python only
                continue
            if value:
                where.append("json_extract(tags, ?) = ?")
                params += [f'$."{key}"', value]
            else:
                where.append("json_extract(tags, ?) IS NULL")
                params.append(f'$."{key}"')
        # Only fixed text goes into the SQL; every value (JSON paths included) is a parameter.
        select = f"SELECT time_ns, tags, fields FROM ts_points WHERE {' AND '.join(where)}"  # noqa: S608
        sql = f"{select} ORDER BY time_ns"
        try:
            connection = self._connection()
            if q.aggregate is None and q.limit is not None and all_pushed:
                records = connection.execute(f"{sql} LIMIT ?", [*params, q.limit]).fetchall()
                if len(records) == q.limit:  # rows at the cut's time belong in before the sort by tags
                    tie_sql = f"{select} AND time_ns = ?"
                    records = [r for r in records if r[0] != records[-1][0]] + connection.execute(
                        tie_sql, [*params, records[-1][0]]
                    ).fetchall()
            else:
                records = connection.execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise TimeSeriesUnavailable(f"embedded store query failed: {err}", code="sqlite") from err
        return evaluate(q, _decode(records))

    def delete_before(self, time_ns: int, measurement: str | None = None) -> int:
        """Delete points older than ``time_ns`` (of one measurement, or all); return how many."""
        sql = "DELETE FROM ts_points WHERE time_ns < ?"
        params: list[Any] = [time_ns]
        if measurement is not None:
            sql += " AND measurement = ?"
            params.append(measurement)
        try:
            connection = self._connection()
            with connection:
                return connection.execute(sql, params).rowcount
        except sqlite3.Error as err:
            raise TimeSeriesUnavailable(f"embedded store delete failed: {err}", code="sqlite") from err

    def delete_points_of(
        self,
        measurement: str,
        *,
        tags: Mapping[str, str],
        field: str,
        values: Sequence[int],
        start_ns: int,
        end_ns: int,
    ) -> int:
        """Delete the points of ``measurement`` with these (non-empty) ``tags`` in [start_ns, end_ns) whose
        ``field`` holds one of ``values`` (a person number: an erasure); return how many."""
        if not values:
            return 0
        where = ["measurement = ?", "time_ns >= ?", "time_ns < ?"]
        params: list[Any] = [measurement, start_ns, end_ns]
        for key, value in sorted(tags.items()):
            if not _PLAIN_KEY.match(key) or not value:
                raise ValueError(f"tag {key!r}={value!r} cannot select the points to delete")
            where.append("json_extract(tags, ?) = ?")
            params += [f'$."{key}"', value]
        if not _PLAIN_KEY.match(field):
            raise ValueError(f"field {field!r} cannot select the points to delete")
        where.append(f"json_extract(fields, ?) IN ({', '.join('?' * len(values))})")
        params += [f'$."{field}"', *(int(v) for v in values)]
        # Only fixed text goes into the SQL; every value (JSON paths included) is a parameter.
        sql = f"DELETE FROM ts_points WHERE {' AND '.join(where)}"  # noqa: S608
        try:
            connection = self._connection()
            with connection:
                return connection.execute(sql, params).rowcount
        except sqlite3.Error as err:
            raise TimeSeriesUnavailable(f"embedded store delete failed: {err}", code="sqlite") from err

    def ping(self) -> None:
        try:
            self._connection().execute("SELECT 1").fetchone()
        except sqlite3.Error as err:
            raise TimeSeriesUnavailable(f"embedded store does not answer: {err}", code="sqlite") from err

    def close(self) -> None:
        self._closed = True
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"EmbeddedBackend({str(self.path)!r})"


def _decode(
    records: Sequence[tuple[int, str, str]],
) -> Iterator[tuple[int, Mapping[str, str], Mapping[str, FieldValue]]]:
    for time_ns, tags, fields in records:
        yield time_ns, json.loads(tags), json.loads(fields)
