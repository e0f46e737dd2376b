"""The distancing chart's buckets over REST: the violations over time per minute, 5 or 15 minutes, hour or day
(`bucket`), so that the last hour is more than one bar; a bucket too fine for the range is refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.insights.models import DistancingViolation

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("bucket", "over_time"),
    [
        ("1m", [("14:01", 2), ("14:03", 1), ("14:17", 1)]),
        ("5m", [("14:00", 3), ("14:15", 1)]),
        ("15m", [("14:00", 3), ("14:15", 1)]),
        ("hour", [("14:00", 4)]),
        ("day", [("00:00", 4)]),
        (None, [("14:00", 4)]),  # the default: hourly, as before
    ],
)
def test_violations_over_time_in_the_bucket_asked_for(
    bucket: str | None,
    over_time: list[tuple[str, int]],
    store: dict[str, Any],
    client_for: Callable[[str], Any],
) -> None:
    site = store["site"]
    for n, (minute, second) in enumerate([(1, 5), (1, 50), (3, 0), (17, 30)]):
        at = T0 + timedelta(minutes=minute, seconds=second)
        DistancingViolation.objects.create(
            site=site, person_a=n, person_b=n + 10, started_at=at, last_close_at=at, min_distance_m=1.0
        )
    params = {"start": "2026-12-01T14:00:00Z", "end": "2026-12-01T15:00:00Z"}
    if bucket:
        params["bucket"] = bucket
    body = client_for("staff").get(f"/api/sites/{site.pk}/analytics/distancing", params).json()
    assert body["bucket"] == (bucket or "hour")
    assert [(r["t"][11:16], r["count"]) for r in body["over_time"]] == over_time
    assert body["total"] == 4


@pytest.mark.parametrize(
    ("bucket", "days", "status"),
    [("1m", 2, 400), ("5m", 6, 200), ("5m", 7, 400), ("1h", 1, 400), ("day", 30, 200)],
)
def test_a_bucket_too_fine_for_the_range_or_unknown_is_refused(
    bucket: str, days: int, status: int, store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    end = T0
    params = {"start": (end - timedelta(days=days)).isoformat(), "end": end.isoformat(), "bucket": bucket}
    response = client_for("staff").get(f"/api/sites/{store['site'].pk}/analytics/distancing", params)
    assert response.status_code == status, response.content
    if status == 400:
        assert "bucket" in response.json()["extra"]["fields"]


def test_a_range_not_on_a_bucket_start_counts_the_bucket_it_starts_in(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    # 2,000 minutes from 30 s past a minute touch 2,001 one-minute buckets: more bars than the cap.
    start = T0 + timedelta(seconds=30)
    site = store["site"]
    for params, status in [
        ({"start": start, "end": start + timedelta(minutes=2000)}, 400),
        ({"start": T0, "end": T0 + timedelta(minutes=2000)}, 200),
        ({"start": start, "end": start + timedelta(minutes=1999)}, 200),
    ]:
        query = {"start": params["start"].isoformat(), "end": params["end"].isoformat(), "bucket": "1m"}
        response = client_for("staff").get(f"/api/sites/{site.pk}/analytics/distancing", query)
        assert response.status_code == status, (query, response.content)


def test_the_default_bucket_over_months_is_daily_not_refused(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    # Hourly (the default, and all there was before `bucket`) over 100 days would be 2,400 bars: a request that
    # names no bucket, answered before, gets daily bars and is told so; an explicit `hour` is still refused.
    site = store["site"]
    at = T0 - timedelta(days=50)
    DistancingViolation.objects.create(
        site=site, person_a=1, person_b=2, started_at=at, last_close_at=at, min_distance_m=1.0
    )
    query = {"start": (T0 - timedelta(days=100)).isoformat(), "end": T0.isoformat()}
    response = client_for("staff").get(f"/api/sites/{site.pk}/analytics/distancing", query)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["bucket"] == "day"
    assert [(r["t"][:10], r["count"]) for r in body["over_time"]] == [(at.date().isoformat(), 1)]
    response = client_for("staff").get(
        f"/api/sites/{site.pk}/analytics/distancing", {**query, "bucket": "hour"}
    )
    assert response.status_code == 400
