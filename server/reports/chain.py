"""KPIs per site over a period, for the chain overview page and the scheduled reports: a handful of grouped
queries over all the sites at once (one per KPI, never one per site)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Avg, Count, Q

from server.alerts.models import Alert, AlertState
from server.insights.models import QueueWait
from server.inventory.models import Site
from server.sales.selectors import conversion_totals
from server.sales.visits import visit_summary


def queue_wait_s(*, site_ids: list[int], start: datetime, end: datetime) -> dict[int, float]:
    """Mean queue waiting time (join to service, s) per site, of the visitors who joined a queue in [start, end)
    and were served (docs/kpis.md, "Queues"): abandoned waits have no waiting time, and staff waits are no
    visitor's. A site with no served wait is left out ("n/a")."""
    rows = (
        QueueWait.objects.filter(
            site_id__in=site_ids, staff=False, wait_s__isnull=False, joined_at__gte=start, joined_at__lt=end
        )
        .values("site_id")
        .annotate(mean=Avg("wait_s"))
    )
    return {int(row["site_id"]): round(float(row["mean"]), 1) for row in rows if row["mean"] is not None}


def _alerts(site_ids: list[int], start: datetime, end: datetime) -> dict[int, tuple[int, int]]:
    """(alerts raised in the period, alerts open now) per site."""
    rows = (
        Alert.objects.filter(site_id__in=site_ids)
        .filter(Q(raised_at__gte=start, raised_at__lt=end) | Q(state=AlertState.OPEN))
        .values("site_id")
        .annotate(
            raised=Count("id", filter=Q(raised_at__gte=start, raised_at__lt=end)),
            open=Count("id", filter=Q(state=AlertState.OPEN)),
        )
    )
    return {int(row["site_id"]): (int(row["raised"]), int(row["open"])) for row in rows}


def site_kpis(*, site_ids: list[int], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per site (by name): footfall (visits), transactions, conversion, mean visit dwell, queue wait (None: not
    available), alerts raised in the period and open now."""
    sites = list(Site.objects.filter(pk__in=site_ids).order_by("name", "id").values("id", "name", "timezone"))
    ids = [site["id"] for site in sites]
    summary = visit_summary(site_ids=ids, start=start, end=end)  # visits and their mean length, one pass
    sales = conversion_totals(
        site_ids=ids, start=start, end=end, visits={site_id: count for site_id, (count, _) in summary.items()}
    )
    dwell = {site_id: mean for site_id, (_, mean) in summary.items() if mean is not None}
    queues = queue_wait_s(site_ids=ids, start=start, end=end)
    alerts = _alerts(ids, start, end)
    result = []
    for site in sites:
        site_id = site["id"]
        raised, open_now = alerts.get(site_id, (0, 0))
        result.append(
            {
                "site_id": site_id,
                "name": site["name"],
                "timezone": site["timezone"],
                "footfall": sales[site_id]["visits"],
                "transactions": sales[site_id]["transactions"],
                "conversion": sales[site_id]["conversion"],
                "mean_dwell_s": round(dwell[site_id], 1) if site_id in dwell else None,
                "queue_wait_s": queues.get(site_id),
                "alerts_raised": raised,
                "open_alerts": open_now,
            }
        )
    return result
