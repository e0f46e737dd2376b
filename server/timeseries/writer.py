"""Batching, retrying, bounded writer that keeps time-series writes off the ingest path.

``write()`` only appends to a bounded in-memory buffer (a lock held for microseconds; it never waits for the
store and never raises). One background thread sends batches of up to ``batch_size`` points when that many are
waiting, when the oldest waited ``flush_interval_s``, or on ``flush()``.

Buffer and loss rules:
- Points leave the buffer only once the store took them (or refused them as bad data), so the buffer holds
  every point not yet stored: at most ``max_buffer_points``. When a write would exceed that, the OLDEST points
  are dropped and counted in ``dropped_points``. Nothing is lost while an outage buffers fewer points than the
  bound.
- ``TimeSeriesUnavailable``: the batch stays at the head of the buffer and is retried after an exponential
  backoff with jitter (``retry_initial_s`` doubling up to ``retry_max_s``).
- ``TimeSeriesRejected``: the batch is not retried as is. Points the backend names as bad are dropped and the
  rest sent again; when the server cannot say which points were bad, the batch is split in halves (at most
  ``max_isolation_requests`` extra requests per batch) so that one bad point does not cost thousands of good
  ones. Each such batch counts once in ``failed_batches``; every dropped point counts in ``dropped_points``.
- A retried batch may reach the store twice: every backend keeps one point per (measurement, tags, time), so a
  retry never duplicates data.

Durability (the ingest's ack barrier, docs/operations.md "Durability"): ``checkpoint()`` marks every point queued
so far; its ``commit()`` returns once the store took them all and raises ``TimeSeriesUnavailable`` when it could
not within ``durable_timeout_s``, so that the frames they came from are not acknowledged yet.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence

from server.timeseries.base import TimeSeriesBackend
from server.timeseries.errors import TimeSeriesRejected, TimeSeriesUnavailable
from server.timeseries.types import Point, WriterStats

logger = logging.getLogger(__name__)


class BatchingWriter:
    """Thread-safe, never-blocking front of a ``TimeSeriesBackend``."""

    def __init__(
        self,
        backend: TimeSeriesBackend,
        *,
        max_buffer_points: int = 100_000,
        batch_size: int = 5000,
        flush_interval_s: float = 0.5,
        retry_initial_s: float = 0.1,
        retry_max_s: float = 5.0,
        max_isolation_requests: int = 64,
        durable_timeout_s: float = 2.0,
        thread_name: str = "timeseries-writer",
    ) -> None:
        if max_buffer_points < 1 or batch_size < 1:
            raise ValueError("max_buffer_points and batch_size must be positive")
        if flush_interval_s <= 0 or retry_initial_s <= 0 or retry_max_s < retry_initial_s:
            raise ValueError(
                "flush_interval_s and retry delays must be positive, retry_max_s >= retry_initial_s"
            )
        self.backend = backend
        self.max_buffer_points = max_buffer_points
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.max_isolation_requests = max_isolation_requests
        self.durable_timeout_s = durable_timeout_s
        self._thread_name = thread_name

        self._lock = threading.Lock()
        self._progress = threading.Condition(self._lock)  # notified whenever the buffer head moves
        self._wakeup = (
            threading.Event()
        )  # wakes the flusher: a full batch is waiting, a flush or stop was asked
        self._stop_event = threading.Event()  # interrupts the retry backoff
        self._buffer: deque[Point] = deque(maxlen=max_buffer_points)
        self._head_seq = 0  # sequence number of _buffer[0]; every appended point gets the next number
        self._flush_target_seq = 0  # the flusher ignores batch size and interval until the head reaches this
        self._written = 0
        self._dropped = 0
        self._failed_batches = 0
        self._last_error = ""
        self._healthy = True
        self._thread: threading.Thread | None = None
        self._thread_pid = 0
        self._stopping = False
        self._stop_deadline = float("inf")
        self._stopped = False

    # -- producer side ---------------------------------------------------------------------------------------

    def write(self, points: Iterable[Point]) -> None:
        """Queue points for writing. Never blocks on the store, never raises."""
        try:
            batch = points if isinstance(points, list | tuple) else list(points)
            count = len(batch)
            if count == 0:
                return
            with self._lock:
                if self._stopped:
                    self._dropped += count
                    return
                overflow = len(self._buffer) + count - self.max_buffer_points
                self._buffer.extend(batch)  # the deque's maxlen drops the oldest points
                if overflow > 0:
                    self._head_seq += overflow
                    self._dropped += overflow
                    self._progress.notify_all()
                waiting = len(self._buffer)
                if self._thread is None or self._thread_pid != os.getpid():
                    self._start_locked()
            if overflow > 0:
                logger.warning(
                    "time-series buffer full (%d points): dropped the %d oldest", waiting, overflow
                )
            if waiting >= self.batch_size:
                self._wakeup.set()
        except Exception:  # write() must never raise into ingest
            logger.exception("time-series writer could not queue points")

    def write_point(self, point: Point) -> None:
        self.write((point,))

    def start(self) -> None:
        """Start the flusher thread (``write()`` starts it on first use; also restarts it after a fork)."""
        with self._lock:
            if self._thread is None or self._thread_pid != os.getpid():
                self._start_locked()

    def _start_locked(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread_pid = os.getpid()
        self._thread.start()

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every point queued before this call is stored or dropped; False on timeout."""
        with self._lock:
            target = self._head_seq + len(self._buffer)
        return self._wait_for(target, timeout_s)

    def checkpoint(self) -> WriterCheckpoint | None:
        """Mark every point queued so far (None when none waits); ``commit()`` waits until they are stored."""
        with self._lock:
            target = self._head_seq + len(self._buffer)
            if self._head_seq >= target:
                return None
        return WriterCheckpoint(self, target)

    def _wait_for(self, target: int, timeout_s: float) -> bool:
        """Wait until the buffer head passed `target` (every point before it stored or dropped)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            if self._head_seq >= target:
                return True
            self._flush_target_seq = max(self._flush_target_seq, target)
            if self._thread is None or self._thread_pid != os.getpid():
                self._start_locked()
        self._wakeup.set()
        with self._lock:
            while self._head_seq < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._progress.wait(remaining)
        return True

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Flush what is buffered (for at most ``timeout_s``), then end the thread; later writes are dropped
        and counted. Returns True when nothing was left unwritten."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._stopped = True
            self._stopping = True
            self._stop_deadline = deadline
            self._flush_target_seq = self._head_seq + len(self._buffer)
            thread = self._thread if self._thread_pid == os.getpid() else None
        self._wakeup.set()
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
            self._stop_event.set()
            thread.join(0.5)
        with self._lock:
            left = len(self._buffer)
        if left:
            logger.warning("time-series writer stopped with %d points unwritten", left)
        return left == 0

    def stats(self) -> WriterStats:
        with self._lock:
            return WriterStats(
                buffered_points=len(self._buffer),
                written_points=self._written,
                dropped_points=self._dropped,
                failed_batches=self._failed_batches,
                last_error=self._last_error,
                backend_healthy=self._healthy,
            )

    # -- flusher thread --------------------------------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        last_flush = time.monotonic()
        while True:
            with self._lock:
                waiting = len(self._buffer)
                urgent = self._stopping or self._head_seq < self._flush_target_seq
                stopping = self._stopping
                past_deadline = time.monotonic() >= self._stop_deadline
            if stopping and (waiting == 0 or past_deadline):
                return
            if waiting == 0:
                self._wakeup.wait(self.flush_interval_s)
                self._wakeup.clear()
                continue
            if waiting < self.batch_size and not urgent:
                remaining = self.flush_interval_s - (time.monotonic() - last_flush)
                if remaining > 0:
                    self._wakeup.wait(remaining)
                    self._wakeup.clear()
                    continue
            last_flush = time.monotonic()
            if self._send_head_batch():
                attempt = 0
                continue
            delay = min(self.retry_max_s, self.retry_initial_s * (2**attempt))
            attempt = min(attempt + 1, 30)
            self._stop_event.wait(random.uniform(delay / 2, delay))

    def _send_head_batch(self) -> bool:
        """Send the oldest batch; False when the store is unavailable (the batch stays buffered)."""
        with self._lock:
            start_seq = self._head_seq
            batch = list(itertools.islice(self._buffer, 0, self.batch_size))
        budget = [self.max_isolation_requests]
        rejected: list[TimeSeriesRejected] = []
        try:
            bad = self._write_isolating(batch, budget, rejected)
        except TimeSeriesUnavailable as err:
            with self._lock:
                was_healthy = self._healthy
                self._healthy = False
                self._last_error = str(err)
            if was_healthy:
                logger.warning("time-series store unavailable, buffering: %s", err)
            return False
        except Exception as err:  # a backend bug must not wedge the buffer: drop this batch, keep going
            logger.exception(
                "time-series backend failed unexpectedly; dropping a batch of %d points", len(batch)
            )
            bad = len(batch)
            rejected.append(TimeSeriesRejected(f"unexpected backend error: {err!r}", code="backend_error"))
        with self._lock:
            already_dropped = min(len(batch), self._head_seq - start_seq)  # overflow removed them meanwhile
            for _ in range(len(batch) - already_dropped):
                self._buffer.popleft()
            self._head_seq = start_seq + len(batch) if already_dropped < len(batch) else self._head_seq
            self._dropped += bad - already_dropped  # those were counted as dropped, yet they were sent
            self._written += len(batch) - bad
            if not self._healthy:
                logger.info("time-series store available again")
            self._healthy = True
            if rejected:
                self._failed_batches += 1
                self._last_error = str(rejected[-1])
            self._progress.notify_all()
        if rejected:
            logger.warning(
                "time-series store rejected %d of %d points (%d request(s) refused): %s",
                bad,
                len(batch),
                len(rejected),
                rejected[0],
            )
        return True

    def _write_isolating(
        self, points: Sequence[Point], budget: list[int], rejected: list[TimeSeriesRejected]
    ) -> int:
        """Write ``points``; return how many were refused as bad data. Raises TimeSeriesUnavailable."""
        try:
            self.backend.write_batch(points)
            return 0
        except TimeSeriesRejected as err:
            rejected.append(err)
            if err.bad_indices:
                bad_set = {i for i in err.bad_indices if 0 <= i < len(points)}
                rest = [p for i, p in enumerate(points) if i not in bad_set]
                if bad_set and rest:
                    return len(bad_set) + self._write_isolating(rest, budget, rejected)
                if bad_set:
                    return len(bad_set)
            if len(points) == 1 or budget[0] < 2:
                return len(points)
            budget[0] -= 2
            middle = len(points) // 2
            return self._write_isolating(points[:middle], budget, rejected) + self._write_isolating(
                points[middle:], budget, rejected
            )


class WriterCheckpoint:
    """The points queued up to one moment (see ``BatchingWriter.checkpoint``)."""

    def __init__(self, writer: BatchingWriter, target_seq: int) -> None:
        self._writer = writer
        self._target_seq = target_seq

    def commit(self) -> None:
        """Return once every marked point is in the store; raise ``TimeSeriesUnavailable`` when it is not within
        the writer's ``durable_timeout_s`` (they stay buffered and retried)."""
        writer = self._writer
        if not writer._wait_for(self._target_seq, writer.durable_timeout_s):
            stats = writer.stats()
            raise TimeSeriesUnavailable(
                f"{stats.buffered_points} time-series points not stored within {writer.durable_timeout_s} s "
                f"({stats.last_error or 'store slow'})"
            )

    def abandon(self) -> None:
        """Nothing to undo: the points stay buffered until stored."""
