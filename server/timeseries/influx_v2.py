"""InfluxDB 2.x through influxdb-client: line protocol (our encoder) by the synchronous write API, Flux reads.

Batching and retries are the BatchingWriter's, so the client writes synchronously and does not retry by
itself. Rows are pivoted from Flux's one-record-per-field stream in Python, so tags and fields never mix;
exact nanosecond times come from an ``int(v: r._time)`` column (the client parses ``_time`` into microsecond
datetimes).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from server.timeseries.errors import TimeSeriesQueryError, TimeSeriesRejected, TimeSeriesUnavailable
from server.timeseries.lineprotocol import LineProtocolEncoder
from server.timeseries.types import FieldValue, Row, SeriesQuery
from server.timeseries.types import Point as TimeSeriesPoint

logger = logging.getLogger(__name__)

TIME_NS_COLUMN = "_time_ns"
_SYSTEM_COLUMNS = frozenset({"result", "table"})
_FLUX_STRING_ESCAPES = str.maketrans(
    {"\\": "\\\\", '"': '\\"', "$": "\\$", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
)


def flux_string(value: str) -> str:
    return '"' + value.translate(_FLUX_STRING_ESCAPES) + '"'


def flux_time(time_ns: int) -> str:
    """RFC 3339 time literal with nanoseconds (Flux accepts it as a bare literal)."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def build_flux(q: SeriesQuery, bucket: str) -> str:
    """Flux for ``q``: filters, then the raw records or an epoch-aligned ``aggregateWindow`` per group."""
    lines = [
        f"from(bucket: {flux_string(bucket)})",
        f"  |> range(start: {flux_time(q.start_ns)}, stop: {flux_time(q.end_ns)})",
        f"  |> filter(fn: (r) => r._measurement == {flux_string(q.measurement)})",
    ]
    for key, value in sorted(q.tags.items()):
        if value:
            lines.append(f"  |> filter(fn: (r) => r[{flux_string(key)}] == {flux_string(value)})")
        else:
            lines.append(f"  |> filter(fn: (r) => not exists r[{flux_string(key)}])")
    if q.fields is not None:
        wanted = " or ".join(f"r._field == {flux_string(name)}" for name in q.fields)
        lines.append(f"  |> filter(fn: (r) => {wanted})")
    has_time = True
    if q.aggregate is not None:
        columns = ", ".join(flux_string(c) for c in ["_measurement", "_field", *q.group_by_tags])
        lines.append(f"  |> group(columns: [{columns}])")
        if q.interval_ns is not None:
            offset = f" offset: {q.offset_ns}ns," if q.offset_ns else ""
            lines.append(
                f"  |> aggregateWindow(every: {q.interval_ns}ns,{offset} fn: {q.aggregate}, createEmpty: false,"
                ' timeSrc: "_start")'
            )
        else:
            lines.append(f"  |> {q.aggregate}()")
            has_time = False
    elif q.limit is not None:
        lines.append(f"  |> limit(n: {q.limit})")  # per table; the merged rows are cut again after parsing
    if has_time:
        lines.append(f"  |> map(fn: (r) => ({{r with {TIME_NS_COLUMN}: int(v: r._time)}}))")
    return "\n".join(lines)


def rows_from_records(records: Iterable[dict[str, Any]], q: SeriesQuery) -> list[Row]:
    """Pivot Flux records (one per field value) into rows keyed by time and tags."""
    pivot: dict[tuple[int, tuple[tuple[str, str], ...]], dict[str, FieldValue]] = {}
    for values in records:
        field_name = values.get("_field")
        field_value = values.get("_value")
        if field_name is None or field_value is None:
            continue
        if q.aggregate is not None:
            tags = tuple(
                (tag, str(values[tag])) for tag in q.group_by_tags if values.get(tag) not in (None, "")
            )
        else:
            tags = tuple(
                sorted(
                    (str(key), str(value))
                    for key, value in values.items()
                    if not str(key).startswith("_") and key not in _SYSTEM_COLUMNS and value not in (None, "")
                )
            )
        if q.aggregate is not None and q.interval_ns is None:
            time_ns = q.start_ns
        else:
            raw_time = values.get(TIME_NS_COLUMN)
            if raw_time is None:
                raise TimeSeriesQueryError("Flux answer has no time column", code="bad_answer")
            time_ns = int(raw_time)
        pivot.setdefault((time_ns, tags), {})[str(field_name)] = field_value
    rows = [Row(time_ns=time_ns, tags=dict(tags), fields=fields) for (time_ns, tags), fields in pivot.items()]
    rows.sort(key=Row.sort_key)
    if q.limit is not None and q.aggregate is None:
        del rows[q.limit :]
    return rows


class InfluxV2Backend:
    """Time-series backend on InfluxDB 2.x (token, organisation, bucket) through influxdb-client."""

    name = "influxdb-v2"

    def __init__(
        self,
        url: str,
        *,
        token: str,
        org: str,
        bucket: str,
        timeout_s: float = 10.0,
        client: Any = None,
    ) -> None:
        """``client``: an ``InfluxDBClient``-like object (tests pass a fake); built from the other arguments
        when omitted."""
        if not bucket:
            raise ValueError("bucket must not be empty")
        self.url = url
        self.org = org
        self.bucket = bucket
        if client is None:
            from influxdb_client.client.influxdb_client import InfluxDBClient  # the server extra provides it

            client = InfluxDBClient(
                url=url, token=token, org=org, timeout=int(timeout_s * 1000), retries=False
            )
        from influxdb_client.client.write_api import SYNCHRONOUS

        self._client = client
        self._write_api = client.write_api(write_options=SYNCHRONOUS)
        self._query_api = client.query_api()
        self._encoder = LineProtocolEncoder()

    def write_batch(self, points: Sequence[TimeSeriesPoint]) -> None:
        encoded = self._encoder.encode(points)
        if encoded.bad:
            index, reason = encoded.bad[0]
            raise TimeSeriesRejected(
                f"{len(encoded.bad)} invalid point(s), first at {index}: {reason}",
                code="invalid_point",
                bad_indices=tuple(i for i, _ in encoded.bad),
            )
        if not encoded.line_count:
            return
        try:
            self._write_api.write(bucket=self.bucket, org=self.org, record=encoded.body, write_precision="ns")
        except Exception as err:
            raise _classify(err, "write") from err

    def query(self, q: SeriesQuery) -> list[Row]:
        text = build_flux(q, self.bucket)
        try:
            tables = self._query_api.query(query=text, org=self.org)
        except Exception as err:
            classified = _classify(err, "query")
            if isinstance(classified, TimeSeriesRejected):
                raise TimeSeriesQueryError(classified.message, code="refused") from err
            raise classified from err
        return rows_from_records((record.values for table in tables for record in table.records), q)

    def ping(self) -> None:
        try:
            healthy = bool(self._client.ping())
        except Exception as err:
            raise _classify(err, "ping") from err
        if not healthy:
            raise TimeSeriesUnavailable(f"InfluxDB at {self.url} does not answer its ping")

    def close(self) -> None:
        try:
            self._write_api.close()
        finally:
            self._client.close()

    def __repr__(self) -> str:
        return f"InfluxV2Backend({self.url!r}, org={self.org!r}, bucket={self.bucket!r})"


def _classify(err: Exception, action: str) -> TimeSeriesUnavailable | TimeSeriesRejected:
    """Map an influxdb-client / urllib3 error to ours: 4xx data errors are rejections, the rest are
    unavailability."""
    status = getattr(err, "status", None)
    if isinstance(status, int) and status > 0:
        detail = str(getattr(err, "body", "") or getattr(err, "reason", "") or err)[:500]
        if status in (401, 403):
            return TimeSeriesUnavailable(
                f"InfluxDB {action} refused the token ({status}): {detail}", code="auth"
            )
        if status == 404:
            return TimeSeriesUnavailable(
                f"InfluxDB {action}: bucket or org not found: {detail}", code="not_found"
            )
        if status == 429 or status >= 500:
            return TimeSeriesUnavailable(
                f"InfluxDB {action} unavailable ({status}): {detail}", code="server_error"
            )
        return TimeSeriesRejected(f"InfluxDB {action} rejected ({status}): {detail}", code=f"http_{status}")
    return TimeSeriesUnavailable(f"InfluxDB {action} failed: {err!r}", code="connection")
