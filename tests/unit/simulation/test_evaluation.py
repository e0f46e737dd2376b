"""The scoring rules of simulation.evaluation on hand-made tracks (no simulation)."""

from __future__ import annotations

import numpy as np

from server.analytics.types import DistancingViolation
from server.fusion.types import FusedFrame
from simulation.evaluation import _match_violations, _Matcher
from simulation.truth import TruthViolation

SECOND_US = 1_000_000


def _frame(time_us: int, global_ids: list[int], xy: list[tuple[float, float]]) -> FusedFrame:
    count = len(global_ids)
    return FusedFrame(
        site_id=1,
        time_us=time_us,
        global_ids=np.array(global_ids, dtype=np.int64),
        floor_xy_m=np.array(xy, dtype=np.float64).reshape(count, 2),
        velocities_mps=np.zeros((count, 2)),
        last_seen_us=np.full(count, time_us, dtype=np.int64),
        source_mask=np.ones((count, 1), dtype=np.bool_),
        camera_ids=np.array([1], dtype=np.int64),
        ended=(),
        processed_frames=1,
    )


def _switched_matcher() -> _Matcher:
    """Global id 1 follows truth person 10 for 10 s, then (an identity switch) person 20 for 30 s; global id 2
    follows person 30 throughout."""
    matcher = _Matcher()
    for step in range(200):  # 0.2 s samples over 40 s
        t_us = step * SECOND_US // 5
        owner = 10 if t_us < 10 * SECOND_US else 20
        matcher.match(
            np.array([owner, 30]),
            np.array([[5.0, 5.0], [6.0, 5.0]]),
            _frame(t_us, [1, 2], [(5.1, 5.0), (6.1, 5.0)]),
        )
    return matcher


def test_person_during_is_the_majority_inside_the_interval_not_over_the_run() -> None:
    matcher = _switched_matcher()
    assert matcher.person_of(1) == 20
    assert matcher.person_during(1, 2 * SECOND_US, 8 * SECOND_US) == 10
    assert matcher.person_during(1, 12 * SECOND_US, 30 * SECOND_US) == 20
    assert matcher.person_during(1, 8 * SECOND_US, 14 * SECOND_US) == 20  # 4 s of person 20, 2 s of 10
    assert matcher.person_during(99, 0, SECOND_US) is None


def test_a_contact_recorded_before_an_identity_switch_counts_for_the_people_then_present() -> None:
    matcher = _switched_matcher()
    estimated = [DistancingViolation(1, 2, 2 * SECOND_US, 8 * SECOND_US, 9 * SECOND_US, 1.0)]
    before_switch = (TruthViolation(10, 30, 2 * SECOND_US, 8 * SECOND_US, 1.0),)
    assert _match_violations(estimated, before_switch, before_switch, matcher) == (1.0, 1.0)
    # The same record against a truth where person 20 (the later owner of id 1) met person 30 is wrong.
    later_owner = (TruthViolation(20, 30, 2 * SECOND_US, 8 * SECOND_US, 1.0),)
    assert _match_violations(estimated, later_owner, later_owner, matcher) == (0.0, 0.0)
