"""An admin's zone edit reaches the analytics as `SiteAnalytics.reconfigure`: what persists goes on, only what the
edit ended is closed (issue "Analytics that stay right in real stores", item 2).

The server used to record the analytics and start new ones at every edit: everyone standing inside a zone that
did not change ended their visit at the edit and began a second one at the next frame (visits double counted,
dwell split, spurious flow, incidents reopened).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from server.analytics import (
    AnalyticsConfigError,
    AnalyticsUpdate,
    FloorGrid,
    IncidentPhase,
    SiteAnalytics,
    Zone,
    ZoneKind,
)
from tests.unit.analytics.helpers import SITE, ZONE_A, ZONE_B, ZONE_R, ZONES, frame, rect, site_config, us

ZONE_NEW = 7


def _stand(
    analytics: SiteAnalytics, start_s: float, end_s: float, where: tuple[float, float]
) -> list[AnalyticsUpdate]:
    """Person 1 at `where` every 0.1 s from `start_s` to `end_s` inclusive."""
    steps = round((end_s - start_s) * 10)
    return [analytics.update(frame(start_s + k / 10, {1: where}), {}) for k in range(steps + 1)]


def _zones(*changed: Zone, without: tuple[int, ...] = ()) -> tuple[Zone, ...]:
    by_id = {zone.zone_id: zone for zone in ZONES if zone.zone_id not in without}
    by_id.update({zone.zone_id: zone for zone in changed})
    return tuple(by_id.values())


def _visits(updates: list[AnalyticsUpdate]) -> tuple[list[tuple[int, int]], list[tuple[int, int, int]]]:
    entries = [(e.zone_id, e.time_us) for u in updates for e in u.entries]
    dwell = [(d.zone_id, d.enter_us, d.exit_us) for u in updates for d in u.dwell]
    return entries, dwell


def test_a_person_inside_a_zone_that_persists_keeps_one_visit_when_another_zone_is_added() -> None:
    analytics = SiteAnalytics(site_config())
    updates = _stand(analytics, 0.0, 5.0, (2.0, 2.0))  # inside A
    added = Zone(ZONE_NEW, "New", ZoneKind.INTEREST, rect(12, 0, 16, 4))
    renamed_a = dataclasses.replace(ZONES[0], name="A renamed")
    ended = analytics.reconfigure(site_config(zones=_zones(renamed_a, added)))
    assert list(ended.dwell) == []
    assert list(ended.alerts) == []
    assert ended.zone_occupancy == {ZONE_A: 1, ZONE_B: 0, ZONE_R: 0, ZONE_NEW: 0}
    updates += [ended, *_stand(analytics, 5.1, 10.0, (2.0, 2.0))]
    assert updates[-1].zone_occupancy[ZONE_A] == 1
    updates.append(analytics.flush())
    entries, dwell = _visits(updates)
    assert entries == [(ZONE_A, us(0.0))]
    assert dwell == [(ZONE_A, us(0.0), us(10.0))]
    transitions = [(t.from_zone_id, t.to_zone_id) for u in updates for t in u.transitions]
    assert transitions == [(None, ZONE_A)]


def test_a_visit_ends_at_the_edit_when_the_zone_shrinks_away_from_the_person() -> None:
    analytics = SiteAnalytics(site_config(exit_grace_s=1.0))
    updates = _stand(analytics, 0.0, 5.0, (3.0, 2.0))  # inside A (x < 4)
    shrunk = dataclasses.replace(ZONES[0], polygon_m=rect(0, 0, 2, 4))  # the person now stands outside
    updates.append(analytics.reconfigure(site_config(zones=_zones(shrunk))))
    after = _stand(analytics, 5.1, 8.0, (3.0, 2.0))
    assert after[-1].zone_occupancy[ZONE_A] == 0
    updates += [*after, analytics.flush()]
    entries, dwell = _visits(updates)
    assert entries == [(ZONE_A, us(0.0))]
    assert dwell == [(ZONE_A, us(0.0), us(5.0))]  # to the last observation inside, before the edit


def test_a_visit_goes_on_when_the_zone_is_reshaped_around_the_person() -> None:
    analytics = SiteAnalytics(site_config())
    updates = _stand(analytics, 0.0, 5.0, (3.0, 2.0))
    grown = dataclasses.replace(ZONES[0], polygon_m=rect(0, 0, 5, 5))
    updates += [
        analytics.reconfigure(site_config(zones=_zones(grown))),
        *_stand(analytics, 5.1, 8.0, (3.0, 2.0)),
    ]
    updates.append(analytics.flush())
    assert _visits(updates) == ([(ZONE_A, us(0.0))], [(ZONE_A, us(0.0), us(8.0))])


def test_a_deleted_zones_open_visit_is_recorded_at_the_edit_and_stays_the_persons_previous_zone() -> None:
    analytics = SiteAnalytics(site_config())
    updates = _stand(analytics, 0.0, 5.0, (2.0, 2.0))
    ended = analytics.reconfigure(site_config(zones=_zones(without=(ZONE_A,))))
    assert [(d.global_id, d.zone_id, d.enter_us, d.exit_us) for d in ended.dwell] == [
        (1, ZONE_A, us(0.0), us(5.0))
    ]
    assert ZONE_A not in ended.zone_occupancy
    updates += [ended, *_stand(analytics, 5.1, 7.0, (2.0, 2.0)), *_stand(analytics, 7.1, 9.0, (8.0, 2.0))]
    updates.append(analytics.flush())
    entries, dwell = _visits(updates)
    assert entries == [(ZONE_A, us(0.0)), (ZONE_B, us(7.1))]
    assert dwell == [(ZONE_A, us(0.0), us(5.0)), (ZONE_B, us(7.1), us(9.0))]
    transitions = [(t.from_zone_id, t.to_zone_id) for u in updates for t in u.transitions]
    assert transitions == [(None, ZONE_A), (ZONE_A, ZONE_B)]


def test_an_incident_goes_on_through_an_edit_of_another_zone_and_closes_when_its_zone_is_deleted() -> None:
    analytics = SiteAnalytics(site_config())
    updates = _stand(analytics, 0.0, 3.0, (22.0, 2.0))  # a visitor inside the server room
    moved_b = dataclasses.replace(ZONES[1], polygon_m=rect(6, 0, 11, 4))
    updates += [
        analytics.reconfigure(site_config(zones=_zones(moved_b))),
        *_stand(analytics, 3.1, 5.0, (22.0, 2.0)),
    ]
    phases = [a.phase for u in updates for a in u.alerts]
    assert phases.count(IncidentPhase.OPENED) == 1
    assert IncidentPhase.CLOSED not in phases
    ended = analytics.reconfigure(site_config(zones=_zones(without=(ZONE_R,))))
    closed = [a for a in ended.alerts if a.phase is IncidentPhase.CLOSED]
    assert [(a.zone_id, a.closed_us) for a in closed] == [(ZONE_R, us(5.0))]
    assert not any(u.alerts for u in _stand(analytics, 5.1, 7.0, (22.0, 2.0)))


def test_a_new_grid_emits_the_open_heat_bucket_and_loses_no_person_time() -> None:
    analytics = SiteAnalytics(site_config())
    _stand(analytics, 0.0, 5.0, (2.0, 2.0))
    ended = analytics.reconfigure(site_config(grid=FloorGrid(0.0, 0.0, 30.0, 10.0, 0.5)))
    assert sum(float(b.person_s.sum()) for b in ended.heat_buckets) == pytest.approx(5.0)
    _stand(analytics, 5.1, 8.0, (2.0, 2.0))
    final = analytics.flush()
    assert sum(float(b.person_s.sum()) for b in final.heat_buckets) == pytest.approx(3.0)
    new_cell = FloorGrid(0.0, 0.0, 30.0, 10.0, 0.5).cell_index(np.array([[2.0, 2.0]]))
    assert [b.cell_index.tolist() for b in final.heat_buckets] == [new_cell.tolist()]  # cells of the new grid


def test_another_sites_configuration_is_refused_and_changes_nothing() -> None:
    analytics = SiteAnalytics(site_config())
    _stand(analytics, 0.0, 2.0, (2.0, 2.0))
    with pytest.raises(AnalyticsConfigError):
        analytics.reconfigure(site_config(site_id=SITE + 1, zones=()))
    assert analytics.update(frame(2.1, {1: (2.0, 2.0)}), {}).zone_occupancy[ZONE_A] == 1


def _distancing_events(edit_at_s: float | None) -> list[tuple[str, int, int, int]]:
    """Two persons 2.4 m apart for 3 s, then 1.5 m apart to 10 s (distances smoothed over 0.5 s); a zone is
    added at `edit_at_s` (None: never)."""
    analytics = SiteAnalytics(site_config(distancing_smoothing_s=0.5))
    added = Zone(ZONE_NEW, "New", ZoneKind.INTEREST, rect(12, 0, 16, 4))
    updates = []
    for k in range(101):
        t_s = k / 10
        if edit_at_s is not None and abs(t_s - edit_at_s) < 1e-9:
            updates.append(
                analytics.reconfigure(site_config(distancing_smoothing_s=0.5, zones=_zones(added)))
            )
        apart = 2.4 if t_s <= 3.0 else 1.5
        updates.append(analytics.update(frame(t_s, {1: (10.0, 6.0), 2: (10.0 + apart, 6.0)}), {}))
    updates.append(analytics.flush())
    return [
        (phase, v.start_us, v.last_close_us, v.end_us or 0)
        for u in updates
        for phase, found in (("started", u.violations_started), ("ended", u.violations_ended))
        for v in found
    ]


def test_distancing_goes_on_through_an_edit_as_if_there_was_none() -> None:
    plain = _distancing_events(None)
    assert [phase for phase, *_ in plain] == ["started", "ended"]
    assert _distancing_events(3.1) == plain  # the smoothed distances carry over too
