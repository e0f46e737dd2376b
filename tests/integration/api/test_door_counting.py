"""Door counting end to end on PostgreSQL: an admin draws a door (a zone of kind door) over REST, the site's
analytics built from the database count persons walking through it, the recorder stores the crossings and the
REST API answers entries, exits, visits and staff apart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time as clock
from typing import Any

import pytest

from server.analytics import PersonIdentity, SiteAnalytics
from server.fusion import FusedFrame
from server.insights.models import LineCrossing, PersonVisit
from server.insights.recorder import InsightsRecorder
from server.insights.selectors import site_setup
from server.inventory.models import Zone
from tests.support.frames import fused_frame

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

T0_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
KIM = PersonIdentity(employee_id=1, display_name="Kim", level=1)


def _frame(site_id: int, t_s: float, people: dict[int, tuple[float, float]]) -> FusedFrame:
    return fused_frame(site_id, T0_US + round(t_s * 1e6), people)


@pytest.mark.parametrize(
    ("kind", "points", "reason"),
    [
        ("door", [[1, 1]], "2 to 64 points"),
        ("line", [[1, 1], [1, 1.01]], "closer than 5 cm"),
        ("door", [[0, 0], [4, 4], [4, 0], [0, 4]], "cross each other"),
        ("door", [[40, 40], [45, 40]], "outside the floor plan"),
        ("door", [[0, 0], ["a", 1]], "number"),
    ],
)
def test_bad_counting_lines_are_refused(
    kind: str, points: Any, reason: str, store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    before = Zone.objects.count()
    response = client_for("admin").post(
        "/api/zones",
        {"site": store["site"].pk, "name": "Door", "kind": kind, "polygon": points},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert reason in str(response.json()), response.json()
    assert Zone.objects.count() == before


def test_a_zone_turned_into_a_line_is_checked_as_a_line(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    zone = store["zone"]
    response = client_for("admin").patch(
        f"/api/zones/{zone.pk}", {"kind": "door", "polygon": [[5, 5], [5, 5.01]]}, format="json"
    )
    assert response.status_code == 400
    ok = client_for("admin").patch(
        f"/api/zones/{zone.pk}", {"kind": "door", "polygon": [[5, 5], [9, 5]]}, format="json"
    )
    assert ok.status_code == 200, ok.content
    assert ok.json()["polygon"] == [[5.0, 5.0], [9.0, 5.0]]


def test_door_counts_visits_and_staff_over_rest(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    site = store["site"]
    admin = client_for("admin")
    # A door from (20, 5) to (24, 5): in is the left of +x, towards +y.
    created = admin.post(
        "/api/zones",
        {"site": site.pk, "name": "Front door", "kind": "door", "polygon": [[20, 5], [24, 5]]},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert (
        admin.patch(
            f"/api/sites/{site.pk}", {"capacity": 1, "closing_time": "22:00:00"}, format="json"
        ).json()["capacity"]
        == 1
    )
    setup = site_setup(site.pk)
    assert [line.name for line in setup.analytics.lines] == ["Front door"]
    assert setup.analytics.closing_time_s == 22 * 3600
    assert setup.analytics.capacity == 1
    assert setup.analytics.heat_excludes_staff  # the server leaves staff out of the heat map
    assert all(zone.zone_id != created.json()["id"] for zone in setup.analytics.zones)  # a line is no zone

    analytics = SiteAnalytics(setup.analytics)
    recorder = InsightsRecorder()
    recorder.name_zones(setup.zone_names)
    # Visitor 1 walks in and back out; visitor 2 walks in and stays; employee 3 walks in; 4 dithers at the door.
    paths = {
        1: [3.0, 4.0, 6.0, 7.0, 6.0, 4.0, 3.0],
        2: [3.0, 4.0, 6.0, 7.0, 7.0, 7.0, 7.0],
        3: [3.0, 4.0, 6.0, 7.0, 7.0, 7.0, 7.0],
        4: [3.0, 4.8, 5.2, 4.8, 4.0, 3.0, 3.0],
    }
    capacity = []
    counted = []
    for k in range(7):
        people = {gid: (20.5 + gid * 0.8, ys[k]) for gid, ys in paths.items()}
        fused = _frame(site.pk, k * 0.5, people)
        # The employee's badge is read (bound) only once inside: their entry, counted as a visitor's, is moved.
        update = analytics.update(fused, {3: KIM} if k >= 4 else {})
        capacity += [(event.over, event.occupancy) for event in update.capacity_events]
        counted.append(update.counted_occupancy)
        recorder.add(fused, update, setup.analytics.grid)
    recorder.flush()
    assert counted[-1] == 2  # visitor 2 and the employee are in
    assert capacity == [(True, 3)]  # 3 in, then 2: over a capacity of 1 all along
    assert LineCrossing.objects.filter(site=site).count() == 4
    assert LineCrossing.objects.get(site=site, person_id=3).staff  # re-marked when bound
    assert PersonVisit.objects.get(site=site, person_id=3).staff

    window = {"start": "2025-12-31T23:00:00Z", "end": "2026-01-01T01:00:00Z"}
    staff_client = client_for("staff")
    doors = staff_client.get(f"/api/sites/{site.pk}/analytics/doors", window).json()
    (line,) = doors["lines"]
    assert (line["line_name"], line["entrance"], line["in"], line["out"]) == ("Front door", True, 2, 1)
    assert (line["staff_in"], line["staff_out"]) == (1, 0)
    assert (doors["entries"], doors["exits"]) == (2, 1)
    with_staff = staff_client.get(
        f"/api/sites/{site.pk}/analytics/doors", {**window, "include_staff": "true"}
    ).json()
    assert (with_staff["entries"], with_staff["lines"][0]["in"]) == (3, 3)

    visits = staff_client.get(f"/api/sites/{site.pk}/analytics/visits", window).json()
    assert visits["entries"]["total"] == 2  # visits: entries through the door, staff left out
    assert visits["detected_visitors"] == visits["total"] == 3  # persons 1, 2, 4 first seen on the floor
    assert visits["staff"] == 1
    everyone = staff_client.get(
        f"/api/sites/{site.pk}/analytics/visits", {**window, "include_staff": "1"}
    ).json()
    assert (everyone["entries"]["total"], everyone["detected_visitors"]) == (3, 4)


def test_include_staff_must_be_a_boolean(store: dict[str, Any], client_for: Callable[[str], Any]) -> None:
    response = client_for("staff").get(
        f"/api/sites/{store['site'].pk}/analytics/doors", {"include_staff": "maybe"}
    )
    assert response.status_code == 400
    assert "include_staff" in str(response.json())


def test_closing_time_is_validated(store: dict[str, Any], client_for: Callable[[str], Any]) -> None:
    site = store["site"]
    response = client_for("admin").patch(f"/api/sites/{site.pk}", {"capacity": 0}, format="json")
    assert response.status_code == 400
    assert "capacity" in str(response.json())
    response = client_for("admin").patch(f"/api/sites/{site.pk}", {"closing_time": "25:00"}, format="json")
    assert response.status_code == 400
    site.refresh_from_db()
    assert site.closing_time is None or site.closing_time == clock(0)


def test_queue_waits_over_rest(store: dict[str, Any], client_for: Callable[[str], Any]) -> None:
    site = store["site"]
    admin = client_for("admin")
    for name, kind, polygon in (
        ("Checkout queue", "queue", [[20, 10], [26, 10], [26, 14], [20, 14]]),
        ("Till 1", "service", [[26, 10], [28, 10], [28, 14], [26, 14]]),
    ):
        response = admin.post(
            "/api/zones", {"site": site.pk, "name": name, "kind": kind, "polygon": polygon}, format="json"
        )
        assert response.status_code == 201, response.content
    setup = site_setup(site.pk)
    analytics = SiteAnalytics(setup.analytics)
    recorder = InsightsRecorder()
    recorder.name_zones(setup.zone_names)
    queue, till, away = (23.0, 12.0), (27.0, 12.0), (5.0, 18.0)
    # 1 waits 4 s and is served; 2 waits 8 s and is served; 3 gives up after 3 s; 4 is staff, not counted.
    paths = {
        1: [queue] * 4 + [till] * 2 + [away] * 14,
        2: [queue] * 8 + [till] * 2 + [away] * 10,
        3: [queue] * 3 + [away] * 17,
        4: [queue] * 2 + [till] * 18,
    }
    for k in range(20):
        fused = _frame(site.pk, float(k), {gid: path[k] for gid, path in paths.items()})
        recorder.add(fused, analytics.update(fused, {4: KIM}), setup.analytics.grid)
    final = analytics.flush()
    recorder.add(None, final, setup.analytics.grid)
    recorder.flush()
    body = (
        client_for("staff")
        .get(
            f"/api/sites/{site.pk}/analytics/queues",
            {"start": "2025-12-31T23:00:00Z", "end": "2026-01-01T01:00:00Z"},
        )
        .json()
    )
    (row,) = body["queues"]
    assert (row["zone_name"], row["served"], row["abandoned"]) == ("Checkout queue", 2, 1)
    assert (row["median_wait_s"], row["mean_wait_s"]) == (6.0, 6.0)
    assert row["abandonment_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert body["service"]["visits"] == 2  # the employee's time at the till is not a service
    assert body["service"]["mean_service_s"] == 1.0
