"""The in-process live state: newest snapshot, time-matched snapshots, history bounded by age and count, threads."""

from __future__ import annotations

import threading

import pytest

from server.livestate import LivePerson, SiteSnapshot
from server.livestate.memory import InMemoryLiveState

S = 1_000_000


def snap(site_id: int, time_us: int, persons: dict[int, tuple[float, float]]) -> SiteSnapshot:
    return SiteSnapshot(
        site_id=site_id,
        time_us=time_us,
        persons=tuple(LivePerson(pid, x, y) for pid, (x, y) in persons.items()),
    )


def ids(snapshot: SiteSnapshot | None) -> set[int]:
    return {p.person_id for p in snapshot.persons} if snapshot is not None else set()


def test_latest_is_the_newest_complete_set() -> None:
    live = InMemoryLiveState()
    live.publish(snap(1, 10 * S, {7: (1.0, 2.0), 8: (3.0, 4.0)}))
    live.publish(snap(1, 11 * S, {8: (3.5, 4.0)}))
    assert live.latest(1) == snap(1, 11 * S, {8: (3.5, 4.0)})
    assert live.latest(2) is None


def test_older_snapshots_are_ignored() -> None:
    live = InMemoryLiveState()
    live.publish(snap(1, 10 * S, {1: (0.0, 0.0)}))
    live.publish(snap(1, 9 * S, {2: (0.0, 0.0)}))
    assert ids(live.latest(1)) == {1}


@pytest.mark.parametrize(
    ("time_us", "tolerance_us", "expected"),
    [
        (10 * S, S, {1}),
        (int(10.4 * S), S, {1}),
        (int(10.6 * S), S, {2}),
        (12 * S, S, {3}),
        (int(13.5 * S), S, set()),
        (5 * S, S, set()),
        (int(13.5 * S), 2 * S, {3}),
    ],
)
def test_at_picks_the_closest_time(time_us: int, tolerance_us: int, expected: set[int]) -> None:
    live = InMemoryLiveState()
    for person_id, t in ((1, 10 * S), (2, 11 * S), (3, 12 * S)):
        live.publish(snap(1, t, {person_id: (0.0, 0.0)}))
    assert ids(live.at(1, time_us, tolerance_us=tolerance_us)) == expected


def test_history_is_bounded_by_age_and_count() -> None:
    live = InMemoryLiveState(retention_s=2.0, max_snapshots=1000)
    for step in range(100):
        live.publish(snap(1, step * S // 10, {step: (0.0, 0.0)}))
    assert live.at(1, 0, tolerance_us=S // 20) is None
    assert ids(live.at(1, int(9.9 * S), tolerance_us=1)) == {99}
    small = InMemoryLiveState(retention_s=100.0, max_snapshots=3)
    for step in range(10):
        small.publish(snap(1, step * S, {step: (0.0, 0.0)}))
    assert small.at(1, 6 * S, tolerance_us=S // 2) is None
    assert ids(small.at(1, 7 * S, tolerance_us=S // 2)) == {7}


def test_the_default_history_covers_a_badge_read_30_s_late_at_the_live_rate() -> None:
    live = InMemoryLiveState()
    for step in range(35 * 5):  # 35 s at 5 Hz
        live.publish(snap(1, step * S // 5, {step: (0.0, 0.0)}))
    newest_us = (35 * 5 - 1) * S // 5
    assert ids(live.at(1, newest_us - 30 * S, tolerance_us=1)) == {35 * 5 - 1 - 150}


def test_a_site_nothing_was_published_for_within_the_retention_has_no_state() -> None:
    now = [100.0]
    live = InMemoryLiveState(retention_s=30.0, clock=lambda: now[0])
    live.publish(snap(1, 10 * S, {1: (0.0, 0.0)}))
    now[0] += 29.0
    assert ids(live.latest(1)) == {1}
    now[0] += 2.0  # the ingest stopped 31 s ago
    assert live.latest(1) is None
    assert live.at(1, 10 * S, tolerance_us=S) is None


def test_concurrent_writers_and_readers() -> None:
    live = InMemoryLiveState()
    errors: list[BaseException] = []

    def writer(site_id: int) -> None:
        for step in range(2000):
            live.publish(snap(site_id, step, {step: (float(step), 0.0)}))

    def reader() -> None:
        try:
            for _ in range(2000):
                for site_id in (1, 2):
                    latest = live.latest(site_id)
                    assert latest is None or len(latest.persons) == 1
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(1,)), threading.Thread(target=writer, args=(2,))]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert live.latest(1) == snap(1, 1999, {1999: (1999.0, 0.0)})
    assert live.latest(2) == snap(2, 1999, {1999: (1999.0, 0.0)})
