"""The time-series points of a site's fusion and analytics (server.timeseries.site_points): positions and occupancy
at their reduced rates by capture time, each zone's entries and exits summed up to the occupancy sample that
carries them, a violations point when a violation ends."""

from __future__ import annotations

from collections import Counter

from server.analytics import SiteAnalytics
from server.timeseries.measurements import OCCUPANCY, POSITIONS, VIOLATIONS, ZONE_COUNTS, PositionSampler
from server.timeseries.site_points import SitePoints
from tests.unit.analytics.helpers import SITE, ZONE_A, frame, site_config, us


def test_rates_and_zone_counts_follow_capture_time() -> None:
    analytics = SiteAnalytics(site_config(exit_grace_s=0.0))
    series = SitePoints(occupancy_period_us=1_000_000, positions=PositionSampler(1.0))
    points = []
    entries = exits = 0
    for step in range(25):  # 2.4 s at 10 fps; person 2 is in zone A from 0.5 s to 1.5 s
        t_s = step * 0.1
        people = {1: (15.0, 8.0), 2: (2.0, 2.0) if 0.5 <= t_s < 1.5 else (15.0, 2.0)}
        fused = frame(t_s, people)
        update = analytics.update(fused, {})
        entries += sum(1 for e in update.entries if e.zone_id == ZONE_A)
        exits += sum(1 for d in update.dwell if d.zone_id == ZONE_A)
        points += series.frame_points(fused, update)
    assert (entries, exits) == (1, 1)
    times = {m: sorted({p.time_ns for p in points if p.measurement == m}) for m in (POSITIONS, OCCUPANCY)}
    assert times[OCCUPANCY] == [us(t) * 1000 for t in (0.0, 1.0, 2.0)]
    assert {t // 10**9 for t in times[POSITIONS]} == {us(t) // 10**6 for t in (0.0, 1.0, 2.0)}
    assert Counter(p.time_ns // 10**9 for p in points if p.measurement == POSITIONS).most_common(1)[0][1] == 2
    site_wide = [p for p in points if p.measurement == OCCUPANCY and "zone" not in p.tags]
    assert [p.fields["people"] for p in site_wide] == [2, 2, 2]
    counts = [p for p in points if p.measurement == ZONE_COUNTS and p.tags["zone"] == str(ZONE_A)]
    assert [(p.fields["entries"], p.fields["exits"]) for p in counts] == [(0, 0), (1, 0), (0, 1)]
    assert all(p.tags["site"] == str(SITE) for p in points)
    assert not [p for p in points if p.measurement == VIOLATIONS]


def test_without_a_position_sampler_no_positions_are_written() -> None:
    analytics = SiteAnalytics(site_config())
    series = SitePoints(occupancy_period_us=1_000_000, positions=None)
    fused = frame(0.0, {1: (15.0, 8.0)})
    points = series.frame_points(fused, analytics.update(fused, {}))
    assert {p.measurement for p in points} == {OCCUPANCY, ZONE_COUNTS}


def test_an_ended_violation_is_one_point() -> None:
    analytics = SiteAnalytics(site_config(distancing_min_duration_s=1.0, distancing_gap_s=0.2))
    series = SitePoints(occupancy_period_us=10**9, positions=None)
    points = []
    for step in range(40):  # two people 0.5 m apart for 2 s, then apart
        t_s = step * 0.1
        people = {1: (15.0, 5.0), 2: (15.5, 5.0) if t_s < 2.0 else (25.0, 5.0)}
        fused = frame(t_s, people)
        points += series.frame_points(fused, analytics.update(fused, {}))
    violations = [p for p in points if p.measurement == VIOLATIONS]
    assert len(violations) == 1
    assert (violations[0].fields["person_a_id"], violations[0].fields["person_b_id"]) == (1, 2)
    assert violations[0].time_ns == us(0.0) * 1000
