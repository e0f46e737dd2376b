"""An employee's data exported and erased on request (REST, audited), and the heat map's small-count
suppression in the heat-map API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from server.alerts.models import Alert
from server.audit.models import AuditLog
from server.audit.services import audited_update
from server.insights.models import (
    HeatmapHour,
    HeatmapSlice,
    LineCrossing,
    PersonVisit,
    QueueWait,
    ZoneDwell,
    ZoneTransition,
)
from server.notifications.models import Delivery
from server.people.models import Employee, IdentityBinding, ZonePermission
from server.retention import timeseries as registered_timeseries
from server.timeseries.embedded import EmbeddedBackend
from server.timeseries.influx_v1 import InfluxV1Backend
from server.timeseries.measurements import POSITIONS, position_points
from server.timeseries.types import SeriesQuery
from tests.integration.api.test_listings import _slice

pytestmark = [pytest.mark.integration]

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def kim(store: dict[str, Any], users: Any) -> dict[str, Any]:
    """Kim was person 5 from 10:00 to 10:30; person 5 again later (after a restart) is somebody else."""
    site, employee = store["site"], store["employee"]
    audited_update(actor=users["admin"], instance=employee, data={"name": "Kimberly"})
    audited_update(actor=users["admin"], instance=employee, data={"name": "Kim"})
    audited_update(actor=users["admin"], instance=employee, data={"badge_id": "B-101"})
    IdentityBinding.objects.create(
        site=site, person_id=5, employee=employee, source="badge", bound_at=at(0), unbound_at=at(30)
    )
    ZonePermission.objects.create(employee=employee, zone=store["restricted"])
    mine = PersonVisit.objects.create(site=site, person_id=5, started_at=at(-5), ended_at=at(40))
    later = PersonVisit.objects.create(site=site, person_id=5, started_at=at(600), ended_at=at(620))
    other = PersonVisit.objects.create(site=site, person_id=6, started_at=at(0), ended_at=at(30))
    ZoneDwell.objects.create(
        site=site, person_id=5, zone_name="Promo", entered_at=at(10), exited_at=at(12), dwell_s=120
    )
    ZoneTransition.objects.create(site=site, person_id=5, at=at(10), to_zone_name="Promo")
    named = Alert.objects.create(
        site=site, kind="alarm", message="Kim entered", employee=employee, person_name="Kim", raised_at=at(20)
    )
    unnamed = Alert.objects.create(site=site, kind="alarm", message="someone", raised_at=at(21))
    Delivery.objects.create(
        alert_id=named.pk,
        channel="webhook",
        event="alert.opened",
        payload={
            "event": "alert.opened",
            "alert": {"id": named.pk, "person_name": "Kim", "employee": employee.pk},
        },
        next_attempt_at=at(20),
        created_at=at(20),
    )
    return {
        "employee": employee,
        "mine": mine,
        "later": later,
        "other": other,
        "named": named,
        "unnamed": unnamed,
    }


def test_export_holds_everything_about_the_employee(kim: dict[str, Any], client_for: Any) -> None:
    employee = kim["employee"]
    answer = client_for("admin").get(f"/api/employees/{employee.pk}/export")
    assert answer.status_code == 200, answer.content
    assert answer["Content-Disposition"] == f'attachment; filename="employee-{employee.pk}.json"'
    document = answer.json()
    assert document["employee"]["name"] == "Kim"
    assert document["employee"]["badge_id"] == "B-101"
    assert document["level"] == "Clerk"
    assert len(document["bindings"]) == 1
    assert len(document["zone_permissions"]) == 1
    assert [v["started_at"] for v in document["visits"]] == [at(-5).isoformat()]  # not the later person 5
    assert [d["dwell_s"] for d in document["zone_dwells"]] == [120]
    assert len(document["zone_transitions"]) == 1
    assert [a["id"] for a in document["alerts"]] == [kim["named"].pk]
    assert [e["action"] for e in document["audit_entries"]] == ["update", "update", "update"]
    assert AuditLog.objects.filter(action="export", object_id=str(employee.pk)).count() == 1


def test_erase_removes_the_linked_data_and_anonymises_the_rest(kim: dict[str, Any], client_for: Any) -> None:
    employee = kim["employee"]
    admin = client_for("admin")
    refused = admin.post(f"/api/employees/{employee.pk}/erase", {"confirm": "kim"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "not_confirmed"
    assert Employee.objects.filter(pk=employee.pk).exists()

    answer = admin.post(f"/api/employees/{employee.pk}/erase", {"confirm": "Kim"}, format="json")
    assert answer.status_code == 200, answer.content
    counts = answer.json()["counts"]
    assert counts["visits"] == 1
    assert counts["bindings"] == 1
    assert counts["alerts_anonymised"] == 1
    assert not Employee.objects.filter(pk=employee.pk).exists()
    assert not IdentityBinding.objects.exists()
    assert not ZonePermission.objects.exists()
    assert set(PersonVisit.objects.values_list("pk", flat=True)) == {kim["later"].pk, kim["other"].pk}
    assert not ZoneDwell.objects.exists()
    assert not ZoneTransition.objects.exists()
    named = Alert.objects.get(pk=kim["named"].pk)
    assert (named.person_name, named.employee_id) == ("(erased)", None)
    assert Alert.objects.get(pk=kim["unnamed"].pk).person_name == ""
    assert Delivery.objects.get(alert_id=named.pk).payload["alert"]["person_name"] == "(erased)"
    assert counts["notifications_anonymised"] == 1
    entries = AuditLog.objects.filter(object_type="people.employee", object_id=str(employee.pk))
    assert "Kim" not in str([(e.object_repr, e.changes) for e in entries])
    assert "B-10" not in str([e.changes for e in entries])
    assert entries.filter(action="erase").count() == 1
    assert admin.get(f"/api/employees/{employee.pk}/export").status_code == 404


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e6) * 1000


@pytest.mark.parametrize("kind", ["influxdb-v1", "embedded"])
def test_erase_removes_the_employees_positions_from_the_time_series(
    kim: dict[str, Any], client_for: Any, kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Person 5 was Kim from 10:00 to 10:30, seen from 9:55 to 10:40: their positions in that visit go (before the
    binding too), whatever the store; person 6 beside them all along and the later person 5 (somebody else) keep
    theirs, with their values and field types."""
    if kind == "influxdb-v1":
        server = request.getfixturevalue("influxdb")
        backend: Any = InfluxV1Backend(server.url, request.getfixturevalue("influx_database"))
    else:
        backend = EmbeddedBackend(tmp_path / "ts.sqlite3")
    site = kim["mine"].site_id
    samples = [at(m) for m in (-5, -1, 0, 7.5, 29, 31, 40)]  # across 10 minutes and more: several chunks
    points = [
        point
        for moment in samples
        for point in position_points(
            site_id=site, time_ns=_ns(moment), positions=[(5, 1.5, 2.0), (6, 3.0, 4.0)]
        )
    ]
    points += position_points(site_id=site, time_ns=_ns(at(610)), positions=[(5, 7.0, 8.0)])
    points += position_points(
        site_id=site + 1000, time_ns=_ns(at(0)), positions=[(5, 9.0, 9.0)]
    )  # other site
    backend.write_batch(points)
    LineCrossing.objects.create(site_id=site, person_id=5, direction="in", at=at(-4))
    QueueWait.objects.create(site_id=site, person_id=5, joined_at=at(25), left_at=at(26))
    registered_timeseries.use(backend)
    try:
        answer = client_for("admin").post(
            f"/api/employees/{kim['employee'].pk}/erase", {"confirm": "Kim"}, format="json"
        )
        assert answer.status_code == 200, answer.content
        assert answer.json()["counts"]["positions"] == len(samples)
        rows = backend.query(SeriesQuery(POSITIONS, _ns(at(-60)), _ns(at(700)), tags={"site": str(site)}))
    finally:
        registered_timeseries.use(None)
    left = sorted((r.time_ns, r.fields["person_id"], r.fields["x_m"], r.fields["y_m"]) for r in rows)
    expected = [(_ns(m) + 1, 6, 3.0, 4.0) for m in samples] + [(_ns(at(610)), 5, 7.0, 8.0)]
    assert left == expected
    other = backend.query(SeriesQuery(POSITIONS, _ns(at(-60)), _ns(at(700)), tags={"site": str(site + 1000)}))
    assert [r.fields["person_id"] for r in other] == [5]
    assert not LineCrossing.objects.exists()
    assert not QueueWait.objects.exists()
    # The write-back kept each field's type: a float written now into x_m is taken.
    backend.write_batch(position_points(site_id=site, time_ns=_ns(at(1)), positions=[(6, 2.5, 1.0)]))
    backend.close()


def test_an_erasure_the_time_series_cannot_do_now_erases_nothing(
    kim: dict[str, Any], client_for: Any
) -> None:
    # An InfluxDB that does not answer (nothing listens on the port): the erasure fails whole, to be retried.
    backend = InfluxV1Backend("http://127.0.0.1:9", "retail", timeout_s=1.0, connect_timeout_s=0.5)
    registered_timeseries.use(backend)
    try:
        answer = client_for("admin").post(
            f"/api/employees/{kim['employee'].pk}/erase", {"confirm": "Kim"}, format="json"
        )
    finally:
        registered_timeseries.use(None)
        backend.close()
    assert answer.status_code == 503, answer.content
    assert answer.json()["code"] == "timeseries_unavailable"
    assert Employee.objects.filter(pk=kim["employee"].pk).exists()
    assert PersonVisit.objects.filter(pk=kim["mine"].pk).exists()
    assert IdentityBinding.objects.exists()


@pytest.mark.parametrize("role", ["staff", "installer"])
def test_only_admins_export_or_erase(kim: dict[str, Any], client_for: Any, role: str) -> None:
    employee = kim["employee"]
    client = client_for(role)
    assert client.get(f"/api/employees/{employee.pk}/export").status_code == 403
    assert (
        client.post(f"/api/employees/{employee.pk}/erase", {"confirm": "Kim"}, format="json").status_code
        == 403
    )
    assert Employee.objects.filter(pk=employee.pk).exists()


def _dense(values: dict[int, float]) -> bytes:
    array = np.zeros(4, dtype="<f4")
    for index, value in values.items():
        array[index] = value
    return array.tobytes()


@pytest.mark.parametrize(
    ("visitors", "cells", "suppressed", "range_suppressed"),
    [
        (2, [], 3, True),  # two people on the site that hour: nothing shown
        (3, [[2, 0, 40.0, 40.0, 0.0], [3, 0, 3.0, 3.0, 0.0]], 1, False),  # the 1-second cell goes
    ],
)
def test_heatmap_api_suppresses_small_counts(
    store: dict[str, Any],
    client_for: Any,
    visitors: int,
    cells: list[list[float]],
    suppressed: int,
    range_suppressed: bool,
) -> None:
    site = store["site"]
    person_s = _dense({1: 1.0, 2: 40.0, 3: 3.0})
    HeatmapHour.objects.create(
        site=site,
        hour_start=T0,
        columns=4,
        rows=1,
        cell_m=0.5,
        person_s=person_s,
        displacement_x_m=person_s,
        displacement_y_m=_dense({}),
    )
    for person in range(visitors):
        PersonVisit.objects.create(site=site, person_id=100 + person, started_at=at(5), ended_at=at(10))
    PersonVisit.objects.create(
        site=site, person_id=999, started_at=at(-300), ended_at=at(-200)
    )  # not in range
    answer = client_for("staff").get(
        f"/api/sites/{site.pk}/analytics/heatmap", {"start": at(0).isoformat(), "end": at(60).isoformat()}
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["cells"] == cells
    assert body["privacy"]["suppressed_cells"] == suppressed
    assert body["privacy"]["range_suppressed"] is range_suppressed
    assert body["privacy"]["distinct_persons"] == visitors


def test_a_quiet_frame_of_a_busy_range_shows_nothing(store: dict[str, Any], client_for: Any) -> None:
    """10:00-10:15 had three visitors, 10:30-10:45 one: the per-15-minute frames show the first, not the second,
    although the hour as a whole had four."""
    site = store["site"]
    HeatmapSlice.objects.bulk_create([_slice(site, at(minute), {2: 30.0}) for minute in (1, 31)])
    for person in range(3):
        PersonVisit.objects.create(site=site, person_id=200 + person, started_at=at(0), ended_at=at(14))
    PersonVisit.objects.create(site=site, person_id=300, started_at=at(30), ended_at=at(40))
    answer = client_for("staff").get(
        f"/api/sites/{site.pk}/analytics/heatmap",
        {"start": at(0).isoformat(), "end": at(60).isoformat(), "bucket": "15m"},
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["privacy"]["range_suppressed"] is False
    frames = {frame["t"]: frame for frame in body["frames"]}
    assert frames[at(0).isoformat()]["cells"] == [[2, 0, 30.0, 30.0, 0.0]]
    quiet = frames[at(30).isoformat()]
    assert quiet["cells"] == []
    assert quiet["suppressed"] is True


def test_heatmap_export_suppresses_like_the_api(store: dict[str, Any], client_for: Any) -> None:
    """The CSV/XLSX export of server/reports is another door to the same heat map: two visitors that hour
    (under PRIVACY_MIN_PERSONS) must not come out of it cell by cell."""
    site = store["site"]
    person_s = _dense({1: 1.0, 2: 40.0, 3: 3.0})
    HeatmapHour.objects.create(
        site=site,
        hour_start=T0,
        columns=4,
        rows=1,
        cell_m=0.5,
        person_s=person_s,
        displacement_x_m=person_s,
        displacement_y_m=_dense({}),
    )
    for person in range(2):
        PersonVisit.objects.create(site=site, person_id=100 + person, started_at=at(5), ended_at=at(10))
    answer = client_for("staff").get(
        f"/api/sites/{site.pk}/reports/export",
        {"start": at(0).isoformat(), "end": at(60).isoformat(), "analytic": "heatmap"},
    )
    assert answer.status_code == 200
    lines = b"".join(answer.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("column,row")
    assert lines[1:] == []  # the header only: every cell suppressed


def test_erase_removes_the_name_from_alert_messages(kim: dict[str, Any], client_for: Any) -> None:
    """Alert messages name the employee ("An unauthorized employee (Kim) …", server/analytics/site.py), and so do
    the notification payloads copied from them: the erasure keeps the alerts but not the name in their text."""
    named = kim["named"]
    Alert.objects.filter(pk=named.pk).update(message="An unauthorized employee (Kim) entered Stock room")
    delivery = Delivery.objects.get(alert_id=named.pk)
    delivery.payload["alert"]["message"] = "An unauthorized employee (Kim) entered Stock room"
    delivery.save()
    Alert.objects.filter(pk=kim["unnamed"].pk).update(message="Kimono stand moved")  # not the name: kept
    answer = client_for("admin").post(
        f"/api/employees/{kim['employee'].pk}/erase", {"confirm": "Kim"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert Alert.objects.get(pk=named.pk).message == "An unauthorized employee ((erased)) entered Stock room"
    assert "Kim" not in str(Delivery.objects.get(pk=delivery.pk).payload)
    assert Alert.objects.get(pk=kim["unnamed"].pk).message == "Kimono stand moved"


@pytest.mark.django_db(transaction=True)
def test_erasures_at_one_site_take_turns(store: dict[str, Any], users: Any, tmp_path: Path) -> None:
    """Two erasures at one site at once (two leavers of one shift, a double submit) must not interleave their
    time-series rewrites: on InfluxDB 1.x each reads a chunk, deletes it and writes back the rest, so the one that
    read before the other's delete writes the other's erased positions back, and the one that read between the
    other's delete and its write-back deletes what it never read (everyone else's positions). The second waits
    for the first's transaction."""
    import threading

    from django.db import connection, transaction

    from server.retention.privacy import employee_erase

    site = store["site"]
    kim, level = store["employee"], store["level"]
    bob = Employee.objects.create(name="Bob", level=level, badge_id="B-200")
    for person_id, employee in ((5, kim), (6, bob)):
        IdentityBinding.objects.create(
            site=site,
            person_id=person_id,
            employee=employee,
            source="badge",
            bound_at=at(0),
            unbound_at=at(30),
        )
        PersonVisit.objects.create(site=site, person_id=person_id, started_at=at(-5), ended_at=at(40))
    backend = EmbeddedBackend(tmp_path / "ts.sqlite3")
    backend.write_batch(
        position_points(
            site_id=site.pk, time_ns=_ns(at(1)), positions=[(5, 1.0, 1.0), (6, 2.0, 2.0), (7, 3.0, 3.0)]
        )
    )
    registered_timeseries.use(backend)
    first_done, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                employee_erase(actor=users["admin"], employee=Employee.objects.get(pk=kim.pk))
                first_done.set()
                release.wait(10)
        except BaseException as err:
            errors.append(err)
            first_done.set()
        finally:
            connection.close()

    def second() -> None:
        try:
            employee_erase(actor=users["admin"], employee=Employee.objects.get(pk=bob.pk))
        except BaseException as err:
            errors.append(err)
        finally:
            connection.close()

    try:
        one = threading.Thread(target=first)
        one.start()
        assert first_done.wait(10)
        two = threading.Thread(target=second)
        two.start()
        two.join(1.5)
        waited = two.is_alive()
        release.set()
        one.join(10)
        two.join(10)
    finally:
        release.set()
        registered_timeseries.use(None)
    assert not errors, errors
    assert waited, "the second erasure at the site ran while the first one's was not committed"
    assert not Employee.objects.filter(pk__in=[kim.pk, bob.pk]).exists()
    rows = backend.query(SeriesQuery(POSITIONS, _ns(at(-60)), _ns(at(60)), tags={"site": str(site.pk)}))
    assert [r.fields["person_id"] for r in rows] == [7]
    backend.close()
