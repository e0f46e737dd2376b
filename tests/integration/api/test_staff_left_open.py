"""A binding or an unbinding of a person whose visit a crashed process left open (docs/kpis.md, "Staff").

The bind or unbind leaves a person still in their visit to the recorder (the live analytics report them), but the
process fusing the site stopped before it stored that, and the next one ends the visits it left open
(`close_left_open`, at a take-over or a restart) with no analytics state of that person. It ended them without
re-checking their bindings, as the recorder does when it stores a visit end: a binding revoked while the person
was on the floor left them staff for ever (a visitor out of every visitor KPI), a binding made then left an
employee counted as a visitor."""

from __future__ import annotations

from typing import Any

import pytest

from server.insights.models import LineCount, LineCrossing, PersonVisit, QueueWait, ZoneDwell, ZoneTransition
from server.insights.recorder import InsightsRecorder
from server.inventory.models import Zone, ZoneKind
from server.people.services import identity_bind, identity_unbind
from tests.integration.api.test_staff_after_visit import BUCKET, T0, _records, _staff_flags

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _door_counts(site: Any, door: Zone) -> tuple[int, int]:
    row = LineCount.objects.get(site=site, line=door, start=BUCKET)
    return row.in_count, row.staff_in


@pytest.mark.parametrize("change", ["unbind", "bind"])
def test_visits_left_open_are_closed_with_the_mark_their_bindings_give(
    change: str, store: dict[str, Any]
) -> None:
    site, employee = store["site"], store["employee"]
    door = Zone.objects.create(site=site, name="Front door", kind=ZoneKind.DOOR, polygon=[[4, 15], [4, 18]])
    _records(site, door, 41, ended=False)  # still in their visit when the process stopped
    LineCount.objects.create(
        site=site, line=door, line_name=door.name, entrance=True, start=BUCKET, in_count=1
    )
    binding = identity_bind(actor=None, site=site, person_id=41, employee=employee)
    if change == "unbind":
        # Bound earlier in the visit, and the recorder stored that (their records marked as staff's).
        LineCount.objects.filter(site=site, line=door).update(in_count=0, staff_in=1)
        for record in (PersonVisit, LineCrossing, QueueWait, ZoneDwell, ZoneTransition):
            record.objects.filter(site=site, person_id=41).update(staff=True)
        identity_unbind(actor=None, binding=binding)
    # Left to the recorder of a process that stopped before storing it.
    assert _staff_flags(site, 41) == {change == "unbind"}

    closed = InsightsRecorder().close_left_open(
        site.pk, last_frame_us=round(T0.timestamp() * 1e6) + 60_000_000
    )
    assert closed == 1
    staff = change == "bind"
    assert _staff_flags(site, 41) == {staff}
    assert _door_counts(site, door) == ((0, 1) if staff else (1, 0))
