"""The in-process live-position registry: newest snapshot, time-matched snapshots, bounded history, threads."""

from __future__ import annotations

import threading

import pytest

from server.people.live_registry import LiveRegistry

S = 1_000_000


def test_snapshot_is_the_newest_complete_set() -> None:
    registry = LiveRegistry()
    registry.update_site(1, {7: (1.0, 2.0), 8: (3.0, 4.0)}, 10 * S)
    registry.update_site(1, {8: (3.5, 4.0)}, 11 * S)
    assert registry.snapshot(1) == {8: (3.5, 4.0, 11 * S)}
    assert registry.snapshot(2) == {}


def test_older_updates_are_ignored() -> None:
    registry = LiveRegistry()
    registry.update_site(1, {1: (0.0, 0.0)}, 10 * S)
    registry.update_site(1, {2: (0.0, 0.0)}, 9 * S)
    assert set(registry.snapshot(1)) == {1}


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
def test_snapshot_at_picks_the_closest_time(time_us: int, tolerance_us: int, expected: set[int]) -> None:
    registry = LiveRegistry()
    for person_id, t in ((1, 10 * S), (2, 11 * S), (3, 12 * S)):
        registry.update_site(1, {person_id: (0.0, 0.0)}, t)
    assert set(registry.snapshot_at(1, time_us, tolerance_us=tolerance_us)) == expected


def test_history_is_bounded_by_age_and_count() -> None:
    registry = LiveRegistry(history_s=2.0, max_snapshots=1000)
    for step in range(100):
        registry.update_site(1, {step: (0.0, 0.0)}, step * S // 10)
    assert registry.snapshot_at(1, 0, tolerance_us=S // 20) == {}
    assert set(registry.snapshot_at(1, int(9.9 * S), tolerance_us=1)) == {99}
    small = LiveRegistry(history_s=100.0, max_snapshots=3)
    for step in range(10):
        small.update_site(1, {step: (0.0, 0.0)}, step * S)
    assert small.snapshot_at(1, 6 * S, tolerance_us=S // 2) == {}
    assert set(small.snapshot_at(1, 7 * S, tolerance_us=S // 2)) == {7}


def test_concurrent_writers_and_readers() -> None:
    registry = LiveRegistry()
    errors: list[BaseException] = []

    def writer(site_id: int) -> None:
        for step in range(2000):
            registry.update_site(site_id, {step: (float(step), 0.0)}, step)

    def reader() -> None:
        try:
            for _ in range(2000):
                for site_id in (1, 2):
                    snapshot = registry.snapshot(site_id)
                    assert len(snapshot) <= 1
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(1,)), threading.Thread(target=writer, args=(2,))]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert registry.snapshot(1) == {1999: (1999.0, 0.0, 1999)}
    assert registry.snapshot(2) == {1999: (1999.0, 0.0, 1999)}
