"""InfluxV1Backend's HTTP behaviour against a mock transport: status mapping, database creation, auth."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from server.timeseries.errors import TimeSeriesQueryError, TimeSeriesRejected, TimeSeriesUnavailable
from server.timeseries.influx_v1 import InfluxV1Backend
from server.timeseries.types import Point, Row, SeriesQuery

POINT = Point("m", {"site": "a b"}, {"v": 1.0}, 10)

Handler = Callable[[httpx.Request], httpx.Response]


def backend(handler: Handler, url: str = "http://influx.test:8086", **kwargs: str) -> InfluxV1Backend:
    return InfluxV1Backend(url, "retail", transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]


def test_write_posts_line_protocol_with_ns_precision() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    backend(handler).write_batch([POINT, Point("m", {}, {"v": 2}, 11)])
    assert len(seen) == 1
    request = seen[0]
    assert request.url.path == "/write"
    assert dict(request.url.params) == {"db": "retail", "precision": "ns"}
    assert request.content == b"m,site=a\\ b v=1.0 10\nm v=2i 11"
    assert "authorization" not in request.headers


def test_missing_database_is_created_then_write_retried() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/write":
            calls.append("write")
            if len(calls) == 1:
                return httpx.Response(404, json={"error": 'database not found: "retail"'})
            return httpx.Response(204)
        body = dict(httpx.QueryParams(request.content.decode()))
        calls.append(body["q"])
        return httpx.Response(200, json={"results": [{"statement_id": 0}]})

    backend(handler).write_batch([POINT])
    assert calls == ["write", 'CREATE DATABASE "retail"', "write"]


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (400, TimeSeriesRejected, "http_400"),
        (413, TimeSeriesRejected, "http_413"),
        (401, TimeSeriesUnavailable, "auth"),
        (403, TimeSeriesUnavailable, "auth"),
        (404, TimeSeriesUnavailable, "not_found"),
        (429, TimeSeriesUnavailable, "server_error"),
        (500, TimeSeriesUnavailable, "server_error"),
        (503, TimeSeriesUnavailable, "server_error"),
    ],
)
def test_write_status_mapping(status: int, error: type[Exception], code: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": "nope"})

    with pytest.raises(error) as caught:
        backend(handler).write_batch([POINT])
    assert caught.value.code == code  # type: ignore[attr-defined]
    assert "nope" in str(caught.value)


def test_connection_error_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    b = backend(handler)
    with pytest.raises(TimeSeriesUnavailable) as caught:
        b.write_batch([POINT])
    assert caught.value.code == "connection"
    with pytest.raises(TimeSeriesUnavailable):
        b.ping()
    with pytest.raises(TimeSeriesUnavailable):
        b.query(SeriesQuery("m", 0, 10))


def test_invalid_points_are_rejected_by_index_without_a_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    with pytest.raises(TimeSeriesRejected) as caught:
        backend(handler).write_batch([POINT, Point("m", {}, {"v": float("nan")}, 1), POINT])
    assert caught.value.bad_indices == (1,)
    assert caught.value.code == "invalid_point"


def test_token_header_and_basic_auth_from_url() -> None:
    headers: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers)
        return httpx.Response(204)

    backend(handler, token="s3cret").ping()
    backend(handler, url="http://us%40er:p%3Ass@influx.test:8086/prefix/").ping()
    assert headers[0]["authorization"] == "Token s3cret"
    assert headers[1]["authorization"] == "Basic dXNAZXI6cDpzcw=="  # base64("us@er:p:ss")


def test_base_path_is_kept_and_credentials_left_out_of_base_url() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(204)

    b = backend(handler, url="http://u:p@influx.test:8086/proxy/influx/")
    b.ping()
    assert paths == ["/proxy/influx/ping"]
    assert b.base_url == "http://influx.test:8086/proxy/influx"


def test_query_sends_influxql_and_parses_rows() -> None:
    forms: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        forms.append(dict(httpx.QueryParams(request.content.decode())))
        answer = {
            "results": [
                {
                    "statement_id": 0,
                    "series": [
                        {"name": "m", "tags": {"site": "a"}, "columns": ["time", "v"], "values": [[5, 1]]}
                    ],
                }
            ]
        }
        return httpx.Response(200, text=json.dumps(answer))

    rows = backend(handler).query(SeriesQuery("m", 0, 10, fields=["v"]))
    assert rows == [Row(5, {"site": "a"}, {"v": 1})]
    assert forms[0]["db"] == "retail"
    assert forms[0]["epoch"] == "ns"
    assert forms[0]["chunked"] == "true"
    assert forms[0]["q"] == 'SELECT "v" FROM "m" WHERE time >= 0 AND time < 10 GROUP BY *'


def test_query_status_mapping() -> None:
    def bad_request(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "error parsing query"})

    def server_error(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="bad gateway")

    with pytest.raises(TimeSeriesQueryError, match="error parsing query"):
        backend(bad_request).query(SeriesQuery("m", 0, 10))
    with pytest.raises(TimeSeriesUnavailable, match="502"):
        backend(server_error).query(SeriesQuery("m", 0, 10))


@pytest.mark.parametrize("url", ["influx.test:8086", "ftp://influx.test", "http://"])
def test_bad_url(url: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        InfluxV1Backend(url, "retail")
