"""The live state names each person's zones from where that person is (issue item 3): the zones of the live
event and of the live snapshot are those whose polygon holds the person, whatever the order of persons and
zones. Pairing the list of persons with the list of zone ids gave the first N persons zones 1..N."""

from __future__ import annotations

from server.analytics import SiteAnalytics
from server.analytics.types import PersonIdentity
from server.livestate.snapshot import live_snapshot, person_zone_ids
from server.realtime.positions import site_positions_event
from tests.unit.analytics.helpers import ZONE_A, ZONE_B, ZONES, frame, site_config

# Sorted by id: person 1 on the open floor, 2 in zone B, 3 in zone A, 4 in zone A as well.
PEOPLE = {1: (15.0, 8.0), 2: (8.0, 2.0), 3: (2.0, 2.0), 4: (3.0, 1.0)}


def _inside(xy: tuple[float, float], polygon: tuple[tuple[float, float], ...]) -> bool:
    """In an axis-aligned rectangle (the zones of the test site are)."""
    xs, ys = [x for x, _ in polygon], [y for _, y in polygon]
    return min(xs) <= xy[0] <= max(xs) and min(ys) <= xy[1] <= max(ys)


KIM = PersonIdentity(employee_id=11, display_name="Kim", level=1)


def _settled() -> tuple[object, object]:
    analytics = SiteAnalytics(site_config())
    for step in range(30):
        fused = frame(step * 0.1, PEOPLE)
        update = analytics.update(fused, {3: KIM})
    return fused, update


def test_zones_of_each_person_come_from_their_position() -> None:
    fused, update = _settled()
    expected = {
        pid: tuple(z.zone_id for z in ZONES if _inside(xy, z.polygon_m)) for pid, xy in PEOPLE.items()
    }
    assert expected == {1: (), 2: (ZONE_B,), 3: (ZONE_A,), 4: (ZONE_A,)}
    assert person_zone_ids(update) == {pid: zones for pid, zones in expected.items() if zones}  # type: ignore[arg-type]

    event = site_positions_event({3: "Kim"}, {3: KIM}, fused, update, [])  # type: ignore[arg-type]
    persons = {p["id"]: p for p in event["persons"]}
    assert "zone_id" not in persons[1]
    assert persons[2]["zone_id"] == ZONE_B
    assert (persons[3]["zone_id"], persons[3]["zone_ids"], persons[3]["name"]) == (ZONE_A, [ZONE_A], "Kim")
    assert persons[4]["zone_ids"] == [ZONE_A]

    snapshot = live_snapshot(fused, update, {3: KIM})  # type: ignore[arg-type]
    assert {p.person_id: p.zone_ids for p in snapshot.persons} == expected
    assert snapshot.who_is_where() == {ZONE_A: (3, 4), ZONE_B: (2,)}
    assert dict(snapshot.zone_occupancy) == {ZONE_A: 2, ZONE_B: 1, 9: 0}
    assert [(p.person_id, p.name, p.employee_id) for p in snapshot.persons if p.name] == [(3, "Kim", 11)]
