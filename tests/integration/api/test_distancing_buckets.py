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
