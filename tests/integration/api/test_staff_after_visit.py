"""A person bound to an employee once their visit has ended (a manual binding from the records, a badge read
processed late), on PostgreSQL: the live analytics never report that person again, so the recorder never re-marked
them, and their visit, door crossing and counts, flow, queue wait and zone dwell stayed a visitor's. The binding
now re-marks them in its own transaction; a person still in a visit is left to the recorder (docs/kpis.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.insights.models import LineCount, LineCrossing, PersonVisit, QueueWait, ZoneDwell, ZoneTransition
from server.inventory.models import Zone, ZoneKind
from server.people.services import identity_bind

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

T0 = datetime(2026, 11, 30, 10, 7, tzinfo=UTC)
BUCKET = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def _records(site: Any, door: Zone, person_id: int, *, ended: bool) -> None:
    PersonVisit.objects.create(
        site=site, person_id=person_id, started_at=T0, ended_at=T0 + timedelta(minutes=5) if ended else None
    )
    LineCrossing.objects.create(
        site=site, line=door, line_name=door.name, entrance=True, person_id=person_id, direction="in", at=T0
    )
    QueueWait.objects.create(
        site=site,
        zone_name="Queue",
        person_id=person_id,
        joined_at=T0,
        served_at=T0 + timedelta(seconds=30),
        left_at=T0 + timedelta(seconds=60),
        wait_s=30.0,
    )
    ZoneDwell.objects.create(
        site=site,
        zone_name="Till",
        person_id=person_id,
        entered_at=T0,
        exited_at=T0 + timedelta(seconds=60),
        dwell_s=60.0,
    )
    ZoneTransition.objects.create(
        site=site, person_id=person_id, from_zone_name="Queue", to_zone_name="Till", at=T0
    )


def _staff_flags(site: Any, person_id: int) -> set[bool]:
    return {
        flag
        for model in (PersonVisit, LineCrossing, QueueWait, ZoneDwell, ZoneTransition)
        for flag in model.objects.filter(site=site, person_id=person_id).values_list("staff", flat=True)
    }


def test_a_person_bound_after_their_visit_ended_is_staff_in_every_record(store: dict[str, Any]) -> None:
    site, employee = store["site"], store["employee"]
    door = Zone.objects.create(site=site, name="Front door", kind=ZoneKind.DOOR, polygon=[[4, 15], [4, 18]])
    _records(site, door, 41, ended=True)
    _records(site, door, 42, ended=True)  # a visitor beside them: stays a visitor
    LineCount.objects.create(
        site=site, line=door, line_name=door.name, entrance=True, start=BUCKET, in_count=2
    )
    identity_bind(actor=None, site=site, person_id=41, employee=employee)
    assert _staff_flags(site, 41) == {True}
    assert _staff_flags(site, 42) == {False}
    counts = LineCount.objects.get(site=site, line=door, start=BUCKET)
    assert (counts.in_count, counts.staff_in, counts.out_count, counts.staff_out) == (1, 1, 0, 0)
    # Bound again later (a second binding of the same person): nothing moves twice.
    identity_bind(actor=None, site=site, person_id=41, employee=employee)
    counts.refresh_from_db()
    assert (counts.in_count, counts.staff_in) == (1, 1)


def test_a_person_still_in_their_visit_is_left_to_the_recorder(store: dict[str, Any]) -> None:
    # The recorder re-marks a live person, and moves their door counts, when the analytics report them bound:
    # moving them here too would count them twice.
    site, employee = store["site"], store["employee"]
    door = Zone.objects.create(site=site, name="Front door", kind=ZoneKind.DOOR, polygon=[[4, 15], [4, 18]])
    _records(site, door, 43, ended=False)
    LineCount.objects.create(
        site=site, line=door, line_name=door.name, entrance=True, start=BUCKET, in_count=1
    )
    identity_bind(actor=None, site=site, person_id=43, employee=employee)
    assert _staff_flags(site, 43) == {False}
    assert LineCount.objects.get(site=site, line=door, start=BUCKET).in_count == 1
