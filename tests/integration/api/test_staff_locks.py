"""Staff marks and the recorder's door counts side by side on PostgreSQL: no deadlock (docs/kpis.md, "Staff").

An unbind (or a late binding) of a person whose visit has ended moves the door counts of their crossings
(`set_person_staff`) while the site's recorder adds a barrier's counts (`_add_line_counts`). Both lock the same
15-minute count rows; taken in different orders (the crossings as stored, the batch as it came), the two waited
for each other and PostgreSQL killed one: the unbind answered 500 (or the barrier failed)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pytest
from django.db import connection

from server.analytics.types import AnalyticsUpdate, CrossingDirection
from server.analytics.types import LineCrossing as CrossingEvent
from server.insights.models import LineCount, LineCrossing, PersonVisit
from server.insights.recorder import InsightsRecorder
from server.insights.selectors import site_setup
from server.inventory.models import Zone, ZoneKind
from server.people.services import identity_bind, identity_unbind
from tests.integration.api.test_staff_after_visit import BUCKET

pytestmark = [pytest.mark.integration]

QUARTER = timedelta(minutes=15)


def _to_us(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def _wait_for_waiters(n: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _lock_waiters() >= n:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.django_db(transaction=True)
def test_an_unbind_beside_a_barrier_adding_door_counts_does_not_deadlock(store: dict[str, Any]) -> None:
    site, employee = store["site"], store["employee"]
    door = Zone.objects.create(site=site, name="Front door", kind=ZoneKind.DOOR, polygon=[[20, 5], [24, 5]])
    a, c, b = BUCKET, BUCKET + QUARTER, BUCKET + 2 * QUARTER
    for start in (a, c, b):
        LineCount.objects.create(
            site=site, line=door, line_name=door.name, entrance=True, start=start, in_count=1
        )
    # Person 7, whose visit has ended, crossed in the last quarter (stored first) and the first one.
    PersonVisit.objects.create(site=site, person_id=7, started_at=a, ended_at=b + timedelta(minutes=1))
    for at in (b + timedelta(minutes=1), a + timedelta(minutes=1)):
        LineCrossing.objects.create(
            site=site, line=door, line_name=door.name, entrance=True, person_id=7, direction="in", at=at
        )
    binding = identity_bind(actor=None, site=site, person_id=7, employee=employee)
    assert [r.staff_in for r in LineCount.objects.filter(site=site).order_by("start")] == [1, 0, 1]

    # A barrier of the site with visitors' crossings in the three quarters, in time order (a catch-up).
    recorder = InsightsRecorder()
    recorder.name_zones({door.pk: door.name})
    crossings = [
        CrossingEvent(
            line_id=door.pk,
            global_id=20 + i,
            direction=CrossingDirection.IN,
            time_us=_to_us(t),
            entrance=True,
        )
        for i, t in enumerate((a + timedelta(minutes=2), c + timedelta(minutes=2), b + timedelta(minutes=2)))
    ]
    update = AnalyticsUpdate(
        site_id=site.pk,
        time_us=_to_us(b),
        global_ids=np.zeros(0, dtype=np.int64),
        zone_ids=np.zeros(0, dtype=np.int64),
        in_zone=np.zeros((0, 0), dtype=np.bool_),
        site_occupancy=0,
        zone_occupancy={},
        crossings=crossings,
    )
    recorder.add(None, update, site_setup(site.pk).analytics.grid)

    # Another writer holds the middle quarter's row a moment (an unbind of someone else, say).
    settings = connection.settings_dict
    blocker = psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
    )
    errors: list[BaseException] = []

    def run(target: Any) -> threading.Thread:
        def body() -> None:
            try:
                target()
            except BaseException as err:  # reported by the test below
                errors.append(err)
            finally:
                connection.close()

        thread = threading.Thread(target=body)
        thread.start()
        return thread

    try:
        with blocker.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM insights_linecount WHERE site_id = %s AND start = %s FOR UPDATE", [site.pk, c]
            )
        barrier = run(recorder.flush)  # adds the first quarter's count, then waits for the middle one
        assert _wait_for_waiters(1)
        unbind = run(lambda: identity_unbind(actor=None, binding=binding))
        assert _wait_for_waiters(2)
        blocker.commit()
        barrier.join(30)
        unbind.join(30)
    finally:
        blocker.close()
    assert not errors, errors
    assert recorder.failed_writes == 0
    # Person 7 a visitor again in both quarters, the barrier's three visitors counted.
    assert [(r.in_count, r.staff_in) for r in LineCount.objects.filter(site=site).order_by("start")] == [
        (2, 0),
        (2, 0),
        (2, 0),
    ]
    assert set(LineCrossing.objects.filter(site=site, person_id=7).values_list("staff", flat=True)) == {False}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["unbind", "bind"])
def test_an_unbind_and_a_binding_of_one_person_at_once_move_the_counts_once(
    first: str, store: dict[str, Any]
) -> None:
    """Two API calls at once: the wrong binding of person 8 (Kim) unbound, and person 8 bound to Lee. Whichever
    commits first, the other waits for it (the binding's row lock), and person 8 ends staff with their entry
    counted once, as a staff entry."""
    from server.people.models import Employee

    site, kim = store["site"], store["employee"]
    lee = Employee.objects.create(name="Lee", level=store["level"], badge_id="B-300")
    door = Zone.objects.create(site=site, name="Front door", kind=ZoneKind.DOOR, polygon=[[20, 5], [24, 5]])
    PersonVisit.objects.create(
        site=site, person_id=8, started_at=BUCKET, ended_at=BUCKET + timedelta(minutes=3)
    )
    LineCrossing.objects.create(
        site=site, line=door, line_name=door.name, entrance=True, person_id=8, direction="in", at=BUCKET
    )
    LineCount.objects.create(
        site=site, line=door, line_name=door.name, entrance=True, start=BUCKET, in_count=1
    )
    wrong = identity_bind(actor=None, site=site, person_id=8, employee=kim)
    changes = {
        "unbind": lambda: identity_unbind(actor=None, binding=wrong),
        "bind": lambda: identity_bind(actor=None, site=site, person_id=8, employee=lee),
    }
    second = "bind" if first == "unbind" else "unbind"
    done, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold_first() -> None:
        from django.db import transaction

        try:
            with transaction.atomic():
                changes[first]()
                done.set()
                release.wait(20)
        except BaseException as err:  # reported by the test below
            errors.append(err)
            done.set()
        finally:
            connection.close()

    def then_second() -> None:
        try:
            changes[second]()
        except BaseException as err:  # reported by the test below
            errors.append(err)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_first)
    holder.start()
    assert done.wait(20)
    waiter = threading.Thread(target=then_second)
    waiter.start()
    assert _wait_for_waiters(1)  # the second waits for the first
    release.set()
    holder.join(20)
    waiter.join(20)
    assert not errors, errors
    row = LineCount.objects.get(site=site, line=door, start=BUCKET)
    assert (row.in_count, row.staff_in) == (0, 1)
    assert set(LineCrossing.objects.filter(site=site, person_id=8).values_list("staff", flat=True)) == {True}
    assert PersonVisit.objects.get(site=site, person_id=8).staff
