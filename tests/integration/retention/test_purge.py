"""The retention purge on PostgreSQL and on the time series (a real InfluxDB 1.x and the embedded store): what is
older than its class's period goes, what is newer or still going on stays."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from server.alerts.models import Alert
from server.audit.models import AuditLog
from server.insights.models import (
    HeatmapHour,
    LineCount,
    LineCrossing,
    PersonVisit,
    QueueWait,
    ZoneDwell,
    ZoneTransition,
)
from server.inventory.services import camera_store_snapshot
from server.notifications.models import Delivery
from server.people.models import IdentityBinding
from server.retention.models import PurgeRun
from server.retention.policy import RetentionPolicy
from server.retention.purge import purge
from server.timeseries.embedded import EmbeddedBackend
from server.timeseries.influx_v1 import InfluxV1Backend
from server.timeseries.measurements import occupancy_point, position_points
from server.timeseries.types import SeriesQuery

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = RetentionPolicy(
    days={
        "positions": 30,
        "timeseries": 400,
        "visits": 100,
        "heatmaps": 100,
        "bindings": 90,
        "snapshots": 30,
        "alerts": 365,
        "audit": 730,
        "deliveries": 30,
    }
)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_postgres_rows_older_than_their_period_go(
    store: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    site, employee, camera = store["site"], store["employee"], store["camera"]
    old_visit = PersonVisit.objects.create(
        site=site, person_id=1, started_at=days_ago(120), ended_at=days_ago(120)
    )
    new_visit = PersonVisit.objects.create(
        site=site, person_id=2, started_at=days_ago(10), ended_at=days_ago(10)
    )
    # a visit that started long ago but ended inside the period stays
    long_visit = PersonVisit.objects.create(
        site=site, person_id=3, started_at=days_ago(120), ended_at=days_ago(50)
    )
    ZoneDwell.objects.create(
        site=site, person_id=1, entered_at=days_ago(120), exited_at=days_ago(120), dwell_s=5, zone_name="A"
    )
    ZoneTransition.objects.create(site=site, person_id=1, at=days_ago(120), to_zone_name="A")
    ZoneTransition.objects.create(site=site, person_id=2, at=days_ago(1), to_zone_name="A")
    for start in (days_ago(120), days_ago(1)):
        HeatmapHour.objects.create(
            site=site,
            hour_start=start,
            columns=1,
            rows=1,
            cell_m=0.5,
            person_s=b"\0" * 4,
            displacement_x_m=b"\0" * 4,
            displacement_y_m=b"\0" * 4,
        )
    ended = IdentityBinding.objects.create(
        site=site,
        person_id=1,
        employee=employee,
        source="manual",
        bound_at=days_ago(100),
        unbound_at=days_ago(95),
    )
    active = IdentityBinding.objects.create(
        site=site, person_id=9, employee=employee, source="manual", bound_at=days_ago(200)
    )
    closed_alert = Alert.objects.create(
        site=site, kind="alarm", message="m", raised_at=days_ago(400), closed_at=days_ago(400)
    )
    ongoing_alert = Alert.objects.create(site=site, kind="alarm", message="m", raised_at=days_ago(400))
    old_entry = AuditLog.objects.create(action="update", object_type="x.y", object_id="1")
    AuditLog.objects.filter(pk=old_entry.pk).update(at=days_ago(800))
    new_entry = AuditLog.objects.create(action="update", object_type="x.y", object_id="2")
    for created, status in ((days_ago(40), "delivered"), (days_ago(40), "pending"), (days_ago(1), "failed")):
        Delivery.objects.create(
            channel="webhook",
            event="test",
            payload={},
            status=status,
            next_attempt_at=created,
            created_at=created,
        )
    camera_store_snapshot(
        camera_id=camera.pk, jpeg=b"\xff\xd8\xff\xd9", capture_time_us=int(days_ago(31).timestamp() * 1e6)
    )
    camera.refresh_from_db()
    snapshot = Path(settings.MEDIA_ROOT) / camera.snapshot.name
    assert snapshot.is_file()

    with django_capture_on_commit_callbacks(execute=True):
        run = purge(policy=POLICY, backend=None, now=NOW, trigger="command")

    assert set(PersonVisit.objects.values_list("pk", flat=True)) == {new_visit.pk, long_visit.pk}
    assert old_visit.pk not in set(PersonVisit.objects.values_list("pk", flat=True))
    assert ZoneDwell.objects.count() == 0
    assert list(ZoneTransition.objects.values_list("person_id", flat=True)) == [2]
    assert HeatmapHour.objects.count() == 1
    assert list(IdentityBinding.objects.values_list("pk", flat=True)) == [active.pk]
    assert not IdentityBinding.objects.filter(pk=ended.pk).exists()
    assert list(Alert.objects.values_list("pk", flat=True)) == [ongoing_alert.pk]
    assert not Alert.objects.filter(pk=closed_alert.pk).exists()
    assert set(AuditLog.objects.values_list("pk", flat=True)) == {new_entry.pk}
    assert sorted(Delivery.objects.values_list("status", flat=True)) == ["failed", "pending"]
    camera.refresh_from_db()
    assert not camera.snapshot
    assert not snapshot.exists()
    assert run.deleted["visits"] == 1
    assert run.deleted["bindings"] == 1
    assert run.deleted["snapshots"] == 1
    assert run.errors == {
        "positions": "no time-series store in this process",
        "timeseries": "no time-series store in this process",
    }
    assert PurgeRun.objects.get(pk=run.pk).finished_at is not None


@pytest.mark.django_db
def test_door_crossings_door_counts_and_queue_waits_follow_the_visits_period(store: dict[str, Any]) -> None:
    """A person's door crossings and queue waits are their path as much as their zone dwells are; they outlived
    the visits period (the purge did not know the door and queue tables)."""
    site = store["site"]
    for person, at in ((1, days_ago(120)), (2, days_ago(5))):
        LineCrossing.objects.create(
            site=site, line_name="door", entrance=True, person_id=person, direction="in", at=at
        )
        QueueWait.objects.create(
            site=site, zone_name="tills", person_id=person, joined_at=at, served_at=at, left_at=at, wait_s=3.0
        )
        LineCount.objects.create(site=site, line_name="door", entrance=True, start=at, in_count=1)
    run = purge(policy=POLICY, backend=None, now=NOW, trigger="command")
    assert list(LineCrossing.objects.values_list("person_id", flat=True)) == [2]
    assert list(QueueWait.objects.values_list("person_id", flat=True)) == [2]
    assert LineCount.objects.count() == 1
    assert (run.deleted["line_crossings"], run.deleted["queue_waits"], run.deleted["line_counts"]) == (
        1,
        1,
        1,
    )


def test_zero_days_keeps_a_class_for_ever(store: dict[str, Any]) -> None:
    AuditLog.objects.filter(
        pk=AuditLog.objects.create(action="x", object_type="x.y", object_id="1").pk
    ).update(at=days_ago(5000))
    purge(policy=RetentionPolicy(days={**POLICY.days, "audit": 0}), backend=None, now=NOW)
    assert AuditLog.objects.count() == 1


def _write_points(backend: Any, now: datetime) -> None:
    def ns(moment: datetime) -> int:
        return int(moment.timestamp() * 1e9)

    backend.write_batch(
        [
            *position_points(site_id=1, time_ns=ns(now - timedelta(days=40)), positions=[(1, 1.0, 1.0)]),
            *position_points(site_id=1, time_ns=ns(now - timedelta(days=5)), positions=[(2, 2.0, 2.0)]),
            occupancy_point(site_id=1, time_ns=ns(now - timedelta(days=40)), people=3),
            occupancy_point(site_id=1, time_ns=ns(now - timedelta(days=500)), people=4),
        ]
    )


def _count(backend: Any, measurement: str, field: str) -> int:
    rows = backend.query(
        SeriesQuery(
            measurement=measurement,
            fields=(field,),
            start_ns=0,
            end_ns=int((timezone.now() + timedelta(days=1)).timestamp() * 1e9),
            tags={"site": "1"},
        )
    )
    return len(rows)


@pytest.mark.parametrize("kind", ["influxdb-v1", "embedded"])
def test_time_series_older_than_their_period_go(
    db: None, kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "influxdb-v1":
        server = request.getfixturevalue("influxdb")
        backend: Any = InfluxV1Backend(server.url, request.getfixturevalue("influx_database"))
    else:
        backend = EmbeddedBackend(tmp_path / "ts.sqlite3")
    now = timezone.now()
    try:
        _write_points(backend, now)
        assert _count(backend, "positions", "person_id") == 2
        assert _count(backend, "occupancy", "people") == 2
        run = purge(policy=POLICY, backend=backend, now=now)
        assert run.errors == {}, run.errors
        assert _count(backend, "positions", "person_id") == 1  # 40 days > 30: gone; 5 days: kept
        assert _count(backend, "occupancy", "people") == 1  # 40 days < 400: kept; 500 days: gone
    finally:
        backend.close()


def test_purge_command_prints_what_it_deleted(store: dict[str, Any], settings: Any) -> None:
    settings.RETENTION_VISITS_DAYS = 10
    PersonVisit.objects.create(
        site=store["site"],
        person_id=1,
        started_at=timezone.now() - timedelta(days=20),
        ended_at=timezone.now() - timedelta(days=20),
    )
    out = StringIO()
    call_command("purge", "--no-timeseries", stdout=out, stderr=StringIO())
    answer = json.loads(out.getvalue())
    assert answer["deleted"]["visits"] == 1
    assert PersonVisit.objects.count() == 0


def test_retention_api(store: dict[str, Any], client_for: Any, settings: Any, tmp_path: Path) -> None:
    settings.INFLUX_URL = ""
    settings.TIMESERIES_EMBEDDED_PATH = tmp_path / "ts.sqlite3"
    admin = client_for("admin")
    body = admin.get("/api/retention").json()
    policy = {row["data_class"]: row for row in body["policy"]}
    assert policy["positions"]["days"] == settings.RETENTION_POSITIONS_DAYS
    assert policy["bindings"]["setting"] == "RETENTION_BINDINGS_DAYS"
    ran = admin.post("/api/retention")
    assert ran.status_code == 200, ran.content
    assert ran.json()["trigger"] == "api"
    assert admin.get("/api/retention").json()["purges"][0]["id"] == ran.json()["id"]
    assert client_for("staff").get("/api/retention").status_code == 403
    assert client_for("staff").post("/api/retention").status_code == 403


def test_periods_set_in_the_dashboard_replace_the_settings_until_reset(
    store: dict[str, Any], client_for: Any, settings: Any, tmp_path: Path
) -> None:
    """PUT /api/retention: a period per class replaces RETENTION_<CLASS>_DAYS at the next purge, is audited, is
    refused whole when one value is wrong, and null goes back to the setting."""
    settings.INFLUX_URL = ""
    settings.TIMESERIES_EMBEDDED_PATH = tmp_path / "ts.sqlite3"
    settings.RETENTION_VISITS_DAYS = 400
    fifty_days_ago = timezone.now() - timedelta(days=50)
    PersonVisit.objects.create(
        site=store["site"], person_id=7, started_at=fifty_days_ago, ended_at=fifty_days_ago
    )
    admin = client_for("admin")
    answer = admin.put(
        "/api/retention", {"days": {"visits": 30, "audit": 0}}, content_type="application/json"
    )
    assert answer.status_code == 200, answer.content
    policy = {row["data_class"]: row for row in answer.json()["policy"]}
    assert (policy["visits"]["days"], policy["visits"]["source"], policy["visits"]["environment_days"]) == (
        30,
        "dashboard",
        400,
    )
    assert (policy["audit"]["days"], policy["audit"]["source"]) == (0, "dashboard")
    assert policy["positions"]["source"] == "environment"
    assert AuditLog.objects.filter(object_type="retention.retentionsetting", action="create").count() == 2

    # The next purge uses the period set in the dashboard: the 50-day-old visit is past 30 days.
    assert admin.post("/api/retention").json()["deleted"]["visits"] == 1

    # All or nothing: one bad value refuses the whole request, with the field named.
    for bad, field in (
        ({"visits": 10, "nonsense": 5}, "days.nonsense"),
        ({"visits": 10, "audit": -1}, "days"),
        ({"visits": "ten"}, "days"),
    ):
        refused = admin.put("/api/retention", {"days": bad}, content_type="application/json")
        assert refused.status_code == 400, (bad, refused.content)
        assert field in json.dumps(refused.json()["extra"]["fields"]), refused.json()
    assert {r["data_class"]: r["days"] for r in admin.get("/api/retention").json()["policy"]}["visits"] == 30

    # null resets the class to the server's setting.
    reset = admin.put("/api/retention", {"days": {"visits": None}}, content_type="application/json")
    policy = {row["data_class"]: row for row in reset.json()["policy"]}
    assert (policy["visits"]["days"], policy["visits"]["source"]) == (400, "environment")
    assert AuditLog.objects.filter(object_type="retention.retentionsetting", action="delete").count() == 1
    assert (
        client_for("staff")
        .put("/api/retention", {"days": {"visits": 1}}, content_type="application/json")
        .status_code
        == 403
    )
