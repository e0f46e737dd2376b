"""A visit counts from the first observation of a person the fusion later confirms, not from the confirmation,
and ends at their last observation inside, not at the last position the fusion extrapolated.

The fusion reports a person only after ``confirm_after_s`` (0.5 s); a person who walks in and stands in the
entrance was counted from their first reported frame, so every entrance dwell was short by that delay. Once
the start was right, a visit that ended by leaving the store was long by the time the fusion extrapolates a
person nobody sees any more (``end_after_s``, 0.7 s): the simulator's entrance dwell came out 15 % long.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from server.analytics import SiteAnalytics
from server.fusion import FusionConfig, SiteFusion
from tests.unit.analytics.helpers import SITE, ZONE_A, ZONE_B, frame, site_config, us
from tests.unit.fusion.helpers import obs


def _run(
    path: list[tuple[float, float, float]], empty_until_s: float = 0.0
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """One camera seeing one person (local id 4) at 10 fps, then nobody until ``empty_until_s``; returns
    (entries, dwell) of the analytics."""
    fusion = SiteFusion(FusionConfig(site_id=SITE))
    analytics = SiteAnalytics(site_config(exit_grace_s=1.0))
    updates = []
    for t_s, x, y in path:
        # The edge confirms its track at the third frame; the fusion confirms the person 0.5 s later.
        frame_obs = obs(1, t_s * 1000.0, [(4, x, y)], site_id=SITE, confirmed=t_s >= 0.2)
        assert frame_obs.capture_time_us == us(t_s)  # both helpers count from the same T0
        for fused in fusion.update_frames(frame_obs):
            updates.append(analytics.update(fused, {}))
    t_s = path[-1][0]
    while t_s < empty_until_s:  # the camera goes on sending frames without the person
        t_s = round(t_s + 0.1, 1)
        for fused in fusion.update_frames(
            obs(1, t_s * 1000.0, [], site_id=SITE, removed=[4] if t_s > 8.5 else [])
        ):
            updates.append(analytics.update(fused, {}))
    for fused in fusion.flush():
        updates.append(analytics.update(fused, {}))
    updates.append(analytics.flush())
    entries = [(e.global_id, e.zone_id, e.time_us) for u in updates for e in u.entries]
    dwell = [(d.zone_id, d.enter_us, d.exit_us) for u in updates for d in u.dwell]
    return entries, dwell


def test_dwell_of_a_person_standing_at_the_entrance_starts_at_the_first_sighting() -> None:
    path = [(t / 10, 2.0, 2.0) for t in range(0, 81)]  # stands in zone A from 0 to 8 s
    entries, dwell = _run(path)
    assert [(zone, at) for _, zone, at in entries] == [(ZONE_A, us(0.0))]
    assert dwell == [(ZONE_A, us(0.0), us(8.0))]


def test_a_zone_entered_after_the_confirmation_starts_when_entered() -> None:
    # In zone A (x < 4) from 0 s, walks at 1 m/s from x = 2 (at 2 s) into zone B (x > 6, at 6 s), stays to 10 s.
    path = [(t / 10, min(8.0, max(2.0, 2.0 + (t / 10 - 2.0))), 2.0) for t in range(0, 101)]
    entries, dwell = _run(path)
    assert [zone for _, zone, _ in entries] == [ZONE_A, ZONE_B]
    assert entries[0][2] == us(0.0)
    assert abs(entries[1][2] - us(6.0)) <= 300_000  # when the fused position crossed into B
    assert dwell[0][:2] == (ZONE_A, us(0.0))
    assert dwell[1] == (ZONE_B, entries[1][2], us(10.0))


def test_a_visit_ended_by_leaving_ends_at_the_last_observation() -> None:
    path = [(t / 10, 2.0, 2.0) for t in range(0, 81)]  # in zone A from 0 to 8 s, then gone
    entries, dwell = _run(path, empty_until_s=11.0)
    assert [(zone, at) for _, zone, at in entries] == [(ZONE_A, us(0.0))]
    assert dwell == [(ZONE_A, us(0.0), us(8.0))]


def test_analytics_restarted_mid_stream_do_not_date_visits_back_before_their_start() -> None:
    """New analytics (the server restarts them with new zones) meet people the fusion has followed for long."""
    analytics = SiteAnalytics(site_config(exit_grace_s=1.0))
    updates = []
    for t_s in (100.0, 100.5, 101.0):
        fused = frame(t_s, {7: (2.0, 2.0)})
        updates.append(analytics.update(dataclasses.replace(fused, first_seen_us=np.array([us(3.0)])), {}))
    updates.append(analytics.flush())
    assert [(e.zone_id, e.time_us) for u in updates for e in u.entries] == [(ZONE_A, us(100.0))]
    assert [(d.enter_us, d.exit_us) for u in updates for d in u.dwell] == [(us(100.0), us(101.0))]
