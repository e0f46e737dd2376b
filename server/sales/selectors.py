"""Reads: transactions of a site, and conversion = sales transactions / visits per hour or day."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet, Sum

from server.inventory.local_buckets import LocalBucket
from server.inventory.localtime import local_iso
from server.sales.models import PosTransaction
from server.sales.visits import conversion_visits, visit_totals, visits_definition


def transaction_list(*, site_id: int, start: datetime, end: datetime) -> QuerySet[PosTransaction]:
    return PosTransaction.objects.filter(
        site_id=site_id, occurred_at__gte=start, occurred_at__lt=end
    ).order_by("occurred_at", "id")


def _sales(site_ids: list[int], start: datetime, end: datetime) -> QuerySet[PosTransaction]:
    """Sales transactions: amount > 0 (refunds and voids are imported, not counted)."""
    return PosTransaction.objects.filter(
        site_id__in=site_ids, occurred_at__gte=start, occurred_at__lt=end, amount__gt=0
    )


def _ratio(transactions: int, visits: int) -> float | None:
    return None if visits == 0 else round(transactions / visits, 4)


def conversion(
    *, site_id: int, start: datetime, end: datetime, bucket: str, zone: zoneinfo.ZoneInfo
) -> dict[str, Any]:
    """Per bucket (the site's local hours or days, `zone`: transactions and visits cut on the same boundaries)
    with any visit or sale: visits, transactions, revenue, conversion (transactions / visits; null with no
    visit), and the totals over the range; each bucket's start with the site's offset."""
    sales = {
        row["t"]: (int(row["count"]), row["revenue"])
        for row in _sales([site_id], start, end)
        .annotate(t=LocalBucket("occurred_at", bucket, zone, within=(start, end)))
        .values("t")
        .annotate(count=Count("id"), revenue=Sum("amount"))
    }
    visits = {
        moment: count
        for (_, moment), count in conversion_visits(
            site_ids=[site_id], start=start, end=end, bucket=bucket, zone=zone
        ).items()
    }
    series: list[dict[str, Any]] = []
    for moment in sorted(set(sales) | set(visits)):
        count, revenue = sales.get(moment, (0, 0))
        seen = visits.get(moment, 0)
        series.append(
            {
                "t": local_iso(moment, zone),
                "visits": seen,
                "transactions": count,
                "revenue": float(revenue or 0),
                "conversion": _ratio(count, seen),
            }
        )
    total_transactions = sum(item["transactions"] for item in series)
    total_visits = sum(item["visits"] for item in series)
    return {
        "bucket": bucket,
        "timezone": zone.key,
        "visits_definition": visits_definition(site_id),
        "series": series,
        "total": {
            "visits": total_visits,
            "transactions": total_transactions,
            "revenue": round(sum(item["revenue"] for item in series), 2),
            "conversion": _ratio(total_transactions, total_visits),
        },
    }


def sales_totals(*, site_ids: list[int], start: datetime, end: datetime) -> dict[int, int]:
    """Sales transactions per site in [start, end)."""
    return {
        int(row["site_id"]): int(row["count"])
        for row in _sales(site_ids, start, end).values("site_id").annotate(count=Count("id"))
    }


def conversion_totals(
    *, site_ids: list[int], start: datetime, end: datetime, visits: dict[int, int] | None = None
) -> dict[int, dict[str, Any]]:
    """Per site over the range: visits, transactions, conversion (for the chain overview and reports); `visits`
    when the caller read them already (server.sales.visits)."""
    sales = sales_totals(site_ids=site_ids, start=start, end=end)
    if visits is None:
        visits = visit_totals(site_ids=site_ids, start=start, end=end)
    return {
        site_id: {
            "visits": visits.get(site_id, 0),
            "transactions": sales.get(site_id, 0),
            "conversion": _ratio(sales.get(site_id, 0), visits.get(site_id, 0)),
        }
        for site_id in site_ids
    }
