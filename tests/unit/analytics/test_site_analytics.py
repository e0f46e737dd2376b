"""SiteAnalytics on tiny hand-made ground truth: every analytic with exact expected numbers."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from server.analytics import (
    VISITOR,
    AccessAlert,
    AlertKind,
    AnalyticsConfigError,
    AnalyticsUpdate,
    IncidentPhase,
    PersonIdentity,
    SiteAnalytics,
    alert_message,
)
from server.fusion import FusedFrame
from tests.unit.analytics.helpers import ZONE_A, ZONE_B, ZONE_R, frame, site_config, us

Track = Mapping[float, Mapping[int, tuple[float, float]]]


def play(
    analytics: SiteAnalytics,
    track: Track,
    identities: Mapping[int, PersonIdentity] | None = None,
    velocities: Mapping[int, tuple[float, float]] | None = None,
) -> list[AnalyticsUpdate]:
    return [
        analytics.update(frame(t, people, velocities), identities or {})
        for t, people in sorted(track.items())
    ]


def walk(
    gid: int, points: Sequence[tuple[float, float, float]]
) -> dict[float, dict[int, tuple[float, float]]]:
    """{t: {gid: (x, y)}} from (t, x, y) samples."""
    return {t: {gid: (x, y)} for t, x, y in points}


# ---------------------------------------------------------------- occupancy


def test_occupancy_counts_site_and_zones() -> None:
    analytics = SiteAnalytics(site_config())
    update = analytics.update(frame(0.0, {1: (1, 1), 2: (3, 3), 3: (7, 1), 4: (15, 5)}), {})
    assert update.site_occupancy == 4
    assert update.zone_occupancy == {ZONE_A: 2, ZONE_B: 1, ZONE_R: 0}
    assert update.zone_persons() == {ZONE_A: (1, 2), ZONE_B: (3,), ZONE_R: ()}
    assert sorted((e.global_id, e.zone_id) for e in update.entries) == [(1, ZONE_A), (2, ZONE_A), (3, ZONE_B)]


def test_empty_frames_give_zero_occupancy() -> None:
    analytics = SiteAnalytics(site_config())
    for t in (0.0, 0.5):
        update = analytics.update(frame(t, {}), {})
        assert update.site_occupancy == 0
        assert update.zone_occupancy == {ZONE_A: 0, ZONE_B: 0, ZONE_R: 0}
        assert update.heat.total_person_s == 0.0


# ---------------------------------------------------------------- visits, dwell


def test_entry_and_dwell_of_one_visit_use_the_exit_grace() -> None:
    analytics = SiteAnalytics(site_config(exit_grace_s=1.0))
    samples = [(t / 2, 2.0 if 1.0 <= t / 2 <= 5.0 else 5.0, 2.0) for t in range(0, 17)]  # 0 .. 8 s
    updates = play(analytics, walk(1, samples))
    entries = [(e.global_id, e.zone_id, e.time_us) for u in updates for e in u.entries]
    dwell = [(d.global_id, d.zone_id, d.enter_us, d.exit_us) for u in updates for d in u.dwell]
    assert entries == [(1, ZONE_A, us(1.0))]
    assert dwell == [(1, ZONE_A, us(1.0), us(5.0))]
    closing = next(u for u in updates if u.dwell)
    assert closing.time_us == us(6.0)  # first frame 1 s after the last frame inside
    assert [u.zone_occupancy[ZONE_A] for u in updates[10:13]] == [1, 1, 0]
    assert next(u for u in updates if u.dwell).dwell[0].dwell_s == 4.0


@pytest.mark.parametrize(("outside_s", "visits"), [(0.5, 1), (1.0, 2), (2.0, 2)])
def test_short_absences_do_not_split_a_visit(outside_s: float, visits: int) -> None:
    analytics = SiteAnalytics(site_config(exit_grace_s=1.0))
    samples = []
    t = 0.0
    while t <= 10.0:
        away = 4.0 < t <= 4.0 + outside_s
        samples.append((t, 5.0 if away else 2.0, 2.0))
        t += 0.5
    updates = play(analytics, walk(1, samples))
    flushed = analytics.flush()
    entries = [e for u in updates for e in u.entries]
    dwell = [d for u in [*updates, flushed] for d in u.dwell]
    assert len(entries) == visits
    assert len(dwell) == visits
    assert dwell[-1].exit_us == us(10.0)
    assert sum(d.dwell_s for d in dwell) == pytest.approx(10.0 - (outside_s + 0.5 if visits == 2 else 0.0))


def test_person_leaving_the_frame_closes_the_visit_at_the_last_frame_inside() -> None:
    analytics = SiteAnalytics(site_config())
    updates = play(analytics, {0.0: {1: (1, 1), 2: (2, 2)}, 0.5: {1: (1, 1), 2: (2, 2)}, 1.0: {2: (2, 2)}})
    assert [(d.global_id, d.enter_us, d.exit_us) for d in updates[-1].dwell] == [(1, us(0.0), us(0.5))]
    assert updates[-1].zone_occupancy[ZONE_A] == 1


# ---------------------------------------------------------------- flow


def test_flow_transitions_follow_the_previous_entered_zone() -> None:
    analytics = SiteAnalytics(site_config(exit_grace_s=0.0))
    path = [(0.0, 2, 2), (1.0, 8, 2), (2.0, 2, 2), (3.0, 15, 5), (4.0, 2, 2), (5.0, 8, 2)]
    updates = play(analytics, walk(5, path))
    transitions = [(t.from_zone_id, t.to_zone_id, t.time_us) for u in updates for t in u.transitions]
    assert transitions == [
        (None, ZONE_A, us(0.0)),
        (ZONE_A, ZONE_B, us(1.0)),
        (ZONE_B, ZONE_A, us(2.0)),
        # leaving A for the corridor and coming back to A is no transition
        (ZONE_A, ZONE_B, us(5.0)),
    ]


# ---------------------------------------------------------------- heat map


def test_heat_map_holds_each_position_until_the_next_update_with_a_cap() -> None:
    analytics = SiteAnalytics(site_config(heat_max_hold_s=1.0, heat_bucket_s=3600))
    people = {1: (2.5, 1.5), 2: (7.2, 3.9)}
    velocities = {1: (1.0, 0.0), 2: (0.0, -0.5)}
    updates = play(analytics, {0.0: people, 0.5: people, 1.0: people, 4.0: people}, velocities=velocities)
    cells = np.concatenate([u.heat.cell_index for u in updates])
    seconds = np.concatenate([u.heat.person_s for u in updates])
    displacement = np.concatenate([u.heat.displacement_m for u in updates])
    # intervals 0.5, 0.5 and min(3.0, cap 1.0): 2.0 person-seconds each, in cell (2, 1) and (7, 3)
    assert sorted(set(cells.tolist())) == [1 * 30 + 2, 3 * 30 + 7]
    assert seconds[cells == 32].sum() == pytest.approx(2.0)
    assert seconds[cells == 97].sum() == pytest.approx(2.0)
    assert displacement[cells == 32].sum(axis=0) == pytest.approx([2.0, 0.0])
    assert displacement[cells == 97].sum(axis=0) == pytest.approx([0.0, -1.0])
    bucket = analytics.flush().heat_buckets
    assert len(bucket) == 1
    assert dict(
        zip(bucket[0].cell_index.tolist(), bucket[0].person_s.tolist(), strict=True)
    ) == pytest.approx({32: 2.0, 97: 2.0})


def test_heat_buckets_close_when_time_moves_on_and_conserve_person_seconds() -> None:
    analytics = SiteAnalytics(site_config(heat_bucket_s=1))
    times = [i * 0.25 for i in range(13)]  # 0 .. 3 s
    updates = play(analytics, {t: {1: (0.5, 0.5), 2: (-3.0, 1.0)} for t in times})
    buckets = [b for u in updates for b in u.heat_buckets] + list(analytics.flush().heat_buckets)
    assert [b.bucket_start_us - us(0.0) for b in buckets] == [0, 1_000_000, 2_000_000]
    assert [float(b.person_s.sum()) for b in buckets] == pytest.approx([1.0, 1.0, 1.0])
    assert sum(u.heat.outside_person_s for u in updates) == pytest.approx(3.0)  # person 2 is off the grid


def test_heat_bucket_closes_on_time_while_the_store_is_empty() -> None:
    """A bucket used to stay open, and its person-time unrecorded, until the next person arrived."""
    analytics = SiteAnalytics(site_config(heat_bucket_s=60, heat_max_hold_s=1.0))
    start_s = 40.0  # T0 is 20 s into a minute: a bucket starts at T0 + 40 s
    present = {start_s + k * 0.5: {1: (2.5, 1.5)} for k in range(41)}  # one person for 20 s
    empty: dict[float, dict[int, tuple[float, float]]] = {
        start_s + 20.5 + k: {} for k in range(60)
    }  # then nobody, until 20 s into the next bucket
    updates = play(analytics, {**present, **empty})
    emitted = [(u.time_us, b) for u in updates for b in u.heat_buckets]
    assert len(emitted) == 1
    time_us, bucket = emitted[0]
    assert bucket.bucket_start_us == us(start_s)
    assert time_us == us(start_s + 60.5)  # the first update at or after the bucket's end
    assert float(bucket.person_s.sum()) == pytest.approx(
        20.5
    )  # 40 intervals of 0.5 s, the last frame's 0.5 s
    assert analytics.flush().heat_buckets == []


def test_heat_checkpoint_emits_the_open_bucket_in_parts_that_add_up() -> None:
    analytics = SiteAnalytics(site_config(heat_bucket_s=60))
    start_s = 40.0
    play(analytics, {start_s + k * 0.5: {1: (2.5, 1.5)} for k in range(21)})  # 10 s
    first = analytics.checkpoint_heat()
    assert [b.bucket_start_us for b in first] == [us(start_s)]
    assert float(first[0].person_s.sum()) == pytest.approx(10.0)
    assert analytics.checkpoint_heat() == []  # nothing new since
    play(analytics, {start_s + 10.0 + k * 0.5: {1: (2.5, 1.5)} for k in range(1, 11)})  # 5 s more
    rest = [*analytics.checkpoint_heat(), *analytics.flush().heat_buckets]
    assert [b.bucket_start_us for b in rest] == [us(start_s)]
    assert float(rest[0].person_s.sum()) == pytest.approx(5.0)


# ---------------------------------------------------------------- social distancing


def pair_track(
    distance_m: float, close_until_s: float, end_s: float
) -> dict[float, dict[int, tuple[float, float]]]:
    track = {}
    t = 0.0
    while t <= end_s + 1e-9:
        gap = distance_m if t <= close_until_s + 1e-9 else 5.0
        track[round(t, 3)] = {1: (12.0, 5.0), 2: (12.0 + gap, 5.0)}
        t += 0.5
    return track


def test_distancing_violation_start_update_end_and_contacts() -> None:
    analytics = SiteAnalytics(site_config(violation_update_interval_s=1.0))
    updates = play(analytics, pair_track(1.5, close_until_s=6.0, end_s=9.0))
    started = [(v.person_a, v.person_b, v.start_us) for u in updates for v in u.violations_started]
    ended = [v for u in updates for v in u.violations_ended]
    assert started == [(1, 2, us(0.0))]
    assert next(u for u in updates if u.violations_started).time_us == us(5.0)
    assert [u.time_us for u in updates if u.violations_updated] == [us(6.0), us(7.0)]
    assert len(ended) == 1
    assert (ended[0].start_us, ended[0].end_us, ended[0].min_distance_m) == (us(0.0), us(6.0), 1.5)
    assert ended[0].duration_s == 6.0
    assert next(u for u in updates if u.violations_ended).time_us == us(7.5)  # > 1 s gap after 6.0
    assert updates[10].contacts_per_person == {1: 1, 2: 1}


def test_contacts_per_person_of_each_update_is_that_frames() -> None:
    """The contacts counts change when a violation starts and when a person leaves; each update keeps its own
    (the analytics hand the same mapping on while it does not change, and never change one handed out)."""
    analytics = SiteAnalytics(site_config())
    track: dict[float, dict[int, tuple[float, float]]] = {}
    for step in range(29):
        t = step * 0.5
        people = {1: (12.0, 5.0)}
        if t <= 11.5:
            people[2] = (13.0, 5.0)  # 1 m from person 1
        if t >= 6.0:
            people[3] = (11.0, 5.0)  # 1 m from person 1, 2 m (not closer than D) from person 2
        track[t] = people
    by_time = {u.time_us: u for u in play(analytics, track)}
    assert by_time[us(4.5)].contacts_per_person == {}
    assert by_time[us(5.0)].contacts_per_person == {1: 1, 2: 1}
    assert by_time[us(10.5)].contacts_per_person == {1: 1, 2: 1}
    assert by_time[us(11.0)].contacts_per_person == {1: 2, 2: 1, 3: 1}
    assert by_time[us(12.0)].contacts_per_person == {1: 2, 3: 1}  # person 2 left
    assert by_time[us(14.0)].contacts_per_person == {1: 2, 3: 1}


@pytest.mark.parametrize(
    ("distance_m", "close_until_s", "violations"),
    [(1.99, 6.0, 1), (2.0, 6.0, 0), (2.5, 6.0, 0), (1.0, 4.5, 0), (1.0, 5.0, 1)],
    ids=["just-under-D", "exactly-D", "far", "4.5s", "exactly-T"],
)
def test_distancing_thresholds_are_strict_distance_and_inclusive_duration(
    distance_m: float, close_until_s: float, violations: int
) -> None:
    analytics = SiteAnalytics(site_config())
    updates = play(analytics, pair_track(distance_m, close_until_s=close_until_s, end_s=9.0))
    assert sum(len(u.violations_started) for u in updates) == violations
    assert sum(len(u.violations_ended) for u in updates) == violations


def test_distancing_gap_shorter_than_tolerance_keeps_one_violation() -> None:
    analytics = SiteAnalytics(site_config(distancing_gap_s=1.0))
    track = pair_track(1.0, close_until_s=12.0, end_s=14.0)
    track[6.0] = {1: (12.0, 5.0), 2: (15.0, 5.0)}  # two far samples in the middle (1.5 s since last close)
    track[6.5] = {1: (12.0, 5.0), 2: (15.0, 5.0)}
    updates = play(analytics, track)
    ended = [v for u in updates for v in u.violations_ended]
    assert [(v.start_us, v.end_us) for v in ended] == [(us(0.0), us(12.0))]


def test_distancing_gap_longer_than_tolerance_splits_the_contact() -> None:
    analytics = SiteAnalytics(site_config(distancing_gap_s=1.0))
    track = pair_track(1.0, close_until_s=14.0, end_s=16.0)
    for t in (6.0, 6.5, 7.0):  # 7.0 - 5.5 = 1.5 s > gap
        track[t] = {1: (12.0, 5.0), 2: (15.0, 5.0)}
    updates = play(analytics, track)
    ended = [v for u in updates for v in u.violations_ended]
    assert [(v.start_us, v.end_us) for v in ended] == [(us(0.0), us(5.5)), (us(7.5), us(14.0))]


def test_violation_ends_when_a_person_leaves() -> None:
    analytics = SiteAnalytics(site_config())
    track = pair_track(1.0, close_until_s=8.0, end_s=8.0)
    track[8.5] = {1: (12.0, 5.0)}
    updates = play(analytics, track)
    ended = [v for u in updates for v in u.violations_ended]
    assert [(v.start_us, v.end_us) for v in ended] == [(us(0.0), us(8.0))]
    assert updates[-1].time_us == us(8.5)
    assert updates[-1].contacts_per_person == {1: 1}


# ---------------------------------------------------------------- access control


APPROACH = [(0.0, 17.0, 2.0), (0.5, 18.5, 2.0), (1.0, 19.5, 2.0), (1.5, 21.0, 2.0), (2.0, 22.0, 2.0)]


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        (
            VISITOR,
            [
                ("warning", 1.0, "An unauthorized visitor approached the secure area"),
                ("alarm", 1.5, "An unauthorized visitor entered the secure area"),
            ],
        ),
        (
            PersonIdentity(7, "Kim", 1),
            [
                ("warning", 1.0, "An unauthorized employee (Kim) approached the secure area"),
                ("alarm", 1.5, "An unauthorized employee (Kim) entered the secure area"),
            ],
        ),
        (
            PersonIdentity(8, None, 0),
            [
                ("warning", 1.0, "An unauthorized employee approached the secure area"),
                ("alarm", 1.5, "An unauthorized employee entered the secure area"),
            ],
        ),
        (PersonIdentity(9, "Lee", 2), []),
        (PersonIdentity(10, "Park", 1, frozenset({ZONE_R})), []),
        (
            PersonIdentity(11, "Choi", 1, frozenset({ZONE_A})),
            [
                ("warning", 1.0, "An unauthorized employee (Choi) approached the secure area"),
                ("alarm", 1.5, "An unauthorized employee (Choi) entered the secure area"),
            ],
        ),
    ],
    ids=["visitor", "level-1", "unnamed-employee", "level-2", "permitted", "other-permission"],
)
def test_access_alerts_by_level_and_permission(
    identity: PersonIdentity, expected: list[tuple[str, float, str]]
) -> None:
    analytics = SiteAnalytics(site_config())
    updates = play(analytics, walk(4, APPROACH), identities={4: identity})
    alerts = [a for u in updates for a in u.alerts if a.phase is not IncidentPhase.UPDATED]
    assert [a.phase for a in alerts] == [IncidentPhase.OPENED, IncidentPhase.ESCALATED][: len(alerts)]
    assert [(a.kind.value, (a.time_us - us(0.0)) / 1e6, a.message) for a in alerts] == expected
    for alert in alerts:
        assert (alert.global_id, alert.zone_id, alert.zone_name, alert.required_level) == (
            4,
            ZONE_R,
            "Server room",
            2,
        )
        assert alert.employee_id == identity.employee_id
        assert alert.employee_name == (identity.display_name if identity.employee_id is not None else None)
    if alerts:
        assert alerts[0].distance_m == pytest.approx(0.5)


def events(updates: Sequence[AnalyticsUpdate]) -> list[AccessAlert]:
    return [a for u in updates for a in u.alerts]


def test_a_person_standing_in_a_restricted_zone_for_30_s_is_one_incident() -> None:
    """Walk up (warning), in (the same incident escalates), stand 30 s at 10 Hz (updated once a second), walk
    away (closed 5 s after the last frame in the band), come back: a second incident."""
    analytics = SiteAnalytics(site_config())
    track = walk(4, APPROACH)  # 19.5 m at 1.0 s is in the 1 m band, 21 m at 1.5 s is inside
    track.update(walk(4, [(round(2.0 + 0.1 * k, 1), 22.0, 2.0) for k in range(300)]))  # inside to 31.9 s
    track.update(walk(4, [(32.0, 19.5, 2.0)] + [(round(32.5 + 0.5 * k, 1), 15.0, 2.0) for k in range(20)]))
    track.update(walk(4, [(45.0, 21.0, 2.0), (45.5, 22.0, 2.0)]))  # back in: 13 s after leaving the band
    alerts = events(play(analytics, track))
    phases = [a.phase for a in alerts]
    assert phases.count(IncidentPhase.OPENED) == 2
    assert phases.count(IncidentPhase.ESCALATED) == 1
    assert phases.count(IncidentPhase.CLOSED) == 1
    first = [a for a in alerts if a.opened_us == us(1.0)]
    assert first[0].phase is IncidentPhase.OPENED
    assert first[0].kind is AlertKind.WARNING
    assert first[1].phase is IncidentPhase.ESCALATED
    assert (first[1].kind, first[1].alarm_us, first[1].distance_m) == (AlertKind.ALARM, us(1.5), 0.0)
    updated = [a for a in first if a.phase is IncidentPhase.UPDATED]
    assert 30 <= len(updated) <= 32  # once a second while it lasts, not once a frame
    assert all(b.time_us - a.time_us >= 1_000_000 for a, b in itertools.pairwise(updated))
    assert all(a.kind is AlertKind.ALARM for a in updated)  # never back to a warning
    closed = first[-1]
    assert closed.phase is IncidentPhase.CLOSED
    assert closed.closed_us == us(32.0)  # the last frame in the warning band
    assert closed.time_us == us(37.0)
    assert {(a.global_id, a.zone_id) for a in alerts} == {(4, ZONE_R)}
    second = [a for a in alerts if a.opened_us != us(1.0)]
    assert [(a.phase, a.opened_us, a.kind) for a in second] == [
        (IncidentPhase.OPENED, us(45.0), AlertKind.ALARM)
    ]


@pytest.mark.parametrize(("close_after_s", "opened_s"), [(5.0, [0.0]), (1.5, [0.0]), (0.5, [0.0, 2.0, 5.0])])
def test_a_short_absence_stays_in_the_incident(close_after_s: float, opened_s: list[float]) -> None:
    analytics = SiteAnalytics(
        site_config(alert_close_after_s=close_after_s, alarm_appeared_inside_after_s=0.0)
    )
    path = [(0.0, 22.0, 2.0), (1.0, 15.0, 2.0), (2.0, 22.0, 2.0), (3.0, 22.0, 2.0)]  # in, out, in again
    path += [(4.0, 15.0, 2.0), (5.0, 22.0, 2.0)]
    alerts = events(play(analytics, walk(1, path)))
    opened = [(a.opened_us - us(0.0)) / 1e6 for a in alerts if a.phase is IncidentPhase.OPENED]
    assert opened == opened_s
    closed = [a for a in alerts if a.phase is IncidentPhase.CLOSED]
    assert len(closed) == len(opened_s) - 1


def test_an_incident_carries_the_position_and_every_camera_that_saw_it() -> None:
    analytics = SiteAnalytics(site_config(alarm_appeared_inside_after_s=0.0))

    def seen_by(t_s: float, x_m: float, mask: list[bool]) -> FusedFrame:
        return dataclasses.replace(
            frame(t_s, {5: (x_m, 2.5)}),
            source_mask=np.array([mask], dtype=np.bool_),
            camera_ids=np.array([11, 12, 13], dtype=np.int64),
        )

    first = analytics.update(seen_by(0.0, 21.0, [True, False, False]), {})
    analytics.update(seen_by(0.5, 21.5, [False, True, False]), {})
    later = analytics.update(seen_by(1.0, 22.0, [False, True, False]), {})
    (opened,) = first.alerts
    assert (opened.x_m, opened.y_m, opened.camera_ids) == (21.0, 2.5, (11,))
    (updated,) = later.alerts
    assert updated.phase is IncidentPhase.UPDATED
    assert (updated.x_m, updated.y_m, updated.camera_ids) == (22.0, 2.5, (11, 12))
    # Left the floor: held 5 s for the fusion to find them again, then closed at the last frame they were there.
    assert analytics.update(frame(1.2, {}), {}).alerts == []
    (closed,) = analytics.update(frame(6.0, {}), {}).alerts
    assert (closed.phase, closed.closed_us, closed.time_us) == (IncidentPhase.CLOSED, us(1.0), us(6.0))


def test_a_person_found_again_under_a_new_id_continues_the_incident() -> None:
    """Person 5 is lost inside the zone; 0.5 s later a new id appears 0.6 m away: the same incident (now of
    person 8), not a second one. Person 3, already on the floor, walking in nearby, has their own incident, as
    has a new id far away or found too late."""
    analytics = SiteAnalytics(site_config(alarm_appeared_inside_after_s=0.0))
    alerts = events(
        play(
            analytics,
            {
                0.0: {5: (21.0, 2.0), 3: (15.0, 2.0)},
                0.5: {5: (21.5, 2.0), 3: (15.0, 2.0)},
                1.0: {8: (22.0, 2.3), 3: (15.0, 2.0)},  # 5 lost at 0.5 s, 8 first seen
                1.5: {8: (22.5, 2.3), 3: (21.2, 2.0)},  # 3 walks in near where 5 was
            },
        )
    )
    opened = [(a.global_id, a.opened_us) for a in alerts if a.phase is IncidentPhase.OPENED]
    assert opened == [(5, us(0.0)), (3, us(1.5))]
    (continued,) = [a for a in alerts if a.global_id == 8]
    assert (continued.phase, continued.first_global_id, continued.opened_us) == (
        IncidentPhase.UPDATED,
        5,
        us(0.0),
    )
    assert (continued.x_m, continued.y_m) == (22.0, 2.3)

    for later_s, position in ((1.0, (23.5, 3.5)), (6.0, (21.6, 2.0))):  # too far; too late (closed at 5.5 s)
        analytics = SiteAnalytics(site_config(alarm_appeared_inside_after_s=0.0))
        track = {0.0: {5: (21.0, 2.0)}, 0.5: {5: (21.5, 2.0)}, 0.7: {}, later_s: {8: position}}
        alerts = events(play(analytics, track))
        assert [a.global_id for a in alerts if a.phase is IncidentPhase.OPENED] == [5, 8]

    analytics = SiteAnalytics(site_config(alarm_appeared_inside_after_s=0.0, alert_rejoin_m=0.0))
    alerts = events(play(analytics, {0.0: {5: (21.0, 2.0)}, 0.5: {8: (21.0, 2.0)}}))
    assert [(a.phase, a.global_id) for a in alerts] == [
        (IncidentPhase.OPENED, 5),
        (IncidentPhase.OPENED, 8),
        (IncidentPhase.CLOSED, 5),  # rejoining off: closed as soon as they left
    ]


def test_the_name_is_kept_for_the_whole_incident_and_a_changed_binding_makes_it_uncertain() -> None:
    analytics = SiteAnalytics(site_config(alarm_appeared_inside_after_s=0.0))
    kim = {6: PersonIdentity(7, "Kim", 1)}
    (opened,) = analytics.update(frame(0.0, {6: (22.0, 2.0)}), kim).alerts
    assert (opened.employee_id, opened.employee_name, opened.identity_certain) == (7, "Kim", True)
    assert opened.message == "An unauthorized employee (Kim) entered the secure area"
    (unbound,) = analytics.update(frame(0.1, {6: (22.0, 2.0)}), {}).alerts  # reported at once, not in 1 s
    assert (unbound.phase, unbound.employee_id, unbound.employee_name) == (IncidentPhase.UPDATED, 7, "Kim")
    assert unbound.identity_certain is False
    assert unbound.message == "An unauthorized employee (Kim, identity uncertain) entered the secure area"
    lee = {6: PersonIdentity(8, "Lee", 0)}
    later = [a for t in (0.2, 1.5) for a in analytics.update(frame(t, {6: (22.0, 2.0)}), lee).alerts]
    assert [(a.employee_name, a.identity_certain) for a in later] == [("Kim", False)]
    (closed,) = analytics.flush().alerts
    assert (closed.phase, closed.employee_name) == (IncidentPhase.CLOSED, "Kim")


def test_a_bound_person_found_again_under_a_new_id_keeps_the_name_and_is_called_uncertain() -> None:
    """Kim (bound to id 6) is lost in the stock room and found again as id 9, whom nobody has bound: the alarm
    still names Kim, and says the identity is uncertain."""
    analytics = SiteAnalytics(site_config(alarm_appeared_inside_after_s=0.0))
    kim = {6: PersonIdentity(7, "Kim", 1)}
    (opened,) = analytics.update(frame(0.0, {6: (22.0, 2.0)}), kim).alerts
    assert opened.message == "An unauthorized employee (Kim) entered the secure area"
    (found,) = analytics.update(frame(0.3, {9: (22.2, 2.0)}), kim).alerts
    assert (found.global_id, found.first_global_id, found.employee_name) == (9, 6, "Kim")
    assert found.identity_certain is False
    assert found.message == "An unauthorized employee (Kim, identity uncertain) entered the secure area"


def test_a_person_bound_during_the_incident_is_named_from_then_on() -> None:
    analytics = SiteAnalytics(site_config(alarm_appeared_inside_after_s=0.0))
    (opened,) = analytics.update(frame(0.0, {6: (22.0, 2.0)}), {}).alerts
    assert opened.message == "An unauthorized visitor entered the secure area"
    kim = {6: PersonIdentity(7, "Kim", 1)}
    (named,) = analytics.update(frame(0.1, {6: (22.0, 2.0)}), kim).alerts
    assert (named.phase, named.employee_name, named.identity_certain) == (IncidentPhase.UPDATED, "Kim", True)
    assert named.message == "An unauthorized employee (Kim) entered the secure area"


def test_an_identity_the_feed_doubts_is_called_uncertain() -> None:
    analytics = SiteAnalytics(site_config(alarm_appeared_inside_after_s=0.0))
    doubtful = {6: PersonIdentity(7, "Kim", 1, certain=False)}
    (opened,) = analytics.update(frame(0.0, {6: (22.0, 2.0)}), doubtful).alerts
    assert (opened.employee_name, opened.identity_certain) == ("Kim", False)
    assert opened.message == "An unauthorized employee (Kim, identity uncertain) entered the secure area"


def test_a_person_who_appears_inside_a_restricted_zone_alarms_only_once_established() -> None:
    """A false-positive detection is born where it stands: inside the zone, it must last 1.5 s to alarm. A
    person who walked in (seen outside first) alarms at once."""
    analytics = SiteAnalytics(site_config())
    ghost = walk(1, [(round(0.1 * k, 1), 22.0, 2.0) for k in range(11)])  # 1 s inside, then gone
    updates = play(analytics, ghost)
    assert [a for u in updates for a in u.alerts if a.kind is AlertKind.ALARM] == []

    analytics = SiteAnalytics(site_config())
    lingering = walk(2, [(round(0.1 * k, 1), 22.0, 2.0) for k in range(25)])  # 2.4 s inside
    times = [(a.time_us - us(0.0)) / 1e6 for u in play(analytics, lingering) for a in u.alerts]
    assert times == [pytest.approx(1.5)]

    analytics = SiteAnalytics(site_config())
    walked_in = walk(3, [(0.0, 15.0, 2.0), (0.1, 22.0, 2.0), (0.2, 22.0, 2.0)])
    alarms = [a for u in play(analytics, walked_in) for a in u.alerts if a.kind is AlertKind.ALARM]
    assert [(a.time_us - us(0.0)) / 1e6 for a in alarms] == [pytest.approx(0.1)]


def test_a_person_who_appears_in_the_warning_band_warns_only_once_established() -> None:
    """A track fragment born at the edge of a camera's view next to the zone warns only if it lasts 1.5 s; a
    person who walked up (seen beyond the band first) warns at once."""
    analytics = SiteAnalytics(site_config())
    fragment = walk(1, [(round(0.1 * k, 1), 19.5, 2.0) for k in range(12)])  # 1.1 s in the band, then gone
    assert events(play(analytics, fragment)) == []
    analytics = SiteAnalytics(site_config())
    lingering = walk(2, [(round(0.1 * k, 1), 19.5, 2.0) for k in range(20)])
    opened = [a for a in events(play(analytics, lingering)) if a.phase is IncidentPhase.OPENED]
    assert [(a.kind, a.time_us) for a in opened] == [(AlertKind.WARNING, us(1.5))]
    analytics = SiteAnalytics(site_config())
    walked_up = walk(3, [(0.0, 17.0, 2.0), (0.1, 19.5, 2.0)])
    opened = [a for a in events(play(analytics, walked_up)) if a.phase is IncidentPhase.OPENED]
    assert [(a.kind, a.time_us) for a in opened] == [(AlertKind.WARNING, us(0.1))]


def test_a_person_whose_identity_the_fusion_doubts_raises_an_alert_that_says_so() -> None:
    """A global id the fusion marks uncertain (born where it refused to guess between two people) alarms as
    'identity uncertain', bound or not."""
    analytics = SiteAnalytics(site_config(alarm_appeared_inside_after_s=0.0))
    doubted = dataclasses.replace(
        frame(0.0, {6: (22.0, 2.0), 9: (23.0, 3.0)}), uncertain_ids=frozenset({6, 9})
    )
    alerts = analytics.update(doubted, {9: PersonIdentity(7, "Kim", 1)}).alerts
    by_person = {a.global_id: a for a in alerts}
    assert by_person[6].identity_certain is False
    assert by_person[6].message == "An unauthorized visitor (identity uncertain) entered the secure area"
    assert (
        by_person[9].message == "An unauthorized employee (Kim, identity uncertain) entered the secure area"
    )


def test_a_visitor_doubted_only_with_other_visitors_is_called_a_visitor_for_sure() -> None:
    """The fusion doubts persons 6 and 9 and says whom each may be instead. 6 may be visitor 9 (a visitor
    either way): its alert is certain. 9 may be 6 or 12, an employee unseen for a moment: its alert is not
    (it may be Kim, perhaps allowed in)."""
    analytics = SiteAnalytics(site_config(alarm_appeared_inside_after_s=0.0))
    doubted = dataclasses.replace(
        frame(0.0, {6: (22.0, 2.0), 9: (23.0, 3.0)}),
        uncertain_ids=frozenset({6, 9}),
        uncertain_with={6: frozenset({9}), 9: frozenset({6, 12})},
    )
    alerts = analytics.update(doubted, {12: PersonIdentity(7, "Kim", 1)}).alerts
    by_person = {a.global_id: a for a in alerts}
    assert by_person[6].identity_certain is True
    assert by_person[6].message == "An unauthorized visitor entered the secure area"
    assert by_person[9].identity_certain is False
    assert by_person[9].message == "An unauthorized visitor (identity uncertain) entered the secure area"


def test_alert_message_wording() -> None:
    assert alert_message(AlertKind.WARNING, PersonIdentity(1, "Kim", 0)) == (
        "An unauthorized employee (Kim) approached the secure area"
    )
    assert alert_message(AlertKind.ALARM, VISITOR) == "An unauthorized visitor entered the secure area"
    assert alert_message(AlertKind.ALARM, PersonIdentity(certain=False)) == (
        "An unauthorized visitor (identity uncertain) entered the secure area"
    )


def _spiky_pair(
    steady_m: float, spike_m: float, every_s: float, end_s: float
) -> dict[float, dict[int, tuple[float, float]]]:
    """Two persons `steady_m` apart, measured `spike_m` apart once every `every_s` (noise), at 10 Hz."""
    track = {}
    for step in range(round(end_s * 10) + 1):
        t = round(step * 0.1, 3)
        gap = spike_m if step % round(every_s * 10) == 0 else steady_m
        track[t] = {1: (12.0, 5.0), 2: (12.0 + gap, 5.0)}
    return track


@pytest.mark.parametrize(
    ("smoothing_s", "steady_m", "spike_m", "violations"),
    [
        (0.0, 2.1, 1.8, 1),  # raw distances: one noisy sample every 0.5 s keeps the contact alive
        (0.5, 2.1, 1.8, 0),  # smoothed: the spikes never pull the pair below D
        (0.5, 1.5, 2.4, 1),  # smoothed: a pair really in contact stays one despite outliers
        (0.5, 1.9, 1.9, 1),  # constant distance: smoothing changes nothing
    ],
    ids=["raw-spikes", "smoothed-spikes", "smoothed-real-contact", "smoothed-constant"],
)
def test_distancing_smoothing_rejects_single_noisy_samples(
    smoothing_s: float, steady_m: float, spike_m: float, violations: int
) -> None:
    analytics = SiteAnalytics(site_config(distancing_smoothing_s=smoothing_s))
    updates = play(analytics, _spiky_pair(steady_m, spike_m, every_s=0.5, end_s=10.0))
    updates.append(analytics.flush())
    assert sum(len(u.violations_started) for u in updates) == violations
    assert sum(len(u.violations_ended) for u in updates) == violations


def test_distancing_smoothing_must_be_non_negative() -> None:
    with pytest.raises(AnalyticsConfigError, match="distancing_smoothing_s"):
        site_config(distancing_smoothing_s=-1.0).validate()
