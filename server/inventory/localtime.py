"""A site's local time: its time zone (`Site.timezone`, UTC when unset or unknown) and the local hours and days
that every hourly and daily bucket of a store's KPIs is cut on (docs/kpis.md, "Time buckets").

The ONE place the server turns a site's time zone name into a zone: the sales import, the KPI buckets, the
reports and the notification schedules all take it from here (the inventory owns `Site.timezone`, and every app
that buckets by it sits beside it in the apps layer, .importlinter).

Buckets are keyed by their start as an instant (UTC), counted in elapsed time, never by a local wall-clock
label: on the night the clocks go back the repeated hour is a bucket of its own (01:00-04:00 and 01:00-05:00 in
America/New_York), where truncating the local wall-clock time gave one "01:00" bucket holding two hours; the
day the clocks go back is 25 hours long, the day they go forward 23. Answers carry the starts as ISO times
with the site's offset (`local_iso`).

Buckets under an hour (1, 5, 15 minutes) stay aligned on the epoch: every UTC offset in use today is a whole
multiple of 15 minutes (India's +05:30, Nepal's +05:45, the Chatham Islands' +12:45 included), so an epoch
aligned 1, 5 or 15 minute bucket is one of the local clock too.

Pure Python (the notification schedules use it outside the ORM); the buckets in SQL: `local_buckets`.
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

HOUR = "hour"
DAY = "day"


# The instants whose local time in every zone a datetime can hold (a day off the calendar's ends: UTC-12:00 to
# +14:00): a range outside them is refused (a site's local time of year 1 or 9999 raised OverflowError, a 500).
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def outside_calendar(moment: datetime) -> bool:
    """Whether `moment` is too close to year 1 or 9999 for its local time to be read in every zone."""
    return not EARLIEST <= moment <= LATEST


def zone_named(name: str | None) -> zoneinfo.ZoneInfo:
    """The zone of an IANA name; UTC for an empty or unknown one (a site's zone is checked when it is set,
    `inventory.services`; this is the fallback for rows from before that check)."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (
        zoneinfo.ZoneInfoNotFoundError,
        ValueError,
        OSError,
    ):  # OSError: a directory ("America"), too long
        return zoneinfo.ZoneInfo("UTC")


def site_zone(site: Any) -> zoneinfo.ZoneInfo:
    """The time zone of a site (anything with a `timezone` name: a Site, a setup)."""
    return zone_named(getattr(site, "timezone", None))


def site_zone_of(site_id: int) -> zoneinfo.ZoneInfo:
    """The time zone of the site with this id (one indexed read; UTC for an unknown site)."""
    from server.inventory.models import Site  # the models load after the apps: not at import time

    return zone_named(Site.objects.filter(pk=site_id).values_list("timezone", flat=True).first())


def bucket_start(moment: datetime, bucket: str, zone: zoneinfo.ZoneInfo) -> datetime:
    """`local_buckets.LocalBucket` in Python: the start (in UTC) of the local hour or day of `zone` holding `moment`."""
    local = moment.astimezone(zone)
    if bucket == DAY:
        return local_instant(local.replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0), zone)
    return moment.astimezone(UTC) - timedelta(
        minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )


def local_instant(wall: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """A local wall-clock time of `zone` (a day bucket's midnight) as the first instant the clock shows it or, when
    the clocks skipped it, the instant they jumped to: a repeated time takes its first reading (in the Azores and
    Cuba the clocks go back from 01:00 to midnight, and the day begins at the first midnight; PostgreSQL's
    `timestamp AT TIME ZONE` reads the second, which put the day's start after its first hour), a skipped one the
    offset before the change (Santiago's skipped midnight is 01:00 of the new offset)."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


@functools.lru_cache(maxsize=512)
def hour_fraction(zone: zoneinfo.ZoneInfo) -> timedelta | None:
    """The part of an hour that the zone's offset from UTC has past whole hours (0 for New York, 30 minutes for
    India and Newfoundland, 45 for Nepal) when it is the same at every offset the zone has had since 2000 and
    will have until 2036 (read once a week, about 20 ms once per zone and process: every offset lasts longer);
    None where it is not (Lord Howe Island: +10:30 and +11:00). Its local hours are then the epoch's shifted by
    it."""
    fractions = set()
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    while moment.year < 2036:
        offset = moment.astimezone(zone).utcoffset()
        fractions.add((offset or timedelta(0)) % timedelta(hours=1))
        moment += timedelta(days=7)
    return fractions.pop() if len(fractions) == 1 else None


def offset_spans(
    zone: zoneinfo.ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, timedelta]]:
    """[start, end) cut where the zone's offset from UTC changes: (from, to, offset) in time order. Read a day at a
    time (no offset lasts less), each change found to the second."""
    spans: list[tuple[datetime, datetime, timedelta]] = []

    def offset(moment: datetime) -> timedelta:
        return moment.astimezone(zone).utcoffset() or timedelta(0)

    low, current = start, offset(start)
    probe = start
    while probe < end:
        step = min(probe + timedelta(days=1), end)
        if offset(step) != current:
            before, after = probe, step  # the change is in (before, after]
            while after - before > timedelta(seconds=1):
                middle = before + (after - before) / 2
                if offset(middle) == current:
                    before = middle
                else:
                    after = middle
            change = after.replace(microsecond=0)
            spans.append((low, change, current))
            low, current = change, offset(change)
            probe = change
            continue
        probe = step
    spans.append((low, end, current))
    return spans


def bucket_count(start: datetime, end: datetime, bucket: str, zone: zoneinfo.ZoneInfo) -> int:
    """The local hours or days of `zone` that [start, end) touches (counted in hours of elapsed time: one short
    in a zone whose clocks change by half an hour, Australia/Lord_Howe, which has a half-hour bucket then)."""
    if end <= start:
        return 0
    last = end - timedelta(microseconds=1)
    if bucket == DAY:
        return (last.astimezone(zone).date() - start.astimezone(zone).date()).days + 1
    first_hour, last_hour = bucket_start(start, HOUR, zone), bucket_start(last, HOUR, zone)
    return int((last_hour - first_hour) // timedelta(hours=1)) + 1


def local_iso(moment: datetime, zone: zoneinfo.ZoneInfo) -> str:
    """An instant as ISO 8601 with the site's offset (2026-03-08T03:00:00-04:00)."""
    return moment.astimezone(zone).isoformat()
