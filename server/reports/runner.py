"""Send the scheduled reports that are due: from `manage.py run_reports` (cron) or the server's runtime, which
runs `run_periodically` (every REPORTS_CHECK_INTERVAL_S). Several processes may run it: each due schedule is
locked (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL) while one of them sends it, and a period is sent once."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from server.accounts.sites import allowed_site_ids
from server.errors import ApplicationError
from server.inventory.models import Site
from server.reports.mail import build_report, send_report
from server.reports.models import ReportSchedule
from server.reports.periods import due_period
from server.reports.recipients import refused_recipients

logger = logging.getLogger(__name__)


def schedule_site_ids(schedule: ReportSchedule) -> list[int]:
    """The schedule's sites that its owner is (still) allowed on; no sites chosen: all the owner's sites."""
    chosen = set(schedule.sites.values_list("pk", flat=True))
    allowed = allowed_site_ids(schedule.owner)
    every = set(Site.objects.values_list("pk", flat=True))
    sites = chosen or every
    return sorted(sites & (every if allowed is None else set(allowed)))


def report_recipients(schedule: ReportSchedule) -> list[str]:
    """The schedule's recipients its owner may (still) mail (server.reports.recipients)."""
    recipients = list(schedule.recipients)
    refused = set(refused_recipients(schedule.owner, recipients))
    return [address for address in recipients if address not in refused]


def send_schedule(schedule: ReportSchedule, *, start: datetime, end: datetime) -> dict[str, Any]:
    """Build and mail the report; NothingToSend (409) when its owner has no site or no recipient left."""
    site_ids = schedule_site_ids(schedule)
    if not site_ids:
        raise ApplicationError(
            "no site to report on: its owner is allowed on none of its sites (any more)",
            code="nothing_to_send",
            status_code=409,
        )
    recipients = report_recipients(schedule)
    if not recipients:
        raise ApplicationError(
            "no recipient left: none of its addresses is a user of the system (any more)",
            code="nothing_to_send",
            status_code=409,
        )
    report = build_report(
        name=schedule.name, site_ids=site_ids, start=start, end=end, timezone=schedule.timezone
    )
    send_report(report, recipients=recipients)
    return {
        "schedule": schedule.pk,
        "sites": len(site_ids),
        "start": start.isoformat(),
        "end": end.isoformat(),
    }


def run_due_reports(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Send every due report once; returns what was sent. A failed send keeps the period due (retried next
    time) and records `last_error`."""
    moment = now or timezone.now()
    sent: list[dict[str, Any]] = []
    candidates = list(ReportSchedule.objects.filter(enabled=True).values_list("pk", flat=True))
    for schedule_id in candidates:
        with transaction.atomic():
            schedule = (
                ReportSchedule.objects.select_for_update(
                    skip_locked=True, of=("self",)
                )  # not the owner's row
                .select_related("owner")
                .filter(pk=schedule_id, enabled=True)
                .first()
            )
            if schedule is None or not schedule.owner.is_active:
                continue
            period = due_period(
                frequency=schedule.frequency,
                weekday=schedule.weekday,
                send_hour=schedule.send_hour,
                timezone=schedule.timezone,
                now=moment,
                last_period_end=schedule.last_period_end,
            )
            if period is None:
                continue
            try:
                sent.append(send_schedule(schedule, start=period[0], end=period[1]))
            except (
                Exception
            ) as err:  # SMTP refusal, connection failure, nothing to send: keep it due, say why
                logger.warning("scheduled report %s not sent: %s", schedule.pk, err)
                schedule.last_error = f"{type(err).__name__}: {err}"[:500]
                schedule.save(update_fields=["last_error"])
                continue
            schedule.last_period_end = period[1]
            schedule.last_sent_at = timezone.now()
            schedule.last_error = ""
            schedule.save(update_fields=["last_period_end", "last_sent_at", "last_error"])
    return sent


async def run_periodically() -> None:
    """The runtime's background task: check for due reports every REPORTS_CHECK_INTERVAL_S seconds."""
    interval_s = float(settings.REPORTS_CHECK_INTERVAL_S)
    while True:
        await asyncio.sleep(interval_s)
        try:
            sent = await asyncio.to_thread(run_due_reports)
        except Exception as err:  # the database is away: try again next time
            logger.warning("scheduled reports check failed: %s", err)
            continue
        if sent:
            logger.info("scheduled reports sent: %d", len(sent))
