"""The Redis live state against the real Redis: what one process publishes another reads (latest, by time),
history is bounded and expires, identity changes are announced to the other processes only, and a Redis that
does not answer never blocks the publisher and gives readers a clear error."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from server.livestate import LivePerson, LiveStateUnavailableError, SiteSnapshot
from server.livestate.redis_backend import RedisLiveState
from tests.support.processes import free_port

pytestmark = [pytest.mark.integration]
S = 1_000_000


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"test-live:{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    keys = list(client.scan_iter(match=f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def _pair(prefix: str, retention_s: float = 30.0) -> tuple[RedisLiveState, RedisLiveState]:
    """Two backends as two processes would hold them (an ingest and a web process)."""
    url = os.environ["REDIS_URL"]
    return (
        RedisLiveState(url, retention_s=retention_s, prefix=prefix),
        RedisLiveState(url, retention_s=retention_s, prefix=prefix),
    )


def snap(time_us: int, persons: dict[int, tuple[float, float]], site_id: int = 1) -> SiteSnapshot:
    return SiteSnapshot(
        site_id=site_id,
        time_us=time_us,
        persons=tuple(
            LivePerson(
                pid,
                x,
                y,
                zone_ids=(3,) if x > 10 else (),
                employee_id=9 if pid == 1 else None,
                name="Kim" if pid == 1 else "",
            )
            for pid, (x, y) in persons.items()
        ),
        site_occupancy=len(persons),
        zone_occupancy={3: sum(1 for x, _ in persons.values() if x > 10), 4: 0},
    )


def test_what_one_process_publishes_another_reads(prefix: str) -> None:
    ingest, web = _pair(prefix)
    try:
        base = int(time.time() * S)
        for step in range(50):  # 10 s at 5 Hz
            ingest.publish(snap(base + step * S // 5, {1: (step * 0.5, 2.0), 2: (1.0, 1.0)}))
        assert ingest.flush()
        latest = web.latest(1)
        assert latest == snap(base + 49 * S // 5, {1: (24.5, 2.0), 2: (1.0, 1.0)})
        assert latest is not None
        assert latest.who_is_where() == {3: (1,)}
        assert web.latest(2) is None
        # By time: the closest snapshot within the tolerance, on either side.
        found = web.at(1, base + 3 * S + 90_000, tolerance_us=S)
        assert found is not None
        assert found.time_us == base + 3 * S
        found = web.at(1, base + 3 * S + 110_000, tolerance_us=S)
        assert found is not None
        assert found.time_us == base + 3 * S + 200_000
        assert web.at(1, base - 2 * S, tolerance_us=S) is None
        assert web.at(1, base + 12 * S, tolerance_us=S) is None
    finally:
        ingest.close()
        web.close()


def test_history_is_bounded_by_the_retention_and_expires(prefix: str) -> None:
    ingest, web = _pair(prefix, retention_s=2.0)
    try:
        base = int(time.time() * S)
        for step in range(50):
            ingest.publish(snap(base + step * S // 5, {1: (0.0, 0.0)}))
        assert ingest.flush()
        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        key = f"{prefix}:site:1:snapshots"
        assert client.zcard(key) == 11  # 2 s at 5 Hz, both ends included
        assert 0 < client.pttl(key) <= 3000
        assert web.at(1, base, tolerance_us=S) is None
        client.close()
    finally:
        ingest.close()
        web.close()


def test_identity_changes_reach_the_other_processes_only(prefix: str) -> None:
    ingest, web = _pair(prefix)
    heard_by_ingest: list[int | None] = []
    heard_by_web: list[int | None] = []
    arrived = threading.Event()

    def on_ingest(site_id: int | None) -> None:
        heard_by_ingest.append(site_id)
        arrived.set()

    stops = [ingest.listen_identities_changed(on_ingest), web.listen_identities_changed(heard_by_web.append)]
    try:
        time.sleep(
            0.3
        )  # let both subscriptions register (pub/sub does not keep messages for late subscribers)
        web.announce_identities_changed(5)
        assert arrived.wait(5), "the announcement did not arrive within 5 s"
        web.announce_identities_changed(None)
        deadline = time.monotonic() + 5
        while len(heard_by_ingest) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert heard_by_ingest == [5, None]
        assert heard_by_web == []  # its own announcements: its signal already handled them
    finally:
        for stop in stops:
            stop()
        ingest.close()
        web.close()


def test_an_unreachable_redis_never_blocks_the_publisher_and_readers_get_a_clear_error(prefix: str) -> None:
    down = RedisLiveState(
        f"redis://127.0.0.1:{free_port()}/0", retention_s=30.0, prefix=prefix, timeout_s=0.5
    )
    try:
        started = time.perf_counter()
        for step in range(10_000):
            down.publish(snap(step, {1: (0.0, 0.0)}))
        assert time.perf_counter() - started < 1.0  # the hot path only queues (bounded)
        with pytest.raises(LiveStateUnavailableError):
            down.latest(1)
        with pytest.raises(LiveStateUnavailableError):
            down.at(1, 0, tolerance_us=S)
        assert down.flush(timeout_s=5)
        assert down.stats.dropped > 0
        assert down.stats.write_errors >= 1
    finally:
        down.close()


def test_an_undecodable_member_is_skipped_not_a_failure_of_every_reader(prefix: str) -> None:
    """Adversarial review: a member another version (or a stray client) wrote made `latest` and `at` raise, so
    the occupancy and badge endpoints answered 500 for the site until it aged out (34 s)."""
    writer, reader = _pair(prefix)
    try:
        writer.publish(snap(10 * S, {1: (1.0, 1.0)}))
        assert writer.flush()
        raw = redis.Redis.from_url(os.environ["REDIS_URL"])
        raw.zadd(
            f"{prefix}:site:1:snapshots",
            {b'{"s": 1, "t": "later", "v": 2}': 11 * S, b"\xff not json": 12 * S},
        )
        raw.close()
        latest = reader.latest(1)
        assert latest is not None
        assert latest.time_us == 10 * S
        near = reader.at(1, 11 * S, tolerance_us=2 * S)
        assert near is not None
        assert near.time_us == 10 * S
        assert reader.stats.undecodable >= 2
    finally:
        writer.close()
        reader.close()
