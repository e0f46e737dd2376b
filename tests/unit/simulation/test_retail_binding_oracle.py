"""The retail benchmarks' binding oracle binds a fused person to an employee they were really following, not to
the employee the matcher guessed at the person's birth beside them (a visitor's visit then counted as staff)."""

from __future__ import annotations

import numpy as np

from server.analytics import PersonIdentity
from server.fusion.types import FusedFrame
from simulation.evaluation import _Matcher
from simulation.scenarios_retail import bound_employee

VISITOR_ID, EMPLOYEE_ID = 11, 4
PEOPLE = {
    VISITOR_ID: PersonIdentity(),
    EMPLOYEE_ID: PersonIdentity(employee_id=7, display_name="Ann", level=2),
}


def _frame(t_us: int, xy: list[tuple[float, float]]) -> FusedFrame:
    ids = np.arange(1, len(xy) + 1, dtype=np.int64)
    n = len(xy)
    return FusedFrame(
        site_id=1,
        time_us=t_us,
        global_ids=ids,
        floor_xy_m=np.array(xy, dtype=np.float64),
        velocities_mps=np.zeros((n, 2)),
        last_seen_us=np.full(n, t_us, dtype=np.int64),
        source_mask=np.ones((n, 1), dtype=bool),
        camera_ids=np.array([1], dtype=np.int64),
    )


def _sample(
    matcher: _Matcher, t_us: int, truth: dict[int, tuple[float, float]], fused_xy: tuple[float, float]
) -> PersonIdentity | None:
    ids = np.array(list(truth), dtype=np.int64)
    xy = np.array(list(truth.values()), dtype=np.float64)
    matcher.match(ids, xy, _frame(t_us, [fused_xy]))
    return bound_employee(matcher, 1, PEOPLE)


def test_a_visitor_matched_to_an_employee_at_birth_is_not_bound() -> None:
    matcher = _Matcher()
    bindings: list[PersonIdentity | None] = []
    # Sample 0: the fused person is on the visitor; 1-2: the employee alone is within reach (the visitor's
    # dot is born a step behind); then the visitor for good.
    for k in range(30):
        truth = {VISITOR_ID: (2.0 + 0.1 * k, 10.0)}
        if 1 <= k <= 2:
            truth = {EMPLOYEE_ID: (2.0 + 0.1 * k, 10.0)}
        bindings.append(_sample(matcher, k * 200_000, truth, (2.0 + 0.1 * k, 10.0)))
    assert bindings == [None] * 30


def test_an_employee_followed_for_a_second_is_bound() -> None:
    matcher = _Matcher()
    bindings = [
        _sample(matcher, k * 200_000, {EMPLOYEE_ID: (5.0, 5.0 + 0.1 * k)}, (5.0, 5.0 + 0.1 * k))
        for k in range(8)
    ]
    assert bindings[:4] == [None] * 4
    assert all(b is not None and b.employee_id == 7 for b in bindings[4:])
