"""Build and send a scheduled report: the chain table, footfall and conversion charts inline (PNG, cid:)."""

from __future__ import annotations

import html
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.mime.image import MIMEImage
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from server.inventory.localtime import local_instant, zone_named
from server.inventory.models import Site
from server.reports.chain import site_kpis
from server.reports.charts import bar_chart_png, line_chart_png
from server.sales.visits import conversion_visits

DAY = timedelta(days=1)


@dataclass(frozen=True)
class BuiltReport:
    subject: str
    text: str
    html: str
    images: dict[str, bytes]  # content id -> PNG
    sites: list[dict[str, Any]]


def _cell(value: Any, kind: str = "") -> str:
    if value is None:
        return "n/a"
    if kind == "percent":
        return f"{100 * float(value):.1f} %"
    if kind == "seconds":
        return f"{float(value) / 60:.1f} min"
    return str(value)


COLUMNS = (
    ("name", "Site", ""),
    ("footfall", "Footfall", ""),
    ("transactions", "Transactions", ""),
    ("conversion", "Conversion", "percent"),
    ("mean_dwell_s", "Mean visit", "seconds"),
    ("queue_wait_s", "Queue wait", "seconds"),
    ("alerts_raised", "Alerts", ""),
    ("open_alerts", "Open alerts", ""),
)


def _site_zones(site_ids: list[int]) -> dict[zoneinfo.ZoneInfo, list[int]]:
    """The sites grouped by their time zone (one group per zone the chain spans)."""
    groups: dict[zoneinfo.ZoneInfo, list[int]] = defaultdict(list)
    for site_id, name in Site.objects.filter(pk__in=site_ids).order_by("id").values_list("id", "timezone"):
        groups[zone_named(name)].append(site_id)
    return groups


def build_report(
    *, name: str, site_ids: list[int], start: datetime, end: datetime, timezone: str
) -> BuiltReport:
    """The report of the local days of the schedule's `timezone` that [start, end) spans, each site on those
    days of its own clock: a daily report of a chain in New York and Los Angeles holds each store's own day
    (06:00-06:00 UTC for New York, 09:00-09:00 for Los Angeles), not three hours of the next day for the one in
    the west. The footfall over time sums the sites' counts of the same local hour or day."""
    zone = zoneinfo.ZoneInfo(timezone)
    first_day = start.astimezone(zone).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    last_day = end.astimezone(zone).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    days = (last_day - first_day).days
    bucket = "hour" if days <= 1 else "day"
    sites: list[dict[str, Any]] = []
    per_bucket: dict[tuple[datetime, int], int] = defaultdict(
        int
    )  # (local wall time, fold): the local bucket
    for site_zone, ids in _site_zones(site_ids).items():
        site_start, site_end = local_instant(first_day, site_zone), local_instant(last_day, site_zone)
        sites.extend(site_kpis(site_ids=ids, start=site_start, end=site_end))
        for (_, moment), count in conversion_visits(
            site_ids=ids, start=site_start, end=site_end, bucket=bucket, zone=site_zone
        ).items():
            local = moment.astimezone(site_zone)
            per_bucket[(local.replace(tzinfo=None), local.fold)] += count
    sites.sort(key=lambda site: (site["name"], site["site_id"]))
    moments = sorted(per_bucket)
    label_format = "%H:%M" if bucket == "hour" else "%a %d %b"
    images = {
        "footfall-sites": bar_chart_png(
            title="Footfall per site",
            labels=[site["name"] for site in sites],
            values=[site["footfall"] for site in sites],
            unit="visits",
        ),
        "conversion-sites": bar_chart_png(
            title="Conversion per site",
            labels=[site["name"] for site in sites],
            values=[100 * (site["conversion"] or 0.0) for site in sites],
            unit="%",
        ),
        "footfall-time": line_chart_png(
            title=f"Footfall per {bucket}, all sites",
            labels=[wall.strftime(label_format) for wall, _ in moments],
            values=[per_bucket[moment] for moment in moments],
        ),
    }
    span = f"{first_day:%Y-%m-%d}" if days == 1 else f"{first_day:%Y-%m-%d} to {last_day - DAY:%Y-%m-%d}"
    zones = {site["timezone"] for site in sites}
    period = f"{span} ({timezone})" if zones <= {timezone} else f"{span} (each site's local day)"
    subject = f"{name}: {period}"
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title, _ in COLUMNS)
    body_rows = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(_cell(site[key], kind))}</td>" for key, _, kind in COLUMNS)
        + "</tr>"
        for site in sites
    )
    figures = "".join(f'<p><img src="cid:{cid}" alt="{cid}"></p>' for cid in images)
    html_body = (
        f"<h2>{html.escape(name)}</h2><p>{html.escape(period)}</p>"
        f'<table border="1" cellpadding="4" cellspacing="0"><tr>{head}</tr>{body_rows}</table>{figures}'
    )
    lines = [subject, ""] + [
        "; ".join(f"{title}: {_cell(site[key], kind)}" for key, title, kind in COLUMNS) for site in sites
    ]
    return BuiltReport(subject=subject, text="\n".join(lines), html=html_body, images=images, sites=sites)


def send_report(report: BuiltReport, *, recipients: list[str]) -> None:
    """Send through the configured SMTP server (EMAIL_* settings); raises on a refusal or a failed connection."""
    connection = get_connection(timeout=float(settings.EMAIL_TIMEOUT or 30))
    message = EmailMultiAlternatives(
        subject=report.subject,
        body=report.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        connection=connection,
    )
    message.mixed_subtype = "related"  # type: ignore[attr-defined]  # the images are parts of the HTML
    message.attach_alternative(report.html, "text/html")
    for cid, png in report.images.items():
        image = MIMEImage(png, "png")
        image.add_header("Content-ID", f"<{cid}>")
        image.add_header("Content-Disposition", "inline", filename=f"{cid}.png")
        message.attach(image)
    message.send(fail_silently=False)
