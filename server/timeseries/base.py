"""The one interface every time-series backend implements (InfluxDB v1 HTTP, InfluxDB v2 client, embedded
SQLite)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from server.timeseries.types import Point, Row, SeriesQuery

__all__ = ["Point", "Row", "SeriesQuery", "TimeSeriesBackend"]


@runtime_checkable
class TimeSeriesBackend(Protocol):
    """A time-series store.

    ``write_batch`` raises ``TimeSeriesUnavailable`` when the store cannot take the points now (connection
    error, 5xx, 429, authentication failure: retry later) and ``TimeSeriesRejected`` when the points
    themselves are refused (4xx bad data: never retry them as they are). Writing the same point (measurement,
    tags, time) twice keeps one point whose fields are merged, so a retried batch never duplicates data.
    """

    @property
    def name(self) -> str:
        """Short backend name for health output: "influxdb-v1", "influxdb-v2" or "embedded"."""
        ...

    def write_batch(self, points: Sequence[Point]) -> None: ...

    def query(self, q: SeriesQuery) -> list[Row]: ...

    def ping(self) -> None:
        """Raise ``TimeSeriesUnavailable`` when the store does not answer."""
        ...

    def close(self) -> None: ...
