"""A scheduled report of a chain that spans time zones holds each store's own local day: a daily report
scheduled in New York covers 1 December in New York for the New York store and 1 December in Los Angeles for
the Los Angeles store. Before, every site got the schedule's day (05:00-05:00 UTC), three hours of the next day
for the store in the west."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.insights.models import PersonVisit
from server.inventory.models import Site
from server.reports.mail import build_report
from server.reports.periods import due_period

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _visits(site: Site, *moments: str) -> None:
    for index, moment in enumerate(moments):
        started = datetime.fromisoformat(moment)
        PersonVisit.objects.create(
            site=site, person_id=index + 1, started_at=started, ended_at=started + timedelta(minutes=20)
        )


def test_each_site_reports_its_own_local_day() -> None:
    new_york = Site.objects.create(name="Manhattan", timezone="America/New_York")
    los_angeles = Site.objects.create(name="Santa Monica", timezone="America/Los_Angeles")
    _visits(
        new_york,
        "2026-11-30T23:30:00-05:00",  # the day before
        "2026-12-01T09:00:00-05:00",
        "2026-12-01T21:00:00-05:00",
    )
    _visits(
        los_angeles,
        "2026-11-30T23:30:00-08:00",  # the day before there, though 1 December in New York
        "2026-12-01T10:00:00-08:00",
        "2026-12-01T18:00:00-08:00",
        "2026-12-01T22:00:00-08:00",  # 1 December there, though 2 December in New York
        "2026-12-01T22:30:00-08:00",
    )
    start, end = due_period(
        frequency="daily",
        weekday=0,
        send_hour=7,
        timezone="America/New_York",
        now=datetime(2026, 12, 2, 13, 0, tzinfo=UTC),
        last_period_end=None,
    ) or (None, None)
    assert start == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    assert end is not None
    report = build_report(
        name="Chain",
        site_ids=[new_york.pk, los_angeles.pk],
        start=start,
        end=end,
        timezone="America/New_York",
    )
    footfall = {site["name"]: site["footfall"] for site in report.sites}
    assert footfall == {"Manhattan": 2, "Santa Monica": 4}
    assert [site["name"] for site in report.sites] == ["Manhattan", "Santa Monica"]
    assert report.subject == "Chain: 2026-12-01 (each site's local day)"
    assert "Site: Santa Monica; Footfall: 4" in report.text


def test_a_chain_in_one_zone_keeps_the_schedules_day() -> None:
    paris = Site.objects.create(name="Paris", timezone="Europe/Paris")
    _visits(paris, "2026-11-30T23:59:00+01:00", "2026-12-01T00:00:00+01:00", "2026-12-01T23:59:59+01:00")
    start, end = datetime(2026, 11, 30, 23, 0, tzinfo=UTC), datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    report = build_report(name="Weekly", site_ids=[paris.pk], start=start, end=end, timezone="Europe/Paris")
    assert [site["footfall"] for site in report.sites] == [2]
    assert report.subject == "Weekly: 2026-12-01 to 2026-12-07 (Europe/Paris)"
