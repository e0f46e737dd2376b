"""The visits that conversion divides by: the ONE place the sales and reports apps read visits from.

A site with entrance lines (doors, docs/kpis.md "Visits") counts its visits as the visitors' entries through them
(the 15-minute door counts, staff left out); a site without any counts the persons first seen on its floor (the
"detected visitors", staff left out). `visits_definition` says which one a site uses.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.db.models import Avg, Count, F, Q, Sum

from server.insights.models import LineCount, PersonVisit
from server.inventory.local_buckets import LocalBucket
from server.inventory.models import Zone, ZoneKind

ENTRANCES = "entrances"  # entries through the site's entrance lines
FIRST_SIGHTING = "first_sighting"  # persons first seen anywhere on the floor (sites without entrance lines)


def sites_counting_entrances(site_ids: list[int]) -> set[int]:
    """The sites of `site_ids` whose visits are entrance entries: those with an entrance line (door)."""
    return set(
        Zone.objects.filter(site_id__in=site_ids, kind=ZoneKind.DOOR)
        .values_list("site_id", flat=True)
        .distinct()
    )


def visits_definition(site_id: int) -> str:
    """What a site's visits are (shown in the conversion answer, so a client knows what it divides by)."""
    return ENTRANCES if sites_counting_entrances([site_id]) else FIRST_SIGHTING


def conversion_visits(
    *, site_ids: list[int], start: datetime, end: datetime, bucket: str, zone: zoneinfo.ZoneInfo
) -> dict[tuple[int, datetime], int]:
    """Visits per (site, bucket start) in [start, end); bucket "hour" or "day" of `zone` (`LocalBucket`: the
    start an instant, in UTC), visits as the module docstring defines them."""
    by_entrance = sites_counting_entrances(site_ids)
    counted: dict[tuple[int, datetime], int] = {}
    entries = (
        LineCount.objects.filter(site_id__in=by_entrance, entrance=True, start__gte=start, start__lt=end)
        .annotate(t=LocalBucket("start", bucket, zone, within=(start, end)))
        .values("site_id", "t")
        .annotate(count=Sum("in_count"))
    )
    for row in entries:
        counted[(int(row["site_id"]), row["t"])] = int(row["count"] or 0)
    first_seen = (
        PersonVisit.objects.filter(
            site_id__in=site_ids, started_at__gte=start, started_at__lt=end, staff=False
        )
        .exclude(site_id__in=by_entrance)
        .annotate(t=LocalBucket("started_at", bucket, zone, within=(start, end)))
        .values("site_id", "t")
        .annotate(count=Count("id"))
    )
    for row in first_seen:
        counted[(int(row["site_id"]), row["t"])] = int(row["count"])
    return counted


def visit_totals(*, site_ids: list[int], start: datetime, end: datetime) -> dict[int, int]:
    """Visits per site that started in [start, end)."""
    return {
        site_id: count
        for site_id, (count, _) in visit_summary(site_ids=site_ids, start=start, end=end).items()
    }


def visit_summary(
    *, site_ids: list[int], start: datetime, end: datetime
) -> dict[int, tuple[int, float | None]]:
    """Per site: (visits in [start, end) as the module docstring defines them, the mean length in seconds of the
    visitors' ended visits, None when none ended); staff left out of both."""
    by_entrance = sites_counting_entrances(site_ids)
    rows = (
        PersonVisit.objects.filter(
            site_id__in=site_ids, started_at__gte=start, started_at__lt=end, staff=False
        )
        .values("site_id")
        .annotate(
            count=Count("id"),
            mean=Avg(F("ended_at") - F("started_at"), filter=Q(ended_at__isnull=False)),
        )
    )
    summary = {
        int(row["site_id"]): (int(row["count"]), None if row["mean"] is None else row["mean"].total_seconds())
        for row in rows
    }
    if by_entrance:
        entries = (
            LineCount.objects.filter(site_id__in=by_entrance, entrance=True, start__gte=start, start__lt=end)
            .values("site_id")
            .annotate(count=Sum("in_count"))
        )
        counts = {int(row["site_id"]): int(row["count"] or 0) for row in entries}
        for site_id in by_entrance:
            summary[site_id] = (counts.get(site_id, 0), summary.get(site_id, (0, None))[1])
    return summary
