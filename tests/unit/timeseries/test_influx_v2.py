"""InfluxV2Backend (influxdb-client, Flux) with a fake client: no InfluxDB 2.x server can run here, so the
Flux text, the record pivot and the error mapping are checked without one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from server.timeseries.errors import TimeSeriesQueryError, TimeSeriesRejected, TimeSeriesUnavailable
from server.timeseries.influx_v2 import InfluxV2Backend, build_flux, flux_string, flux_time, rows_from_records
from server.timeseries.types import Point, Row, SeriesQuery

S = 1_700_000_000_000_000_001
E = S + 3_600_000_000_000


class ApiError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


@dataclass
class FakeRecord:
    values: dict[str, Any]


@dataclass
class FakeTable:
    records: list[FakeRecord]


@dataclass
class FakeClient:
    writes: list[dict[str, Any]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    tables: list[FakeTable] = field(default_factory=list)
    error: Exception | None = None
    closed: bool = False

    def write_api(self, write_options: Any = None) -> FakeClient:
        return self

    def query_api(self) -> FakeClient:
        return self

    def write(self, **kwargs: Any) -> None:
        if self.error:
            raise self.error
        self.writes.append(kwargs)

    def query(self, query: str, org: str | None = None) -> list[FakeTable]:
        if self.error:
            raise self.error
        self.queries.append(query)
        return self.tables

    def ping(self) -> bool:
        if self.error:
            raise self.error
        return True

    def close(self) -> None:
        self.closed = True


def make(client: FakeClient) -> InfluxV2Backend:
    return InfluxV2Backend("http://influx2.test:8086", token="t", org="shop", bucket="retail", client=client)


def test_flux_literals() -> None:
    assert flux_time(0) == "1970-01-01T00:00:00.000000000Z"
    assert flux_time(S) == "2023-11-14T22:13:20.000000001Z"
    assert flux_time(-1) == "1969-12-31T23:59:59.999999999Z"
    assert flux_string('a"b\\c${x}') == '"a\\"b\\\\c\\${x}"'


def test_raw_flux() -> None:
    q = SeriesQuery("positions", S, E, tags={"site": "a b", "zone": ""}, fields=["x_m", "y_m"], limit=10)
    assert build_flux(q, "retail").splitlines() == [
        'from(bucket: "retail")',
        "  |> range(start: 2023-11-14T22:13:20.000000001Z, stop: 2023-11-14T23:13:20.000000001Z)",
        '  |> filter(fn: (r) => r._measurement == "positions")',
        '  |> filter(fn: (r) => r["site"] == "a b")',
        '  |> filter(fn: (r) => not exists r["zone"])',
        '  |> filter(fn: (r) => r._field == "x_m" or r._field == "y_m")',
        "  |> limit(n: 10)",
        "  |> map(fn: (r) => ({r with _time_ns: int(v: r._time)}))",
    ]


def test_windowed_and_whole_range_aggregate_flux() -> None:
    windowed = build_flux(
        SeriesQuery("occupancy", S, E, group_by_time_s=60, aggregate="max", group_by_tags=["zone"]), "b"
    )
    assert '  |> group(columns: ["_measurement", "_field", "zone"])' in windowed
    assert (
        '  |> aggregateWindow(every: 60000000000ns, fn: max, createEmpty: false, timeSrc: "_start")'
        in windowed
    )
    assert windowed.endswith("({r with _time_ns: int(v: r._time)}))")
    shifted = build_flux(
        SeriesQuery("occupancy", S, E, group_by_time_s=3600, window_offset_s=1800, aggregate="mean"), "b"
    )
    assert (
        "  |> aggregateWindow(every: 3600000000000ns, offset: 1800000000000ns, fn: mean, createEmpty: false,"
        ' timeSrc: "_start")' in shifted
    )
    whole = build_flux(SeriesQuery("occupancy", S, E, aggregate="sum"), "b")
    assert whole.endswith('  |> group(columns: ["_measurement", "_field"])\n  |> sum()')


def test_records_pivot_into_rows() -> None:
    records = [
        {"result": "_result", "table": 0, "_start": 1, "_stop": 2, "_time": "t", "_time_ns": S + 1,
         "_measurement": "m", "_field": "x_m", "_value": 1.5, "site": "a"},
        {"result": "_result", "table": 1, "_start": 1, "_stop": 2, "_time": "t", "_time_ns": S + 1,
         "_measurement": "m", "_field": "y_m", "_value": 2.5, "site": "a"},
        {"result": "_result", "table": 2, "_time_ns": S, "_measurement": "m", "_field": "x_m", "_value": 0.5,
         "site": "b", "zone": None},
        {"result": "_result", "table": 2, "_time_ns": S, "_measurement": "m", "_field": "y_m", "_value": None,
         "site": "b"},
    ]  # fmt: skip
    rows = rows_from_records(records, SeriesQuery("m", S, E))
    assert rows == [Row(S, {"site": "b"}, {"x_m": 0.5}), Row(S + 1, {"site": "a"}, {"x_m": 1.5, "y_m": 2.5})]
    assert rows_from_records(records, SeriesQuery("m", S, E, limit=1)) == rows[:1]


def test_aggregate_records_keep_only_group_tags_and_whole_range_is_stamped_start() -> None:
    records = [
        {"_field": "people", "_value": 3, "site": "a", "zone": "z1", "_time_ns": S},
        {"_field": "people", "_value": 4, "site": "a", "zone": "z2", "_time_ns": S},
    ]
    q = SeriesQuery("m", S, E, aggregate="last", group_by_tags=["zone"])
    assert rows_from_records(records, q) == [
        Row(S, {"zone": "z1"}, {"people": 3}),
        Row(S, {"zone": "z2"}, {"people": 4}),
    ]
    with pytest.raises(TimeSeriesQueryError):
        rows_from_records([{"_field": "v", "_value": 1}], SeriesQuery("m", S, E))


def test_write_sends_our_line_protocol_to_the_bucket() -> None:
    client = FakeClient()
    make(client).write_batch([Point("m", {"site": "a b"}, {"v": 1}, 5)])
    assert client.writes == [
        {"bucket": "retail", "org": "shop", "record": b"m,site=a\\ b v=1i 5", "write_precision": "ns"}
    ]


def test_invalid_point_rejected_by_index_before_writing() -> None:
    client = FakeClient()
    with pytest.raises(TimeSeriesRejected) as caught:
        make(client).write_batch([Point("m", {}, {"v": float("inf")}, 5)])
    assert caught.value.bad_indices == (0,)
    assert client.writes == []


@pytest.mark.parametrize(
    ("error", "expected", "code"),
    [
        (ApiError(400, "unable to parse"), TimeSeriesRejected, "http_400"),
        (ApiError(422, "field type conflict"), TimeSeriesRejected, "http_422"),
        (ApiError(401, "unauthorized"), TimeSeriesUnavailable, "auth"),
        (ApiError(404, "bucket not found"), TimeSeriesUnavailable, "not_found"),
        (ApiError(503, "unavailable"), TimeSeriesUnavailable, "server_error"),
        (ConnectionRefusedError("refused"), TimeSeriesUnavailable, "connection"),
    ],
)
def test_write_error_mapping(error: Exception, expected: type[Exception], code: str) -> None:
    with pytest.raises(expected) as caught:
        make(FakeClient(error=error)).write_batch([Point("m", {}, {"v": 1}, 5)])
    assert caught.value.code == code  # type: ignore[attr-defined]


def test_query_runs_flux_and_maps_errors() -> None:
    client = FakeClient(tables=[FakeTable([FakeRecord({"_field": "v", "_value": 2, "_time_ns": S})])])
    backend = make(client)
    assert backend.query(SeriesQuery("m", S, E)) == [Row(S, {}, {"v": 2})]
    assert client.queries[0].startswith('from(bucket: "retail")')
    with pytest.raises(TimeSeriesQueryError):
        make(FakeClient(error=ApiError(400, "compilation failed"))).query(SeriesQuery("m", S, E))
    with pytest.raises(TimeSeriesUnavailable):
        make(FakeClient(error=ApiError(500, "boom"))).query(SeriesQuery("m", S, E))


def test_ping_and_close() -> None:
    client = FakeClient()
    backend = make(client)
    backend.ping()
    backend.close()
    assert client.closed
    with pytest.raises(TimeSeriesUnavailable):
        make(FakeClient(error=OSError("down"))).ping()
