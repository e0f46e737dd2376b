"""When a scheduled report is due, and which period it covers. Pure Python (unit-tested by table)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

DAY = timedelta(days=1)


def due_period(
    *,
    frequency: str,
    weekday: int,
    send_hour: int,
    timezone: str,
    now: datetime,
    last_period_end: datetime | None,
) -> tuple[datetime, datetime] | None:
    """The newest whole period whose send time (its end's local day at `send_hour`) has come, in UTC, or None
    when it was sent already. Daily: the local day before; weekly: the 7 local days before `weekday`."""
    zone = zoneinfo.ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    day = local_now.date()
    length = 1 if frequency == "daily" else 7
    if frequency != "daily":
        day -= timedelta(days=(day.weekday() - weekday) % 7)

    def local_midnight(date_: object) -> datetime:
        return datetime(date_.year, date_.month, date_.day, tzinfo=zone)  # type: ignore[attr-defined]

    end_local = local_midnight(day)
    if local_now < end_local.replace(hour=send_hour):
        day -= timedelta(days=length)
        end_local = local_midnight(day)
    start_local = local_midnight(day - timedelta(days=length))
    end, start = end_local.astimezone(UTC), start_local.astimezone(UTC)
    if last_period_end is not None and last_period_end >= end:
        return None
    return start, end
