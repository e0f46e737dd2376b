"""Unbinding un-marks staff, on PostgreSQL (docs/kpis.md, "Staff").

A binding removed (a wrong manual binding corrected, a badge binding revoked) used to leave the person's records
marked as staff's, so a real visitor stayed out of every visitor KPI, and the live analytics kept them staff (the
mark is sticky). Now an unbind un-marks exactly what the binding marked: in its own transaction for a person whose
visit has ended; through the live analytics (``PersonIdentity.revoked``, ``unstaffed_ids``) and the recorder for
a person still in a visit. And a binding or unbinding made in the moment between the analytics ending a person and
the recorder storing the end of their visit is applied when the recorder stores it."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from django.db import connection, transaction

from server.analytics import SiteAnalytics
from server.analytics.types import AnalyticsUpdate, DwellRecord
from server.audit.models import AuditLog
from server.fusion import EndedPerson
from server.insights.models import LineCount, LineCrossing, PersonVisit
from server.insights.recorder import InsightsRecorder
from server.insights.selectors import site_identities, site_setup
from server.inventory.models import Zone, ZoneKind
from server.people.models import Employee, IdentityBinding
from server.people.services import identity_bind, identity_unbind
from tests.integration.api.test_staff_after_visit import BUCKET, _records, _staff_flags
from tests.support.frames import fused_frame

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

T0_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def _door(site: Any) -> Zone:
    return Zone.objects.create(site=site, name="Front door", kind=ZoneKind.DOOR, polygon=[[20, 5], [24, 5]])


def _counts(site: Any, door: Zone) -> tuple[int, int, int, int]:
    rows = LineCount.objects.filter(site=site, line=door)
    return (
        sum(r.in_count for r in rows),
        sum(r.out_count for r in rows),
        sum(r.staff_in for r in rows),
        sum(r.staff_out for r in rows),
    )


def test_unbinding_a_person_whose_visit_ended_makes_them_a_visitor_again(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    site, employee = store["site"], store["employee"]
    door = Zone.objects.create(site=site, name="Front door", kind=ZoneKind.DOOR, polygon=[[4, 15], [4, 18]])
    _records(site, door, 41, ended=True)
    _records(site, door, 42, ended=True)  # a real employee beside them: stays staff
    LineCount.objects.create(
        site=site, line=door, line_name=door.name, entrance=True, start=BUCKET, in_count=2
    )
    other = Employee.objects.create(name="Lee", level=store["level"], badge_id="B-200")
    wrong = identity_bind(actor=None, site=site, person_id=41, employee=employee)
    identity_bind(actor=None, site=site, person_id=42, employee=other)
    assert _staff_flags(site, 41) == {True}
    counts = LineCount.objects.get(site=site, line=door, start=BUCKET)
    assert (counts.in_count, counts.staff_in) == (0, 2)

    response = client_for("admin").post(f"/api/identity-bindings/{wrong.pk}/unbind")
    assert response.status_code == 200, response.content
    assert _staff_flags(site, 41) == {False}
    assert _staff_flags(site, 42) == {True}
    counts.refresh_from_db()
    assert (counts.in_count, counts.staff_in, counts.out_count, counts.staff_out) == (1, 1, 0, 0)
    audit = AuditLog.objects.get(action="unbind", object_id=str(wrong.pk))
    assert audit.changes["revoked"] is True
    assert audit.changes["staff_records_unmarked"] == 6  # the count row and the 5 records
    assert AuditLog.objects.get(action="bind", object_id=str(wrong.pk)).changes["staff_records_marked"] == 6
    assert IdentityBinding.objects.get(pk=wrong.pk).revoked
    assert response.json()["revoked"] is True


def test_a_superseded_binding_keeps_its_person_staff(store: dict[str, Any]) -> None:
    # The employee bound to another person later (their track was lost and found again): the first person was
    # them, and stays staff; only an unbind revokes.
    site, employee = store["site"], store["employee"]
    door = Zone.objects.create(site=site, name="Front door", kind=ZoneKind.DOOR, polygon=[[4, 15], [4, 18]])
    _records(site, door, 43, ended=True)
    LineCount.objects.create(
        site=site, line=door, line_name=door.name, entrance=True, start=BUCKET, in_count=1
    )
    identity_bind(actor=None, site=site, person_id=43, employee=employee)
    later = identity_bind(actor=None, site=site, person_id=44, employee=employee)
    assert _staff_flags(site, 43) == {True}
    assert not IdentityBinding.objects.get(site=site, person_id=43).revoked
    identity_unbind(actor=None, binding=later)  # person 44's binding revoked: person 43 untouched
    assert _staff_flags(site, 43) == {True}
    assert LineCount.objects.get(site=site, line=door, start=BUCKET).staff_in == 1


def _update_of(site_id: int, *, dwell: list[DwellRecord]) -> AnalyticsUpdate:
    return AnalyticsUpdate(
        site_id=site_id,
        time_us=0,
        global_ids=np.zeros(0, dtype=np.int64),
        zone_ids=np.zeros(0, dtype=np.int64),
        in_zone=np.zeros((0, 0), dtype=np.bool_),
        site_occupancy=0,
        zone_occupancy={},
        dwell=dwell,
    )


def _walk(k: int) -> dict[int, tuple[float, float]]:
    """Person 3 walks in through the door (y 3 -> 7 across the door at y 5) and stays; 1 walks in and stays."""
    ys = [3.0, 4.0, 6.0, 7.0]
    return {1: (21.0, ys[min(k, 3)]), 3: (23.0, ys[min(k, 3)])}


def test_unbinding_a_person_still_in_their_visit_makes_them_a_visitor_again(store: dict[str, Any]) -> None:
    site, employee = store["site"], store["employee"]
    door = _door(site)
    setup = site_setup(site.pk)
    analytics = SiteAnalytics(setup.analytics)
    recorder = InsightsRecorder()
    recorder.name_zones(setup.zone_names)
    updates: list[AnalyticsUpdate] = []
    binding = None
    for k in range(12):
        if k == 4:  # bound once inside: their entry, counted as a visitor's, moves to the staff's
            binding = identity_bind(actor=None, site=site, person_id=3, employee=employee)
        if k == 8:  # the binding was wrong: revoked while they are still on the floor
            assert binding is not None
            identity_unbind(actor=None, binding=binding)
        fused = fused_frame(site.pk, T0_US + k * 500_000, _walk(k))
        update = analytics.update(
            fused, site_identities(site.pk)
        )  # the identities as the processor loads them
        updates.append(update)
        recorder.add(fused, update, setup.analytics.grid)
        recorder.flush()  # an ack barrier per frame
        if k == 6:
            assert _staff_flags(site, 3) == {True}
            assert _counts(site, door) == (1, 0, 1, 0)
    assert [3 in u.staff_ids for u in updates] == [False] * 4 + [True] * 4 + [False] * 4
    assert [sorted(u.unstaffed_ids) for u in updates] == [[]] * 8 + [[3]] + [[]] * 3
    assert _staff_flags(site, 3) == {False}
    assert _counts(site, door) == (2, 0, 0, 0)
    assert not PersonVisit.objects.get(site=site, person_id=3).staff
    # Bound again (the right employee this time): staff again, the counts move once.
    identity_bind(actor=None, site=site, person_id=3, employee=employee)
    fused = fused_frame(site.pk, T0_US + 12 * 500_000, _walk(12))
    recorder.add(fused, analytics.update(fused, site_identities(site.pk)), setup.analytics.grid)
    recorder.flush()
    assert _staff_flags(site, 3) == {True}
    assert _counts(site, door) == (1, 0, 1, 0)


@pytest.mark.parametrize(
    ("change", "one_batch"),
    [("bind", False), ("unbind", False), ("bind", True)],
    ids=["bind", "unbind", "bind-all-in-one-batch-with-a-poison-record"],
)
def test_a_change_between_the_analytics_ending_a_person_and_the_visit_end_stored_is_applied(
    change: str, one_batch: bool, store: dict[str, Any]
) -> None:
    """The analytics end person 3; before the recorder's next barrier stores the end of their visit, their
    binding is made (or revoked). The binding sees an open visit (or none stored yet) and leaves the person to
    the recorder, which no longer hears of them from the analytics: the barrier that stores the visit end
    re-checks the bindings. `one_batch`: the whole visit is in that barrier, which a poison record makes write
    record by record (the re-check still comes after the person's crossing)."""
    site, employee = store["site"], store["employee"]
    door = _door(site)
    setup = site_setup(site.pk)
    analytics = SiteAnalytics(setup.analytics)
    recorder = InsightsRecorder()
    recorder.name_zones(setup.zone_names)
    binding = (
        identity_bind(actor=None, site=site, person_id=3, employee=employee) if change == "unbind" else None
    )
    for k in range(5):
        fused = fused_frame(site.pk, T0_US + k * 500_000, _walk(k))
        recorder.add(fused, analytics.update(fused, site_identities(site.pk)), setup.analytics.grid)
        if not one_batch:
            recorder.flush()
    if not one_batch:
        assert _staff_flags(site, 3) == {change == "unbind"}
    people = {1: _walk(5)[1]}  # person 3 gone: the fusion ends them
    fused = dataclasses.replace(
        fused_frame(site.pk, T0_US + 5 * 500_000, people),
        ended=(EndedPerson(global_id=3, first_seen_us=T0_US, last_seen_us=T0_US + 4 * 500_000),),
    )
    recorder.add(fused, analytics.update(fused, site_identities(site.pk)), setup.analytics.grid)
    if one_batch:  # a value no column can hold (a person id beyond bigint)
        poison = DwellRecord(2**63, store["zone"].pk, T0_US, T0_US + 1_000_000)
        recorder.add(None, _update_of(site.pk, dwell=[poison]), setup.analytics.grid)
    else:  # the change, before the barrier: the visit is still open in the database
        assert PersonVisit.objects.get(site=site, person_id=3).ended_at is None
    if binding is None:
        identity_bind(actor=None, site=site, person_id=3, employee=employee)
    else:
        identity_unbind(actor=None, binding=binding)
    assert _staff_flags(site, 3) <= {change == "unbind"}  # left to the recorder
    recorder.flush()
    assert PersonVisit.objects.get(site=site, person_id=3).ended_at is not None
    staff = change == "bind"
    assert _staff_flags(site, 3) == {staff}
    assert _counts(site, door) == ((1, 0, 1, 0) if staff else (2, 0, 0, 0))
    assert {c.staff for c in LineCrossing.objects.filter(site=site, person_id=1)} == {False}


@pytest.mark.django_db(transaction=True)
def test_a_binding_made_while_the_barrier_stores_the_visit_end_waits_for_it(store: dict[str, Any]) -> None:
    """The barrier that stores person 3's visit end has re-checked their bindings and not committed yet when the
    binding is made: the binding does not see the visit ended (not committed) and the barrier did not see the
    binding. The binding waits for the barrier (the person's staff-mark lock), then finds the visit ended."""
    site, employee = store["site"], store["employee"]
    door = _door(site)
    setup = site_setup(site.pk)
    analytics = SiteAnalytics(setup.analytics)
    recorder = InsightsRecorder()
    recorder.name_zones(setup.zone_names)
    for k in range(5):
        fused = fused_frame(site.pk, T0_US + k * 500_000, _walk(k))
        recorder.add(fused, analytics.update(fused, {}), setup.analytics.grid)
        recorder.flush()
    fused = dataclasses.replace(
        fused_frame(site.pk, T0_US + 5 * 500_000, {1: _walk(5)[1]}),
        ended=(EndedPerson(global_id=3, first_seen_us=T0_US, last_seen_us=T0_US + 4 * 500_000),),
    )
    recorder.add(fused, analytics.update(fused, {}), setup.analytics.grid)
    written, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def barrier() -> None:
        try:
            with transaction.atomic():
                checkpoint = recorder.checkpoint()
                assert checkpoint is not None
                checkpoint.commit()
                written.set()
                release.wait(20)
        except BaseException as err:  # reported by the test below
            errors.append(err)
            written.set()
        finally:
            connection.close()

    def bind() -> None:
        try:
            identity_bind(actor=None, site=site, person_id=3, employee=employee)
        except BaseException as err:  # reported by the test below
            errors.append(err)
        finally:
            connection.close()

    writer = threading.Thread(target=barrier)
    writer.start()
    assert written.wait(20)
    binder = threading.Thread(target=bind)
    binder.start()
    binder.join(1.0)
    still_waiting = binder.is_alive()
    release.set()
    writer.join(20)
    binder.join(20)
    assert not errors, errors
    assert still_waiting  # the binding waited for the barrier
    assert PersonVisit.objects.get(site=site, person_id=3).ended_at is not None
    assert _staff_flags(site, 3) == {True}
    assert _counts(site, door) == (1, 0, 1, 0)


def test_a_person_rebound_then_unbound_can_be_made_a_visitor_again(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    # Person 45 bound to Kim, then (a correction) to Lee: Kim's binding is superseded, and still makes 45 staff.
    # The admin finds 45 is no employee at all and unbinds Lee's binding: 45 stays staff through Kim's, and
    # unbinding Kim's answered 409 "already ended": no way left to make 45 a visitor again. Now the superseded
    # binding can be revoked too.
    site, kim = store["site"], store["employee"]
    lee = Employee.objects.create(name="Lee", level=store["level"], badge_id="B-200")
    door = Zone.objects.create(site=site, name="Front door", kind=ZoneKind.DOOR, polygon=[[4, 15], [4, 18]])
    _records(site, door, 45, ended=True)
    LineCount.objects.create(
        site=site, line=door, line_name=door.name, entrance=True, start=BUCKET, in_count=1
    )
    first = identity_bind(actor=None, site=site, person_id=45, employee=kim)
    second = identity_bind(actor=None, site=site, person_id=45, employee=lee)
    client = client_for("staff")
    assert client.post(f"/api/identity-bindings/{second.pk}/unbind").status_code == 200
    assert _staff_flags(site, 45) == {True}  # Kim's superseded binding still makes them staff

    response = client.post(f"/api/identity-bindings/{first.pk}/unbind")
    assert response.status_code == 200, response.content
    assert response.json()["revoked"] is True
    assert _staff_flags(site, 45) == {False}
    counts = LineCount.objects.get(site=site, line=door, start=BUCKET)
    assert (counts.in_count, counts.staff_in) == (1, 0)
    revoked = IdentityBinding.objects.get(pk=first.pk)
    assert revoked.revoked
    assert revoked.unbound_at is not None
    audit = AuditLog.objects.filter(action="unbind", object_id=str(first.pk)).get()
    assert audit.changes["staff_records_unmarked"] == 6
    again = client.post(f"/api/identity-bindings/{first.pk}/unbind")
    assert (again.status_code, again.json()["code"]) == (409, "already_unbound")
