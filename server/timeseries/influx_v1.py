"""InfluxDB over the v1 HTTP API: line protocol to /write, InfluxQL to /query.

Works with InfluxDB 1.x and with the v1-compatible endpoints of 2.x (a DBRP mapping names the bucket as a
database; authenticate with a token) and 3.x. One keep-alive connection pool per backend (httpx, thread-safe).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from server.timeseries.errors import TimeSeriesQueryError, TimeSeriesRejected, TimeSeriesUnavailable
from server.timeseries.influxql import (
    build_influxql,
    is_database_not_found,
    iter_json_documents,
    parse_query_answer,
    quote_identifier,
    quote_string,
)
from server.timeseries.lineprotocol import LineProtocolEncoder
from server.timeseries.types import FieldValue, Point, Row, SeriesQuery

logger = logging.getLogger(__name__)

QUERY_CHUNK_ROWS = 10_000
ERASE_CHUNK_NS = (
    300 * 1_000_000_000
)  # an erasure reads, deletes and writes back 5 minutes of points at a time
ERASE_WRITE_BATCH = 5_000
ERASE_WRITE_ATTEMPTS = 3


def _as_int(value: object) -> int | None:
    """A field value read back as a person number (InfluxDB's JSON has no int/float distinction)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else None


def _typed(fields: Mapping[str, FieldValue], types: Mapping[str, str]) -> dict[str, FieldValue]:
    """Fields read back, each in the type InfluxDB stores it in (a float 3.0 comes back as 3)."""
    typed: dict[str, FieldValue] = {}
    for name, value in fields.items():
        kind = types.get(name)
        if kind == "float" and not isinstance(value, bool) and isinstance(value, int | float):
            typed[name] = float(value)
        elif kind == "integer" and not isinstance(value, bool) and isinstance(value, int | float):
            typed[name] = int(value)
        else:
            typed[name] = value
    return typed


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

    # -- erasure ---------------------------------------------------------------------------------------------

    def delete_points_of(
        self,
        measurement: str,
        *,
        tags: Mapping[str, str],
        field: str,
        values: Sequence[int],
        start_ns: int,
        end_ns: int,
        chunk_ns: int = ERASE_CHUNK_NS,
    ) -> int:
        """Delete the points of ``measurement`` with these (non-empty) ``tags`` in [start_ns, end_ns) whose
        ``field`` holds one of ``values`` (a person number: an erasure); return how many.

        InfluxQL deletes by tags and time only, and a person number is a field: so, one chunk of time at a time,
        the chunk's points of these tags are read, deleted, and every point not of ``values`` is written back as
        it was (same series, time and fields, each field in its stored type). A point written into a chunk
        between its read and its delete (the live writer; a chunk in the past only gets one from a box's spool
        replay) is lost with it. A write-back that fails after its delete raises, the points not written back
        lost; a retry of the erasure finds what is left."""
        wanted = {int(v) for v in values}
        if not wanted:
            return 0
        for key, value in tags.items():
            if not value:
                raise ValueError(f"tag {key!r} must have a value to select the points to delete")
        types: dict[str, str] | None = None
        deleted = 0
        for chunk_start in range(start_ns, end_ns, chunk_ns):
            chunk_end = min(chunk_start + chunk_ns, end_ns)
            rows = self.query(SeriesQuery(measurement, chunk_start, chunk_end, tags=dict(tags)))
            hits = sum(1 for row in rows if _as_int(row.fields.get(field)) in wanted)
            if not hits:
                continue
            if types is None:
                types = self._field_types(measurement)
            kept = [
                Point(measurement, row.tags, _typed(row.fields, types), row.time_ns)
                for row in rows
                if _as_int(row.fields.get(field)) not in wanted
            ]
            conditions = [f"time >= {chunk_start}", f"time < {chunk_end}"]
            conditions += [f"{quote_identifier(k)} = {quote_string(v)}" for k, v in sorted(tags.items())]
            # Identifiers and string literals are quoted and escaped; numbers are ints.
            statement = f"DELETE FROM {quote_identifier(measurement)} WHERE {' AND '.join(conditions)}"  # noqa: S608
            answer = self.raw_query(statement)
            if '"error"' in answer:
                raise TimeSeriesQueryError(f"InfluxDB refused the delete: {answer[:300]}", code="refused")
            for index in range(0, len(kept), ERASE_WRITE_BATCH):
                self._write_back(kept[index : index + ERASE_WRITE_BATCH])
            deleted += hits
            logger.info(
                "InfluxDB %s: %d point(s) of %s %s erased in [%d, %d), %d written back",
                self.database,
                hits,
                measurement,
                field,
                chunk_start,
                chunk_end,
                len(kept),
            )
        return deleted

    def _write_back(self, points: Sequence[Point]) -> None:
        for attempt in range(ERASE_WRITE_ATTEMPTS):
            try:
                self.write_batch(points)
                return
            except TimeSeriesUnavailable:
                if attempt == ERASE_WRITE_ATTEMPTS - 1:
                    raise
                time.sleep(0.2 * 2**attempt)

    def _field_types(self, measurement: str) -> dict[str, str]:
        """Field name -> InfluxDB's type ("float", "integer", "string", "boolean") of `measurement`."""
        answer = self.raw_query(f"SHOW FIELD KEYS FROM {quote_identifier(measurement)}")
        types: dict[str, str] = {}
        for document in iter_json_documents(answer):
            for result in document.get("results", []) if isinstance(document, dict) else []:
                for series in result.get("series", []):
                    for name, kind in series.get("values", []):
                        types[str(name)] = str(kind)
        return types

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
