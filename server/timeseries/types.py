"""Plain value types of the time-series layer: points written, queries asked, rows answered, writer
statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args

from server.timeseries.errors import TimeSeriesQueryError

FieldValue = float | int | bool | str

Aggregate = Literal["mean", "sum", "max", "count", "last"]
AGGREGATES: tuple[str, ...] = get_args(Aggregate)


@dataclass(frozen=True, slots=True)
class Point:
    """One point: a measurement, its tags (indexed, low cardinality), its fields (values) and a time in ns.

    Tags with an empty value are the same as an absent tag (InfluxDB cannot store an empty tag value).
    A field keeps one type for the life of a measurement (InfluxDB rejects a float written to an int field).
    """

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int


class PointSink(Protocol):
    """Where the producers of points write them (the batching writer)."""

    def write(self, points: Sequence[Point]) -> None: ...


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    """A read of one measurement over the half-open interval [start_ns, end_ns).

    - ``tags``: equality filters; a value of ``""`` matches points that do not carry that tag.
    - ``fields``: the fields to return (``None`` = every field).
    - ``aggregate`` without ``group_by_time_s``: one aggregated row per tag group for the whole interval,
      stamped ``start_ns``; with ``group_by_time_s``: one row per non-empty window, stamped with the window
      start (windows are aligned to the Unix epoch, as InfluxDB aligns them, shifted by ``window_offset_s``:
      a store's local hours in a zone of half or three-quarter hours start 30 or 45 minutes past the UTC hour).
    - ``group_by_tags``: the tags that split aggregated rows (only these tags appear in aggregated rows).
    - Raw rows (no aggregate) carry every tag of their point; ``limit`` caps the number of raw rows.
    - Rows come back ordered by time, then by tags.
    """

    measurement: str
    start_ns: int
    end_ns: int
    tags: Mapping[str, str] = field(default_factory=dict)
    fields: Sequence[str] | None = None
    group_by_time_s: float | None = None
    window_offset_s: float = 0.0
    aggregate: Aggregate | None = None
    group_by_tags: Sequence[str] = ()
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.end_ns <= self.start_ns:
            raise TimeSeriesQueryError("end_ns must be after start_ns", code="bad_time_range")
        if self.group_by_time_s is not None:
            if self.aggregate is None:
                raise TimeSeriesQueryError("group_by_time_s needs an aggregate", code="missing_aggregate")
            if not self.group_by_time_s > 0 or self.group_by_time_s * 1e9 < 1:
                raise TimeSeriesQueryError("group_by_time_s must be at least 1 ns", code="bad_interval")
        if self.window_offset_s:
            if self.group_by_time_s is None:
                raise TimeSeriesQueryError("window_offset_s needs group_by_time_s", code="bad_interval")
            if not 0 <= self.window_offset_s < self.group_by_time_s:
                raise TimeSeriesQueryError(
                    "window_offset_s must be at least 0 and less than group_by_time_s", code="bad_interval"
                )
        if self.aggregate is not None and self.aggregate not in AGGREGATES:
            raise TimeSeriesQueryError(f"unknown aggregate {self.aggregate!r}", code="bad_aggregate")
        if self.group_by_tags and self.aggregate is None:
            raise TimeSeriesQueryError("group_by_tags needs an aggregate", code="missing_aggregate")
        if self.fields is not None and len(self.fields) == 0:
            raise TimeSeriesQueryError("fields must be None (all) or non-empty", code="no_fields")
        if self.limit is not None and self.limit <= 0:
            raise TimeSeriesQueryError("limit must be positive", code="bad_limit")

    @property
    def interval_ns(self) -> int | None:
        if self.group_by_time_s is None:
            return None
        return round(self.group_by_time_s * 1_000_000_000)

    @property
    def offset_ns(self) -> int:
        return round(self.window_offset_s * 1_000_000_000)


@dataclass(frozen=True, slots=True)
class Row:
    """One answered row: a time, the tags that identify it, and the field values (absent fields are left out).

    InfluxDB's JSON carries no float/int distinction for whole numbers: compare numeric values with ``==``.
    """

    time_ns: int
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]

    def sort_key(self) -> tuple[int, tuple[tuple[str, str], ...]]:
        return (self.time_ns, tuple(sorted(self.tags.items())))


@dataclass(slots=True)
class WriterStats:
    """Counters of a BatchingWriter (a snapshot: the writer returns a fresh copy each time)."""

    buffered_points: int = 0
    written_points: int = 0
    dropped_points: int = 0
    failed_batches: int = 0
    last_error: str = ""
    backend_healthy: bool = True
