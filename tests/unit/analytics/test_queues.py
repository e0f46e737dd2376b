"""QueueTracker through SiteAnalytics: queue B (6..10 x 0..4) served by the till S (10..12 x 0..4)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from server.analytics import (
    PersonIdentity,
    QueueAlert,
    QueueStatus,
    QueueThresholds,
    QueueVisit,
    SiteAnalytics,
    Zone,
    ZoneKind,
)
from tests.unit.analytics.helpers import ZONE_B, ZONES, frame, rect, site_config, us

TILL = Zone(20, "Till", ZoneKind.SERVICE, rect(10, 0, 12, 4))
KIM = PersonIdentity(employee_id=7, display_name="Kim", level=1)
REVOKED = PersonIdentity(revoked=True)  # every binding of theirs revoked: a visitor again
Path = Sequence[tuple[float, float] | None]


def _run(
    paths: dict[int, Path],
    *,
    staff: frozenset[int] = frozenset(),
    bound_at: dict[int, int] | None = None,
    unbound_at: dict[int, int] | None = None,
    step_s: float = 1.0,
    **config: object,
) -> tuple[list[QueueVisit], list[QueueStatus], list[QueueAlert]]:
    """Each person's position per step (None: not on the floor then); the store runs 12 s past the paths.
    ``staff``: bound to an employee throughout; ``bound_at``: bound from that step on; ``unbound_at``: their
    binding revoked from that step on (an unbind)."""
    analytics = SiteAnalytics(site_config(zones=(*ZONES, TILL), **config))
    identities = {gid: KIM for gid in staff}
    visits: list[QueueVisit] = []
    alerts: list[QueueAlert] = []
    statuses: list[QueueStatus] = []
    steps = max(len(p) for p in paths.values()) + 12
    for k in range(steps):
        people = {g: p[k] for g, p in paths.items() if k < len(p) and p[k] is not None}
        identities |= {gid: KIM for gid, step in (bound_at or {}).items() if step == k}
        identities |= {gid: REVOKED for gid, step in (unbound_at or {}).items() if step == k}
        update = analytics.update(frame(k * step_s, people), identities)  # type: ignore[arg-type]
        visits += update.queue_visits
        alerts += update.queue_alerts
        statuses += update.queues
    return visits, statuses, alerts


QUEUE, OUTSIDE, SERVED = (8.0, 2.0), (1.0, 8.0), (11.0, 2.0)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ([QUEUE] * 10 + [SERVED] * 3 + [OUTSIDE], [(ZONE_B, 0.0, 10.0)]),  # waits 10 s, served
        ([QUEUE] * 4 + [OUTSIDE] * 3, [(ZONE_B, 0.0, None)]),  # walks off: abandoned
        (
            [QUEUE] * 4 + [OUTSIDE, OUTSIDE] + [SERVED] * 2,
            [(ZONE_B, 0.0, 6.0)],
        ),  # back to the till in the grace
        ([QUEUE] * 4 + [OUTSIDE] * 7 + [SERVED] * 2, [(ZONE_B, 0.0, None)]),  # ... too late: abandoned
        ([QUEUE] * 4 + [None], [(ZONE_B, 0.0, None)]),  # leaves the floor from the queue
        ([OUTSIDE, SERVED, SERVED], []),  # straight to the till: no queue visit
    ],
)
def test_waits(path: Path, expected: list[tuple[int, float, float | None]]) -> None:
    visits, _, _ = _run({1: path})
    assert [(v.zone_id, (v.joined_us - us(0)) / 1e6, v.wait_s) for v in visits] == expected


def test_staff_are_not_in_the_queue() -> None:
    visits, statuses, _ = _run({1: [QUEUE] * 3 + [SERVED], 2: [QUEUE] * 3 + [SERVED]}, staff=frozenset({2}))
    assert [v.global_id for v in visits] == [1]
    assert max(s.length for s in statuses) == 1


@pytest.mark.parametrize(
    ("path", "bound_at", "expected"),
    [
        ([QUEUE] * 6 + [SERVED] * 2, 3, []),  # bound while waiting, then served: no visitor's wait
        ([QUEUE] * 6 + [OUTSIDE] * 3, 3, []),  # bound while waiting, then walks off: no abandonment
        ([QUEUE] * 6 + [None], 3, []),  # bound while waiting, then leaves the floor
        ([QUEUE] * 6 + [SERVED] * 2, 7, [6.0]),  # bound at the till, after the wait was reported
    ],
)
def test_a_person_bound_while_waiting_is_not_a_visitor(
    path: Path, bound_at: int, expected: list[float | None]
) -> None:
    visits, _, _ = _run({1: path, 2: [QUEUE] * 12 + [SERVED]}, bound_at={1: bound_at})
    assert [v.wait_s for v in visits if v.global_id == 1] == expected
    assert [v.global_id for v in visits if v.global_id != 1] == [2]


@pytest.mark.parametrize(
    ("path", "bound_at", "unbound_at", "expected"),
    [
        ([QUEUE] * 8 + [SERVED] * 2, 3, 5, [8.0]),  # bound while waiting, unbound before the till: waited 8 s
        ([QUEUE] * 8 + [OUTSIDE] * 8, 3, 5, [None]),  # ... then walks off: abandoned
        ([QUEUE] * 8 + [SERVED] * 2, 0, 5, [8.0]),  # bound before joining, unbound in the queue
        ([QUEUE] * 8 + [SERVED] * 2, 3, 9, []),  # unbound after reaching the till as staff: not taken back
        ([OUTSIDE] * 2 + [QUEUE] * 6 + [SERVED] * 2, 0, 1, [6.0]),  # unbound before joining: an ordinary wait
    ],
)
def test_a_person_unbound_while_waiting_waits_as_a_visitor(
    path: Path, bound_at: int, unbound_at: int, expected: list[float | None]
) -> None:
    """A revoked binding (a wrong one corrected) makes the person a visitor again: their wait counts from the
    start of their queue visit, and they are in the queue's length from the unbind on."""
    visits, statuses, _ = _run(
        {1: path, 2: [QUEUE] * 14 + [SERVED]}, bound_at={1: bound_at}, unbound_at={1: unbound_at}
    )
    assert [v.wait_s for v in visits if v.global_id == 1] == expected
    assert [v.global_id for v in visits if v.global_id != 1] == [2]
    in_queue = [k for k, p in enumerate(path) if p == QUEUE]
    assert [statuses[k].length for k in in_queue] == [
        1 if bound_at <= k < unbound_at else 2 for k in in_queue
    ]


def test_a_service_of_a_person_bound_after_it_is_no_visitors_service() -> None:
    # 1 and 2 are served (at steps 2 and 4); 3 keeps waiting; 1's badge is read at the till after their wait.
    paths: dict[int, Path] = {1: [QUEUE] * 2 + [SERVED] * 3 + [OUTSIDE], 2: [QUEUE] * 4 + [SERVED, OUTSIDE]}
    paths[3] = [QUEUE] * 14
    _, statuses, _ = _run(paths, bound_at={1: 4})
    assert statuses[3].predicted_wait_s is None  # one service so far
    # From step 4, one visitor's service only: not enough for a predicted wait.
    assert [s.predicted_wait_s for s in statuses[4:14]] == [None] * 10
    _, unbound, _ = _run(paths)
    assert unbound[5].predicted_wait_s is not None  # two services: predicted


def test_predicted_wait_and_the_till_alert() -> None:
    # Persons 1..4 are served one every 2 s; 5, 6, 7 queue behind them.
    paths: dict[int, Path] = {g: [QUEUE] * (2 * g) + [SERVED, OUTSIDE] for g in range(1, 5)}
    for g in (5, 6, 7):
        paths[g] = [QUEUE] * 20
    visits, statuses, alerts = _run(
        paths, queue_alert_length=4, queue_alert_wait_s=None, queue_alert_after_s=3.0
    )
    assert [v.wait_s for v in visits if v.global_id <= 4] == [2.0, 4.0, 6.0, 8.0]
    late = statuses[10]
    assert late.length == 3
    # 4 services over the 10 s run so far: one every 2.5 s; 3 waiting: 7.5 s.
    assert late.predicted_wait_s == pytest.approx(7.5)
    assert [(a.open, a.length) for a in alerts][:2] == [(True, 6), (False, 3)]
    assert alerts[0].time_us == us(3.0)  # 6 or more for 3 s


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"queue_alert_length": 0}, "invalid_threshold"),
        ({"queue_rate_window_s": -1.0}, "invalid_threshold"),
        ({"queue_thresholds": (QueueThresholds(ZONE_B, 0, None),)}, "invalid_threshold"),
        ({"queue_thresholds": (QueueThresholds(ZONE_B, None, -5.0),)}, "invalid_threshold"),
    ],
)
def test_bad_queue_settings(changes: dict[str, object], code: str) -> None:
    from server.analytics import AnalyticsConfigError

    with pytest.raises(AnalyticsConfigError) as error:
        SiteAnalytics(site_config(**changes))
    assert error.value.code == code


def test_a_queue_s_own_thresholds_replace_the_defaults() -> None:
    """Three waiting: no alert with the defaults (6 persons, 300 s); queue B's own threshold of 3 for 2 s alerts."""
    paths: dict[int, Path] = {g: [QUEUE] * 10 for g in (1, 2, 3)}
    _, _, alerts = _run(paths)
    assert alerts == []
    own = QueueThresholds(ZONE_B, length=3, wait_s=None, after_s=2.0)
    _, _, alerts = _run(paths, queue_thresholds=(own,))
    assert [(a.zone_id, a.open, a.length, a.time_us) for a in alerts][:1] == [(ZONE_B, True, 3, us(2.0))]
    never = QueueThresholds(ZONE_B, length=None, wait_s=None)
    _, _, alerts = _run(paths, queue_alert_length=1, queue_alert_after_s=0.0, queue_thresholds=(never,))
    assert alerts == []


def test_a_person_served_inside_the_queue_then_bound_and_unbound_waits_once() -> None:
    """The till is drawn over the queue's head: served there (a 4 s wait) while still in the queue's zone, then a
    badge wrongly bound and unbound at the till. The unbind took a second wait back for the same queue visit,
    reported abandoned when they walked off: one served and one abandoned wait for one visit."""
    till = Zone(20, "Till", ZoneKind.SERVICE, rect(9, 0, 12, 4))
    analytics = SiteAnalytics(site_config(zones=(*ZONES, till)))
    path = [QUEUE] * 4 + [(9.5, 2.0)] * 6 + [OUTSIDE] * 14
    identities: dict[int, PersonIdentity] = {}
    visits: list[QueueVisit] = []
    for k, position in enumerate(path):
        identities = {1: KIM} if k == 5 else {1: REVOKED} if k == 7 else identities
        visits += analytics.update(frame(float(k), {1: position}), identities).queue_visits
    assert [(v.global_id, (v.joined_us - us(0)) / 1e6, v.wait_s) for v in visits] == [(1, 0.0, 4.0)]
