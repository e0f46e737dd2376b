"""The site's local hours and days in SQL (PostgreSQL): group a timestamp column by the bucket holding it.

What the buckets are: server.inventory.localtime (its docstring; `bucket_start` is the same in Python).
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.db.models import DateTimeField, Func, Value
from django.db.models.expressions import Combinable

from server.inventory.localtime import DAY, HOUR


class LocalBucket(Func):
    """The start (an instant, timestamptz) of the site's local hour or day holding a timestamp column, on
    PostgreSQL: a day starts at local midnight; an hour at the timestamp less the minutes and seconds that the
    local clock shows past the hour (elapsed time: the hour the clocks go back is repeated, each its own bucket;
    a zone of half or three-quarter hours has its hours at :30 or :15 past the UTC hour). Group by it, and show
    the starts with `local_iso`."""

    output_field = DateTimeField()

    def __init__(self, expression: str | Combinable, bucket: str, zone: zoneinfo.ZoneInfo) -> None:
        if bucket not in (HOUR, DAY):
            raise ValueError(f"bucket must be {HOUR!r} or {DAY!r}, got {bucket!r}")
        self.bucket = bucket
        super().__init__(expression, Value(zone.key))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]
        column, zone = self.source_expressions
        column_sql, column_params = compiler.compile(column)
        zone_sql, zone_params = compiler.compile(zone)
        local, local_params = f"({column_sql} AT TIME ZONE {zone_sql})", [*column_params, *zone_params]
        if self.bucket == DAY:
            return f"(DATE_TRUNC('day', {local}) AT TIME ZONE {zone_sql})", [*local_params, *zone_params]
        return (
            f"({column_sql} - ({local} - DATE_TRUNC('hour', {local})))",
            [*column_params, *local_params, *local_params],
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        raise NotImplementedError("local buckets are computed on PostgreSQL")
