"""InfluxDB over the v1 HTTP API: line protocol to /write, InfluxQL to /query.

Works with InfluxDB 1.x and with the v1-compatible endpoints of 2.x (a DBRP mapping names the bucket as a
database; authenticate with a token) and 3.x. One keep-alive connection pool per backend (httpx, thread-safe).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from server.timeseries.errors import TimeSeriesQueryError, TimeSeriesRejected, TimeSeriesUnavailable
from server.timeseries.influxql import (
    build_influxql,
    is_database_not_found,
    parse_query_answer,
    quote_identifier,
)
from server.timeseries.lineprotocol import LineProtocolEncoder
from server.timeseries.types import Point, Row, SeriesQuery

logger = logging.getLogger(__name__)

QUERY_CHUNK_ROWS = 10_000


def _error_text(response: httpx.Response) -> str:
    try:
        payload: Any = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(payload, dict) and "error" in payload:
        return str(payload["error"])[:500]
    return response.text.strip()[:500]


class InfluxV1Backend:
    """Time-series backend speaking InfluxDB's v1 HTTP API."""

    name = "influxdb-v1"

    def __init__(
        self,
        url: str,
        database: str,
        *,
        token: str = "",
        retention_policy: str = "",
        timeout_s: float = 10.0,
        connect_timeout_s: float = 2.0,
        create_database: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``url`` may carry ``user:password@`` (InfluxDB 1.x basic auth); a ``token`` is sent as
        ``Authorization: Token <token>`` (2.x/3.x compatibility endpoints) and wins over the URL's user."""
        if not database:
            raise ValueError("database must not be empty")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"InfluxDB URL {url!r} is not an http(s) URL")
        netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        if ":" in parts.hostname:  # IPv6 literal
            netloc = f"[{parts.hostname}]" + ("" if parts.port is None else f":{parts.port}")
        self.base_url = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self.database = database
        self.retention_policy = retention_policy
        self._create_database = create_database
        self._database_created = False
        headers = {"User-Agent": "retail-vision-timeseries"}
        auth: httpx.BasicAuth | None = None
        if token:
            headers["Authorization"] = f"Token {token}"
        elif parts.username:
            auth = httpx.BasicAuth(unquote(parts.username), unquote(parts.password or ""))
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=4),
            transport=transport,
        )
        self._encoder = LineProtocolEncoder()

    # -- writes ----------------------------------------------------------------------------------------------

    def write_batch(self, points: Sequence[Point]) -> None:
        encoded = self._encoder.encode(points)
        if encoded.bad:
            index, reason = encoded.bad[0]
            raise TimeSeriesRejected(
                f"{len(encoded.bad)} invalid point(s), first at {index}: {reason}",
                code="invalid_point",
                bad_indices=tuple(i for i, _ in encoded.bad),
            )
        if encoded.line_count:
            self.write_lines(encoded.body)

    def write_lines(self, body: bytes) -> None:
        """POST a line-protocol body (nanosecond precision) as is."""
        response = self._post_write(body)
        if (
            response.status_code == 404
            and self._create_database
            and is_database_not_found(_error_text(response))
        ):
            self.ensure_database()
            response = self._post_write(body)
        self._raise_for_write(response)

    def _post_write(self, body: bytes) -> httpx.Response:
        params = {"db": self.database, "precision": "ns"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        try:
            return self._client.post(
                "/write", params=params, content=body, headers={"Content-Type": "text/plain; charset=utf-8"}
            )
        except httpx.HTTPError as err:
            raise TimeSeriesUnavailable(f"InfluxDB write failed: {err!r}", code="connection") from err

    @staticmethod
    def _raise_for_write(response: httpx.Response) -> None:
        status = response.status_code
        if status in (200, 204):
            return
        text = _error_text(response)
        if status in (401, 403):
            raise TimeSeriesUnavailable(f"InfluxDB refused the credentials ({status}): {text}", code="auth")
        if status == 404:
            raise TimeSeriesUnavailable(f"InfluxDB write endpoint not found (404): {text}", code="not_found")
        if status == 429 or status >= 500:
            raise TimeSeriesUnavailable(f"InfluxDB is unavailable ({status}): {text}", code="server_error")
        raise TimeSeriesRejected(f"InfluxDB rejected the points ({status}): {text}", code=f"http_{status}")

    def ensure_database(self) -> None:
        """``CREATE DATABASE`` (idempotent on 1.x; 2.x/3.x refuse it, which is logged and ignored: there the
        bucket and its DBRP mapping must exist already)."""
        try:
            response = self._client.post(
                "/query", data={"q": f"CREATE DATABASE {quote_identifier(self.database)}"}
            )
        except httpx.HTTPError as err:
            raise TimeSeriesUnavailable(
                f"InfluxDB CREATE DATABASE failed: {err!r}", code="connection"
            ) from err
        if response.status_code != 200 or '"error"' in response.text:
            logger.warning(
                "InfluxDB did not create database %s (%s): %s",
                self.database,
                response.status_code,
                _error_text(response),
            )
            return
        if not self._database_created:
            logger.info("InfluxDB database %s ready at %s", self.database, self.base_url)
        self._database_created = True

    # -- reads -----------------------------------------------------------------------------------------------

    def query(self, q: SeriesQuery) -> list[Row]:
        return parse_query_answer(self.raw_query(build_influxql(q)), q)

    def raw_query(self, text: str) -> str:
        """Run InfluxQL; return the answer's text (JSON, chunked, ns epoch)."""
        data = {
            "q": text,
            "db": self.database,
            "epoch": "ns",
            "chunked": "true",
            "chunk_size": str(QUERY_CHUNK_ROWS),
        }
        if self.retention_policy:
            data["rp"] = self.retention_policy
        try:
            response = self._client.post("/query", data=data)
        except httpx.HTTPError as err:
            raise TimeSeriesUnavailable(f"InfluxDB query failed: {err!r}", code="connection") from err
        if response.status_code in (401, 403):
            raise TimeSeriesUnavailable(
                f"InfluxDB refused the credentials: {_error_text(response)}", code="auth"
            )
        if response.status_code == 429 or response.status_code >= 500:
            raise TimeSeriesUnavailable(
                f"InfluxDB is unavailable ({response.status_code}): {_error_text(response)}",
                code="server_error",
            )
        if response.status_code != 200:
            raise TimeSeriesQueryError(
                f"InfluxDB refused the query ({response.status_code}): {_error_text(response)}",
                code="refused",
            )
        return response.text

    # -- lifecycle -------------------------------------------------------------------------------------------

    def ping(self) -> None:
        try:
            response = self._client.get("/ping")
        except httpx.HTTPError as err:
            raise TimeSeriesUnavailable(f"InfluxDB does not answer at {self.base_url}: {err!r}") from err
        if response.status_code not in (200, 204):
            raise TimeSeriesUnavailable(f"InfluxDB ping answered {response.status_code}", code="server_error")

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"InfluxV1Backend({self.base_url!r}, database={self.database!r})"
