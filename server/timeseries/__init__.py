"""Time-series storage: one interface (``TimeSeriesBackend``), three backends (InfluxDB v1 HTTP, InfluxDB v2
client, embedded SQLite) and a batching, retrying, never-blocking writer. Django-free except ``factory``'s
``*_from_settings`` functions."""

from server.timeseries.base import TimeSeriesBackend
from server.timeseries.errors import (
    TimeSeriesConfigError,
    TimeSeriesError,
    TimeSeriesQueryError,
    TimeSeriesRejected,
    TimeSeriesUnavailable,
)
from server.timeseries.health import health
from server.timeseries.types import Aggregate, FieldValue, Point, Row, SeriesQuery, WriterStats
from server.timeseries.writer import BatchingWriter

__all__ = [
    "Aggregate",
    "BatchingWriter",
    "FieldValue",
    "Point",
    "Row",
    "SeriesQuery",
    "TimeSeriesBackend",
    "TimeSeriesConfigError",
    "TimeSeriesError",
    "TimeSeriesQueryError",
    "TimeSeriesRejected",
    "TimeSeriesUnavailable",
    "WriterStats",
    "health",
]
