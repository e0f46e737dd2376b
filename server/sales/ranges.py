"""Time ranges of the sales and reports endpoints: `?start=&end=` (ISO 8601), as the analytics API reads them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from server.errors import FieldError
from server.inventory.localtime import outside_calendar

MAX_RANGE = timedelta(days=400)


def parse_moment(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise FieldError(field, f"not an ISO 8601 date-time: {value!r}")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
    return parsed


def time_range(
    params: Any, *, default: timedelta = timedelta(hours=24), max_range: timedelta = MAX_RANGE
) -> tuple[datetime, datetime]:
    """[start, end) from query parameters; default: the `default` span before now."""
    end = parse_moment(params.get("end"), "end") or timezone.now()
    start = parse_moment(params.get("start"), "start") or end - default
    for name, moment in (("start", start), ("end", end)):
        if outside_calendar(moment):
            raise FieldError(name, "must lie between years 1 and 9999, a day from either end")
    if start >= end:
        raise FieldError("start", "start must be before end")
    if end - start > max_range:
        raise FieldError("start", f"the range may span at most {max_range.days} days")
    return start, end
