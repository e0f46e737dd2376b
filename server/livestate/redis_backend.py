"""Live state in Redis, shared by every process of a split deployment (web processes apart from ingest ones).

Per site one sorted set `<prefix>:site:<id>:snapshots`: each member is a snapshot (server.livestate.codec),
scored by its time in microseconds. Each write adds the snapshot, drops those older than `retention_s` before it
and renews the key's expiry (`retention_s`), so a site whose ingest stopped leaves nothing behind. The ingest
publishes at LIVE_PUSH_HZ per site, not per frame: at 5 Hz and 30 s that is 150 members per site.

Writes never block the caller: they are queued (bounded, the oldest dropped first and counted) and sent by one
writer thread in a pipeline; when Redis is down they are dropped (the live state is transient) and the ingest
goes on. Reads are direct and raise LiveStateUnavailableError when Redis does not answer; a member that does not
decode (another version's format) is skipped and counted (`stats.undecodable`).

Identity changes are announced on the pub/sub channel `<prefix>:identities` with the sender's origin token;
a listener thread per process calls its listener for announcements of other processes, and once with None after
each (re)subscription, as announcements sent while it was disconnected are lost.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from redis.exceptions import RedisError

from server.livestate import codec
from server.livestate.types import IdentitiesListener, LiveStateUnavailableError, SiteSnapshot

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "retail:live"


@dataclass(slots=True)
class RedisLiveStateStats:
    snapshots_written: int = 0
    dropped: int = 0
    write_errors: int = 0
    last_error: str = ""
    announcements_received: int = 0
    listen_errors: int = 0
    undecodable: int = 0


@dataclass(frozen=True, slots=True)
class _Snapshot:
    site_id: int
    time_us: int
    member: bytes


@dataclass(frozen=True, slots=True)
class _Announcement:
    message: bytes


@dataclass(slots=True)
class _Queue:
    items: deque[_Snapshot | _Announcement] = field(default_factory=deque)
    busy: bool = False
    stopped: bool = False


class RedisLiveState:
    def __init__(
        self,
        url: str,
        *,
        retention_s: float,
        prefix: str = DEFAULT_PREFIX,
        max_pending: int = 4096,
        timeout_s: float = 2.0,
    ) -> None:
        self.retention_s = retention_s
        self._retention_us = int(retention_s * 1_000_000)
        self._prefix = prefix
        self._max_pending = max_pending
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, health_check_interval=15
        )
        self.origin = uuid.uuid4().hex
        self.stats = RedisLiveStateStats()
        self._queue = _Queue()
        self._cond = threading.Condition()
        self._writer: threading.Thread | None = None
        self._listeners: list[threading.Event] = []

    def _key(self, site_id: int) -> str:
        return f"{self._prefix}:site:{site_id}:snapshots"

    @property
    def _channel(self) -> str:
        return f"{self._prefix}:identities"

    # ---- writes (queued, one writer thread) ---------------------------------------------------------------------
    def publish(self, snapshot: SiteSnapshot) -> None:
        self._enqueue(_Snapshot(snapshot.site_id, snapshot.time_us, codec.encode(snapshot)))

    def announce_identities_changed(self, site_id: int | None) -> None:
        self._enqueue(_Announcement(json.dumps({"site_id": site_id, "origin": self.origin}).encode()))

    def _enqueue(self, item: _Snapshot | _Announcement) -> None:
        with self._cond:
            if self._queue.stopped:
                return
            if len(self._queue.items) >= self._max_pending:
                self._queue.items.popleft()
                self.stats.dropped += 1
            self._queue.items.append(item)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name="livestate-writer", daemon=True)
                self._writer.start()
            self._cond.notify_all()

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue.items and not self._queue.stopped:
                    self._cond.wait()
                if not self._queue.items:
                    return
                batch = list(self._queue.items)
                self._queue.items.clear()
                self._queue.busy = True
            failed = False
            try:
                self._write(batch)
            except (RedisError, OSError) as err:
                failed = True
                self.stats.write_errors += 1
                self.stats.dropped += len(batch)
                if self.stats.write_errors == 1 or self.stats.write_errors % 100 == 0:
                    logger.warning(
                        "live state: writing to Redis failed (%d times): %s", self.stats.write_errors, err
                    )
                self.stats.last_error = f"{type(err).__name__}: {err}"
            finally:
                with self._cond:
                    self._queue.busy = False
                    self._cond.notify_all()
            if failed:
                time.sleep(0.5)  # Redis is down: do not spin; what queues meanwhile is the newest state

    def _write(self, batch: list[_Snapshot | _Announcement]) -> None:
        pipe = self._client.pipeline(transaction=False)
        expire_ms = int(self.retention_s * 1000) + 1000
        newest: dict[int, int] = {}
        for item in batch:
            if isinstance(item, _Snapshot):
                pipe.zadd(self._key(item.site_id), {item.member: item.time_us})
                newest[item.site_id] = max(newest.get(item.site_id, item.time_us), item.time_us)
            else:
                pipe.publish(self._channel, item.message)
        for site_id, time_us in newest.items():
            pipe.zremrangebyscore(self._key(site_id), "-inf", f"({time_us - self._retention_us}")
            pipe.pexpire(self._key(site_id), expire_ms)
        pipe.execute()
        self.stats.snapshots_written += sum(isinstance(item, _Snapshot) for item in batch)

    def flush(self, timeout_s: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue.items and not self._queue.busy, timeout_s)

    # ---- reads ----------------------------------------------------------------------------------------------------
    def _decoded(self, rows: list[bytes]) -> list[SiteSnapshot]:
        """The members that decode; one that does not (another version's format, a stray write) is skipped and
        counted rather than failing every reader of the site until it ages out."""
        snapshots = []
        for row in rows:
            try:
                snapshots.append(codec.decode(row))
            except (ValueError, KeyError, TypeError, IndexError) as err:
                self.stats.undecodable += 1
                if self.stats.undecodable == 1 or self.stats.undecodable % 100 == 0:
                    logger.warning(
                        "live state: skipping an undecodable snapshot (%d so far): %s",
                        self.stats.undecodable,
                        err,
                    )
        return snapshots

    def latest(self, site_id: int) -> SiteSnapshot | None:
        try:
            # The newest few: the newest itself may not decode.
            rows: list[bytes] = self._client.zrange(self._key(site_id), -4, -1)  # type: ignore[assignment]
        except (RedisError, OSError) as err:
            raise LiveStateUnavailableError(f"Redis: {err}") from err
        snapshots = self._decoded(rows)
        return max(snapshots, key=lambda s: s.time_us) if snapshots else None

    def at(self, site_id: int, time_us: int, *, tolerance_us: int) -> SiteSnapshot | None:
        key = self._key(site_id)
        try:
            pipe = self._client.pipeline(transaction=False)
            # The closest few either side: the closest itself may not decode.
            pipe.zrevrangebyscore(key, time_us, time_us - tolerance_us, start=0, num=4)
            pipe.zrangebyscore(key, time_us, time_us + tolerance_us, start=0, num=4)
            before, after = pipe.execute()
        except (RedisError, OSError) as err:
            raise LiveStateUnavailableError(f"Redis: {err}") from err
        candidates = self._decoded([*before, *after])
        if not candidates:
            return None
        return min(candidates, key=lambda s: abs(s.time_us - time_us))

    # ---- identity announcements -----------------------------------------------------------------------------------
    def listen_identities_changed(self, listener: IdentitiesListener) -> Callable[[], None]:
        stop = threading.Event()
        self._listeners.append(stop)
        thread = threading.Thread(
            target=self._listen_loop, args=(listener, stop), name="livestate-identities", daemon=True
        )
        thread.start()

        def stop_listening() -> None:
            stop.set()
            thread.join(timeout=3)

        return stop_listening

    def _listen_loop(self, listener: IdentitiesListener, stop: threading.Event) -> None:
        reconnected = False
        while not stop.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self._channel)
                if reconnected:
                    listener(None)  # announcements sent while we were away are lost: reload every site
                reconnected = False
                while not stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is None or message.get("type") != "message":
                        continue
                    self._deliver(listener, message["data"])
            except (RedisError, OSError) as err:
                self.stats.listen_errors += 1
                if self.stats.listen_errors == 1 or self.stats.listen_errors % 100 == 0:
                    logger.warning("live state: listening for identity changes failed: %s", err)
                reconnected = True
                stop.wait(1.0)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    pubsub.close()

    def _deliver(self, listener: IdentitiesListener, data: bytes) -> None:
        try:
            body = json.loads(data)
            origin, site_id = body["origin"], body["site_id"]
        except (ValueError, KeyError, TypeError):
            logger.warning("live state: ignoring a malformed identity announcement: %r", data[:200])
            return
        if origin == self.origin:
            return  # this process's own change: its identities_changed signal handled it already
        self.stats.announcements_received += 1
        try:
            listener(None if site_id is None else int(site_id))
        except Exception:
            logger.exception("live state: the identity-change listener failed")

    # ---- housekeeping ---------------------------------------------------------------------------------------------
    def clear(self, site_id: int | None = None) -> None:
        self.flush()
        try:
            if site_id is not None:
                self._client.delete(self._key(site_id))
                return
            keys = list(self._client.scan_iter(match=f"{self._prefix}:site:*", count=500))
            if keys:
                self._client.delete(*keys)
        except (RedisError, OSError) as err:
            raise LiveStateUnavailableError(f"Redis: {err}") from err

    def close(self) -> None:
        self.flush(timeout_s=2.0)
        for stop in self._listeners:
            stop.set()
        with self._cond:
            self._queue.stopped = True
            self._cond.notify_all()
        if self._writer is not None:
            self._writer.join(timeout=3)
        self._client.close()
