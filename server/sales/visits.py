"""The visits that conversion divides by: the ONE place the sales and reports apps read visits from.

Today a visit is a person's first sighting anywhere on the site (server.insights' `PersonVisit`). When the
entrance-based definition (entries through the entrances' counting lines) lands, point `conversion_visits` at it;
nothing else changes.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from django.db.models import Avg, Count, F, Q
from django.db.models.functions import TruncDay, TruncHour

from server.insights.models import PersonVisit

VISITS_DEFINITION = "first_sighting"  # shown in the conversion answer, so a client knows what it divides by


def conversion_visits(
    *, site_ids: list[int], start: datetime, end: datetime, bucket: str, zone: tzinfo
) -> dict[tuple[int, datetime], int]:
    """Visits per (site, bucket start in `zone`) that started in [start, end); bucket "hour" or "day"."""
    trunc = TruncHour if bucket == "hour" else TruncDay
    rows = (
        PersonVisit.objects.filter(site_id__in=site_ids, started_at__gte=start, started_at__lt=end)
        .annotate(t=trunc("started_at", tzinfo=zone))
        .values("site_id", "t")
        .annotate(count=Count("id"))
    )
    return {(int(row["site_id"]), row["t"]): int(row["count"]) for row in rows}


def visit_totals(*, site_ids: list[int], start: datetime, end: datetime) -> dict[int, int]:
    """Visits per site that started in [start, end)."""
    return {
        site_id: count
        for site_id, (count, _) in visit_summary(site_ids=site_ids, start=start, end=end).items()
    }


def visit_summary(
    *, site_ids: list[int], start: datetime, end: datetime
) -> dict[int, tuple[int, float | None]]:
    """Per site: (visits that started in [start, end), their mean duration in seconds over the ended ones, None
    when none ended), in one pass over the visits."""
    rows = (
        PersonVisit.objects.filter(site_id__in=site_ids, started_at__gte=start, started_at__lt=end)
        .values("site_id")
        .annotate(
            count=Count("id"),
            mean=Avg(F("ended_at") - F("started_at"), filter=Q(ended_at__isnull=False)),
        )
    )
    return {
        int(row["site_id"]): (int(row["count"]), None if row["mean"] is None else row["mean"].total_seconds())
        for row in rows
    }
