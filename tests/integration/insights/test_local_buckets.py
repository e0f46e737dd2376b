"""Hourly and daily KPI buckets are the site's local hours and days (docs/kpis.md, "Time buckets"), against real
PostgreSQL: visits, doors, distancing and conversion for stores in America/New_York (across both DST changes),
Asia/Kolkata (+05:30) and Asia/Kathmandu (+05:45), whatever the server's TIME_ZONE (UTC)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from server.insights.models import DistancingViolation, LineCount, PersonVisit
from server.inventory.local_buckets import LocalBucket
from server.inventory.localtime import DAY, HOUR, bucket_count, bucket_start
from server.inventory.models import Site, Zone, ZoneKind
from server.sales.models import PosTransaction
from tests.integration.api.conftest import _fresh_login_limits, _media_root, client_for, users

__all__ = ["_fresh_login_limits", "_media_root", "client_for", "users"]

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _z(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _record(site: Site, moments: list[datetime], *, door: Zone | None = None) -> None:
    """At each moment: a visitor first seen, a distancing violation, a sale, and (with `door`) 2 entries in the
    15-minute door count starting then."""
    for i, moment in enumerate(moments):
        PersonVisit.objects.create(site=site, person_id=1000 + i, started_at=moment, ended_at=moment)
        DistancingViolation.objects.create(
            site=site,
            person_a=2000 + 2 * i,
            person_b=2001 + 2 * i,
            started_at=moment,
            ended_at=moment,
            last_close_at=moment,
            min_distance_m=0.8,
        )
        PosTransaction.objects.create(
            site=site, occurred_at=moment, till="1", amount=Decimal("5.00"), key=f"k-{i}"
        )
        if door is not None:
            LineCount.objects.create(
                site=site, line=door, line_name=door.name, entrance=True, start=moment, in_count=2
            )


def _get(client: APIClient, url: str, start: str, end: str, bucket: str) -> dict[str, Any]:
    response = client.get(url, {"start": start, "end": end, "bucket": bucket})
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def _series(
    client: APIClient, site: Site, start: str, end: str, bucket: str
) -> dict[str, list[tuple[str, int]]]:
    """Each KPI's buckets as (start, count): detected visitors, door entries, doors' in, violations, and the
    conversion's visits and transactions."""
    base = f"/api/sites/{site.pk}"
    visits = _get(client, f"{base}/analytics/visits", start, end, bucket)
    doors = _get(client, f"{base}/analytics/doors", start, end, bucket)
    distancing = _get(client, f"{base}/analytics/distancing", start, end, bucket)
    conversion = _get(client, f"{base}/analytics/conversion", start, end, bucket)
    result = {
        "timezone": [(body.get("timezone"), 0) for body in (visits, doors, conversion)],
        "visitors": [(p["t"], p["count"]) for p in visits["series"]],
        "violations": [(p["t"], p["count"]) for p in distancing["over_time"]],
        "conversion_visits": [(p["t"], p["visits"]) for p in conversion["series"]],
        "transactions": [(p["t"], p["transactions"]) for p in conversion["series"]],
    }
    if visits["entries"] is not None:
        result["entries"] = [(p["t"], p["count"]) for p in visits["entries"]["series"]]
        (line,) = [row for row in doors["lines"] if row["entrance"]]
        result["door_in"] = [(p["t"], p["in"]) for p in line["series"]]
    return result


def test_new_york_days_end_at_local_midnight(client_for: Callable[[str], APIClient]) -> None:
    site = Site.objects.create(name="Manhattan", timezone="America/New_York")
    # 20:00 and 23:30 on 1 December in New York (EST, -05:00) are 2 December in UTC; 00:30 is 2 December.
    _record(
        site,
        [_z("2026-12-01T20:00:00-05:00"), _z("2026-12-01T23:30:00-05:00"), _z("2026-12-02T00:30:00-05:00")],
    )
    got = _series(client_for("admin"), site, "2026-12-01T00:00:00-05:00", "2026-12-03T00:00:00-05:00", DAY)
    zone = got.pop("timezone")
    expected = [("2026-12-01T00:00:00-05:00", 2), ("2026-12-02T00:00:00-05:00", 1)]
    assert got == {name: expected for name in ("visitors", "violations", "conversion_visits", "transactions")}
    assert zone == [("America/New_York", 0)] * 3  # the answers say which zone their buckets are in
    hours = _series(client_for("admin"), site, "2026-12-01T00:00:00-05:00", "2026-12-03T00:00:00-05:00", HOUR)
    assert hours["visitors"] == [
        ("2026-12-01T20:00:00-05:00", 1),
        ("2026-12-01T23:00:00-05:00", 1),
        ("2026-12-02T00:00:00-05:00", 1),
    ]
    assert hours["violations"] == hours["visitors"] == hours["conversion_visits"] == hours["transactions"]


def test_door_entries_and_conversion_share_the_local_day(client_for: Callable[[str], APIClient]) -> None:
    site = Site.objects.create(name="Brooklyn", timezone="America/New_York")
    door = Zone.objects.create(site=site, name="Front door", kind=ZoneKind.DOOR, polygon=[[0, 0], [0, 4]])
    _record(
        site,
        [_z("2026-12-01T19:45:00-05:00"), _z("2026-12-01T23:45:00-05:00"), _z("2026-12-02T00:15:00-05:00")],
        door=door,
    )
    got = _series(client_for("admin"), site, "2026-12-01T00:00:00-05:00", "2026-12-03T00:00:00-05:00", DAY)
    days = ("2026-12-01T00:00:00-05:00", "2026-12-02T00:00:00-05:00")
    assert got["entries"] == got["door_in"] == got["conversion_visits"] == [(days[0], 4), (days[1], 2)]
    assert got["transactions"] == [(days[0], 2), (days[1], 1)]


def test_the_night_the_clocks_go_back_has_two_one_oclock_hours(
    client_for: Callable[[str], APIClient],
) -> None:
    site = Site.objects.create(name="Queens", timezone="America/New_York")
    # 1 November 2026: 02:00 EDT (-04:00) becomes 01:00 EST (-05:00); the local day is 25 hours long.
    moments = [
        _z("2026-11-01T00:10:00-04:00"),
        _z("2026-11-01T01:30:00-04:00"),  # the first 01:30
        _z("2026-11-01T01:30:00-05:00"),  # the second, an hour later
        _z("2026-11-01T02:15:00-05:00"),
        _z("2026-11-01T23:30:00-05:00"),  # 04:30 UTC on 2 November: still 1 November here
        _z("2026-11-02T00:30:00-05:00"),
    ]
    _record(site, moments)
    client = client_for("admin")
    hours = _series(client, site, "2026-11-01T00:00:00-04:00", "2026-11-01T03:00:00-05:00", HOUR)
    expected = [
        ("2026-11-01T00:00:00-04:00", 1),
        ("2026-11-01T01:00:00-04:00", 1),
        ("2026-11-01T01:00:00-05:00", 1),
        ("2026-11-01T02:00:00-05:00", 1),
    ]
    del hours["timezone"]
    assert hours == {
        name: expected for name in ("visitors", "violations", "conversion_visits", "transactions")
    }
    days = _series(client, site, "2026-10-31T00:00:00-04:00", "2026-11-03T00:00:00-05:00", DAY)
    assert days["visitors"] == [("2026-11-01T00:00:00-04:00", 5), ("2026-11-02T00:00:00-05:00", 1)]
    assert days["violations"] == days["conversion_visits"] == days["transactions"] == days["visitors"]


def test_the_day_the_clocks_go_forward_is_23_hours(client_for: Callable[[str], APIClient]) -> None:
    site = Site.objects.create(name="Bronx", timezone="America/New_York")
    # 8 March 2026: 02:00 EST becomes 03:00 EDT.
    _record(
        site,
        [_z("2026-03-08T01:50:00-05:00"), _z("2026-03-08T03:10:00-04:00"), _z("2026-03-08T23:59:00-04:00")],
    )
    client = client_for("admin")
    days = _series(client, site, "2026-03-08T00:00:00-05:00", "2026-03-10T00:00:00-04:00", DAY)
    assert days["visitors"] == [("2026-03-08T00:00:00-05:00", 3)]
    hours = _series(client, site, "2026-03-08T00:00:00-05:00", "2026-03-08T04:00:00-04:00", HOUR)
    assert hours["visitors"] == [("2026-03-08T01:00:00-05:00", 1), ("2026-03-08T03:00:00-04:00", 1)]
    assert hours["violations"] == hours["conversion_visits"] == hours["transactions"] == hours["visitors"]


@pytest.mark.parametrize(
    ("zone", "moment", "hour", "quarter"),
    [
        (
            "Asia/Kolkata",
            "2026-12-01T15:40:00+05:30",
            "2026-12-01T15:00:00+05:30",
            "2026-12-01T15:30:00+05:30",
        ),
        (
            "Asia/Kathmandu",
            "2026-12-01T15:55:00+05:45",
            "2026-12-01T15:00:00+05:45",
            "2026-12-01T15:45:00+05:45",
        ),
    ],
)
def test_hours_of_half_and_three_quarter_hour_zones(
    client_for: Callable[[str], APIClient], zone: str, moment: str, hour: str, quarter: str
) -> None:
    site = Site.objects.create(name=f"Store in {zone}", timezone=zone)
    _record(site, [_z(moment)])
    got = _series(client_for("admin"), site, "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", HOUR)
    del got["timezone"]
    assert got == {
        name: [(hour, 1)] for name in ("visitors", "violations", "conversion_visits", "transactions")
    }
    # 15-minute violation buckets stay on the epoch, which is the local quarter hour in these zones too
    body = _get(
        client_for("admin"),
        f"/api/sites/{site.pk}/analytics/distancing",
        "2026-12-01T00:00:00Z",
        "2026-12-02T00:00:00Z",
        "15m",
    )
    assert [p["t"] for p in body["over_time"]] == [quarter]


@pytest.mark.parametrize(
    "zone", ["America/New_York", "Europe/Berlin", "Asia/Kathmandu", "Australia/Lord_Howe", "America/Santiago"]
)
def test_python_buckets_are_the_databases(zone: str) -> None:
    """`bucket_start` (Python) and `LocalBucket` (SQL) agree on every 20 minutes of a year, DST nights included
    (Santiago changes its clocks at midnight, Lord Howe by half an hour)."""
    site = Site.objects.create(name=f"Store in {zone}", timezone=zone)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    moments = [start + timedelta(minutes=20 * i + 7) for i in range(0, 365 * 72)]
    PersonVisit.objects.bulk_create(
        [PersonVisit(site=site, person_id=i, started_at=m) for i, m in enumerate(moments)], batch_size=5000
    )
    tz = zoneinfo.ZoneInfo(zone)
    # the range of the rows given (days by the offsets of the range) or not (by the zone's rules)
    for bucket, within in ((HOUR, None), (DAY, None), (DAY, (start, moments[-1] + timedelta(seconds=1)))):
        rows = (
            PersonVisit.objects.filter(site=site)
            .annotate(t=LocalBucket("started_at", bucket, tz, within=within))
            .values_list("started_at", "t")
        )
        wrong = [(m, t) for m, t in rows if bucket_start(m, bucket, tz) != t]
        assert wrong == [], (bucket, wrong[:3])
        starts = sorted({t for _, t in rows})
        if zone == "Australia/Lord_Howe" and bucket == HOUR:
            continue  # its half-hour clock changes make a half-hour bucket each: `bucket_count` counts hours
        assert bucket_count(start, moments[-1] + timedelta(microseconds=1), bucket, tz) == len(starts)


def test_the_exports_hours_are_the_stores(client_for: Callable[[str], APIClient]) -> None:
    """The CSV export's footfall and conversion rows: one per local hour, the repeated hour twice."""
    site = Site.objects.create(name="Staten Island", timezone="America/New_York")
    _record(
        site,
        [_z("2026-11-01T01:30:00-04:00"), _z("2026-11-01T01:30:00-05:00"), _z("2026-11-01T01:40:00-05:00")],
    )
    staff = client_for("staff")
    rows = {}
    for analytic in ("footfall", "conversion"):
        response = staff.get(
            f"/api/sites/{site.pk}/reports/export",
            {"start": "2026-11-01T00:00:00-04:00", "end": "2026-11-02T00:00:00-05:00", "analytic": analytic},
        )
        assert response.status_code == 200, response.content
        text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
        rows[analytic] = [tuple(line.split(",")[:2]) for line in text.splitlines()[1:]]
    expected = [("2026-11-01T01:00:00-04:00", "1"), ("2026-11-01T01:00:00-05:00", "2")]
    assert rows == {"footfall": expected, "conversion": expected}
