"""The site's local hours and days in SQL (PostgreSQL; SQLite, the embedded default, through a Python function):
group a timestamp column by the bucket holding it.

What the buckets are: server.inventory.localtime (its docstring; `bucket_start` is the same in Python).
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from typing import Any

from django.db.models import DateTimeField, Func, Value
from django.db.models.expressions import Combinable

from server.inventory.localtime import (
    DAY,
    HOUR,
    bucket_start,
    hour_fraction,
    local_instant,
    offset_spans,
    zone_named,
)


class _LocalWallDay(DateTimeField):  # type: ignore[type-arg]
    """The local midnight a day bucket is grouped by (a wall-clock timestamp, without zone) read back as the
    instant it is in the zone: one conversion per bucket read, where converting in SQL cost one per row."""

    def __init__(self, zone: zoneinfo.ZoneInfo) -> None:
        super().__init__()
        self.zone = zone

    def from_db_value(self, value: datetime | None, expression: Any, connection: Any) -> datetime | None:
        return None if value is None else local_instant(value, self.zone)


class LocalBucket(Func):
    """The start of the site's local hour or day holding a timestamp column, read as an instant (aware, UTC), on
    PostgreSQL: a day starts at local midnight; an hour at the timestamp less the minutes and seconds that the
    local clock shows past the hour (elapsed time: the hour the clocks go back is repeated, each its own bucket;
    a zone of half or three-quarter hours has its hours at :30 or :15 past the UTC hour). Group by it, and show
    the starts with `local_iso`.

    Cheap per row, as the 30-day KPI queries need (docs/kpis.md, ≤ 300 ms): hours are `date_bin` on the epoch
    shifted by the zone's part of an hour (pure arithmetic: the same in every zone but Lord Howe's, whose clocks
    change by half an hour, where the local clock is read per row); days are grouped by the local date (one zone
    conversion per row; with `within`, the range the rows are in, by the offsets of that range, cheaper still)
    and each group's midnight turned into its instant on reading (`_LocalWallDay`)."""

    def __init__(
        self,
        expression: str | Combinable,
        bucket: str,
        zone: zoneinfo.ZoneInfo,
        within: tuple[datetime, datetime] | None = None,
    ) -> None:
        if bucket not in (HOUR, DAY):
            raise ValueError(f"bucket must be {HOUR!r} or {DAY!r}, got {bucket!r}")
        self.bucket = bucket
        self.zone = zone
        self.within = within
        field = _LocalWallDay(zone) if bucket == DAY else DateTimeField()
        super().__init__(expression, Value(zone.key), output_field=field)

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]
        column, zone = self.source_expressions
        column_sql, column_params = compiler.compile(column)
        zone_sql, zone_params = compiler.compile(zone)
        local, local_params = f"({column_sql} AT TIME ZONE {zone_sql})", [*column_params, *zone_params]
        if self.bucket == DAY:
            if self.within is None:
                return f"DATE_TRUNC('day', {local})", local_params
            # The local clock read as UTC plus the offset of the span the row is in (the offsets of the range,
            # `offset_spans`: a few at most), which PostgreSQL computes faster than a named zone's rules; rows
            # outside the range, if any, read the zone's rules.
            cases, params = [], []
            for low, high, offset in offset_spans(self.zone, *self.within):
                cases.append(
                    f"WHEN {column_sql} >= %s AND {column_sql} < %s THEN ({column_sql} AT TIME ZONE 'UTC') + %s"
                )
                params += [*column_params, low, *column_params, high, *column_params, offset]
            return (
                f"DATE_TRUNC('day', CASE {' '.join(cases)} ELSE {local} END)",
                [*params, *local_params],
            )
        fraction = hour_fraction(self.zone)
        if fraction is not None:
            return f"DATE_BIN('1 hour', {column_sql}, %s)", [*column_params, _EPOCH - fraction]
        return (
            f"({column_sql} - ({local} - DATE_TRUNC('hour', {local})))",
            [*column_params, *local_params, *local_params],
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        """The embedded default's database: a Python function of the connection's (`sqlite_local_bucket`), one
        call per row; SQLite holds a site's months of rows, not a chain's."""
        _register_on_sqlite(connection)
        column, _ = self.source_expressions
        column_sql, column_params = compiler.compile(column)
        return f"retail_local_bucket({column_sql}, %s, %s)", [*column_params, self.bucket, self.zone.key]


def sqlite_local_bucket(value: str | None, bucket: str, zone_name: str) -> str | None:
    """`LocalBucket` on SQLite, which stores an instant as its UTC time in text ("2026-03-08 06:30:00.000000"):
    an hour's start as such a text, a day's local midnight as its wall-clock time (what PostgreSQL's
    `DATE_TRUNC('day', … AT TIME ZONE …)` gives, which `_LocalWallDay` reads back as an instant)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    zone = zone_named(zone_name)
    if bucket == DAY:
        return moment.astimezone(zone).strftime("%Y-%m-%d 00:00:00")
    return bucket_start(moment, HOUR, zone).strftime("%Y-%m-%d %H:%M:%S.%f")


def _register_on_sqlite(connection: Any) -> None:
    """Give the Django connection's SQLite connection `retail_local_bucket` (once per connection it opens)."""
    connection.ensure_connection()
    raw = connection.connection
    if getattr(connection, "_retail_local_bucket_on", None) is not raw:
        raw.create_function("retail_local_bucket", 3, sqlite_local_bucket, deterministic=True)
        connection._retail_local_bucket_on = raw


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
