"""Local time buckets at the edges a real store and a careless admin reach (docs/kpis.md, "Time buckets"): a
zone whose clocks go back over midnight (the Azores, Cuba: local midnight happens twice), and a site whose
`timezone` is a name Python's zoneinfo cannot read (a directory of the zone database, such as "America")."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from server.insights.models import PersonVisit
from server.inventory.localtime import DAY, bucket_start, site_zone, zone_named
from server.inventory.models import Site
from tests.integration.api.conftest import _fresh_login_limits, _media_root, client_for, users

__all__ = ["_fresh_login_limits", "_media_root", "client_for", "users"]

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.mark.parametrize("zone", ["Atlantic/Azores", "America/Havana"])
def test_a_day_starts_before_its_first_moment_when_midnight_repeats(zone: str) -> None:
    """Azores: 01:00 (+00:00) becomes 00:00 (-01:00) on 25 October 2026, Havana likewise on 1 November: the day
    begins at the first midnight; the second reading put the day's start after its first hour."""
    tz = zoneinfo.ZoneInfo(zone)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    late = []
    while moment.year < 2027:
        start = bucket_start(moment, DAY, tz)
        if not start <= moment < start + timedelta(hours=26):
            late.append((moment, start))
        moment += timedelta(minutes=15)
    assert late == []


def test_the_azores_day_the_clocks_go_back_starts_at_the_first_midnight(
    client_for: Callable[[str], APIClient],
) -> None:
    site = Site.objects.create(name="Ponta Delgada", timezone="Atlantic/Azores")
    for i, text in enumerate(
        ["2026-10-25T00:30:00+00:00", "2026-10-25T00:30:00-01:00", "2026-10-25T12:00:00-01:00"]
    ):
        moment = datetime.fromisoformat(text)
        PersonVisit.objects.create(site=site, person_id=i, started_at=moment, ended_at=moment)
    response = client_for("admin").get(
        f"/api/sites/{site.pk}/analytics/visits",
        {"start": "2026-10-24T00:00:00+00:00", "end": "2026-10-26T00:00:00-01:00", "bucket": "day"},
    )
    assert response.status_code == 200, response.content
    assert [(p["t"], p["count"]) for p in response.json()["series"]] == [("2026-10-25T00:00:00+00:00", 3)]


def test_a_name_too_long_for_a_file_is_utc() -> None:
    assert zone_named("x" * 300).key == "UTC"  # OSError (file name too long) in zoneinfo


@pytest.mark.parametrize("name", ["America", "Europe/"])
def test_a_zone_name_zoneinfo_cannot_read_is_utc(name: str, client_for: Callable[[str], APIClient]) -> None:
    """A directory of the zone database ("America") raises IsADirectoryError in zoneinfo, not
    ZoneInfoNotFoundError: every KPI endpoint of such a site answered 500."""
    assert zone_named(name).key == "UTC"
    site = Site.objects.create(name="Misconfigured", timezone="UTC")
    Site.objects.filter(pk=site.pk).update(timezone=name)  # a row from before the zone was checked
    site.refresh_from_db()
    assert site_zone(site).key == "UTC"
    client = client_for("admin")
    for kpi in ("visits", "doors", "distancing", "conversion"):
        response = client.get(f"/api/sites/{site.pk}/analytics/{kpi}", {"bucket": "day"})
        assert response.status_code == 200, (kpi, response.status_code)
        assert response.json().get("timezone", "UTC") == "UTC"


@pytest.mark.parametrize("name", ["America", "x" * 300])
def test_a_site_cannot_be_given_a_directory_as_its_zone(
    name: str, client_for: Callable[[str], APIClient]
) -> None:
    site = Site.objects.create(name="Careless", timezone="UTC")
    response = client_for("admin").patch(f"/api/sites/{site.pk}", {"timezone": name}, format="json")
    assert response.status_code == 400, response.status_code
    site.refresh_from_db()
    assert site.timezone == "UTC"


def test_the_occupancy_sheet_hours_are_the_stores_in_a_half_hour_zone(
    client_for: Callable[[str], APIClient], tmp_path: Path
) -> None:
    from server.insights import apis as insights_apis
    from server.timeseries.factory import TimeSeriesConfig, build_backend
    from server.timeseries.measurements import occupancy_point

    site = Site.objects.create(name="Bengaluru", timezone="Asia/Kolkata")
    backend = build_backend(TimeSeriesConfig(influx_url="", embedded_path=str(tmp_path / "series.db")))
    moment = datetime.fromisoformat("2026-12-01T10:10:00+05:30")
    backend.write_batch([occupancy_point(site_id=site.pk, time_ns=int(moment.timestamp() * 1e9), people=4)])
    PersonVisit.objects.create(site=site, person_id=1, started_at=moment, ended_at=moment)
    insights_apis.use_timeseries(backend)
    try:
        hours = {}
        for analytic in ("footfall", "occupancy"):
            response = client_for("staff").get(
                f"/api/sites/{site.pk}/reports/export",
                {
                    "start": "2026-12-01T00:00:00+05:30",
                    "end": "2026-12-02T00:00:00+05:30",
                    "analytic": analytic,
                },
            )
            assert response.status_code == 200, response.content
            text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
            hours[analytic] = [line.split(",")[0] for line in text.splitlines()[1:]]
    finally:
        insights_apis.use_timeseries(None)
        backend.close()
    assert hours["footfall"] == ["2026-12-01T10:00:00+05:30"]
    assert hours["occupancy"] == hours["footfall"], hours


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("America/New_York", "0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z"),
        ("Asia/Tokyo", "9999-12-30T00:00:00Z", "9999-12-31T23:00:00Z"),
    ],
)
def test_a_range_at_the_ends_of_the_calendar_is_answered(
    zone: str, start: str, end: str, client_for: Callable[[str], APIClient]
) -> None:
    """A hostile or careless client's range at year 1 or 9999: the site's local time of it is outside what a
    datetime holds (OverflowError), which must not be a 500."""
    site = Site.objects.create(name="Edge of time", timezone=zone)
    client = client_for("admin")
    for kpi in ("visits", "doors", "distancing", "conversion"):
        for bucket in ("hour", "day"):
            response = client.get(
                f"/api/sites/{site.pk}/analytics/{kpi}", {"start": start, "end": end, "bucket": bucket}
            )
            assert response.status_code in (200, 400), (kpi, bucket, response.status_code)
