"""Queues and late staff binding on PostgreSQL: a person's wait recorded as a visitor's, then the person bound to an
employee later in their visit (at the till, or after walking off). The wait, and the till's dwell, are re-marked
as staff's, as the visit is, and the queue KPIs over REST leave them out (docs/kpis.md, "Staff")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from server.analytics import PersonIdentity, SiteAnalytics
from server.fusion import FusedFrame
from server.insights.models import PersonVisit, QueueWait, ZoneDwell
from server.insights.recorder import InsightsRecorder
from server.insights.selectors import site_setup
from server.inventory.models import Zone, ZoneKind
from tests.support.frames import fused_frame

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

T0_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
KIM = PersonIdentity(employee_id=1, display_name="Kim", level=1)
QUEUE, TILL, OUTSIDE = (8.0, 2.0), (11.0, 2.0), (20.0, 15.0)


def _frame(site_id: int, t_s: float, people: dict[int, tuple[float, float]]) -> FusedFrame:
    return fused_frame(site_id, T0_US + round(t_s * 1e6), people)


@pytest.mark.parametrize(
    "flush_each_frame", [True, False], ids=["bound-in-a-later-batch", "bound-in-one-batch"]
)
def test_a_wait_recorded_before_its_person_was_bound_is_no_visitors_wait(
    flush_each_frame: bool, store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    site = store["site"]
    Zone.objects.create(
        site=site, name="Queue", kind=ZoneKind.QUEUE, polygon=[[6, 0], [10, 0], [10, 4], [6, 4]]
    )
    Zone.objects.create(
        site=site, name="Till", kind=ZoneKind.SERVICE, polygon=[[10, 0], [12, 0], [12, 4], [10, 4]]
    )
    setup = site_setup(site.pk)
    analytics = SiteAnalytics(setup.analytics)
    recorder = InsightsRecorder()
    recorder.name_zones(setup.zone_names)
    # 1: a visitor, waits 6 s, served. 2: waits 4 s, served, leaves the till, and only then is their badge read
    # (an employee buying something). 3: waits 3 s, walks off (abandoned), bound once outside.
    paths = {
        1: [QUEUE] * 6 + [TILL] * 3 + [OUTSIDE] * 12,
        2: [QUEUE] * 4 + [TILL] * 3 + [OUTSIDE] * 14,
        3: [QUEUE] * 3 + [OUTSIDE] * 18,
    }
    bound_from = {2: 9, 3: 12}
    for k in range(21):
        people = {gid: path[k] for gid, path in paths.items()}
        identities = {gid: KIM for gid, step in bound_from.items() if k >= step}
        fused = _frame(site.pk, float(k), people)
        recorder.add(fused, analytics.update(fused, identities), setup.analytics.grid)
        if flush_each_frame:
            recorder.flush()
    recorder.flush()

    waits = {w.person_id: (w.wait_s, w.staff) for w in QueueWait.objects.filter(site=site)}
    assert waits == {1: (6.0, False), 2: (4.0, True), 3: (None, True)}
    assert PersonVisit.objects.get(site=site, person_id=2).staff
    assert ZoneDwell.objects.filter(site=site, person_id=2).exists()
    assert not ZoneDwell.objects.filter(site=site, person_id=2, staff=False).exists()  # queue and till dwell

    window = {"start": "2025-12-31T23:00:00Z", "end": "2026-01-01T01:00:00Z"}
    answer = client_for("staff").get(f"/api/sites/{site.pk}/analytics/queues", window).json()
    (queue,) = answer["queues"]
    assert (queue["served"], queue["abandoned"], queue["median_wait_s"]) == (1, 0, 6.0)
    assert answer["service"]["visits"] == 1  # the visitor's till visit only
