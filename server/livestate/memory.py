"""In-process live state: the embedded default, for a server that is web and ingest in one process.

Thread-safe. Per site it keeps the snapshots of the last `retention_s` seconds (counted back from the newest
snapshot, at most `max_snapshots`); snapshots older than the newest are ignored (the state only moves forward).
A site nothing was published for in `retention_s` has no state any more (as its Redis key expires).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from collections.abc import Callable

from server.livestate.types import IdentitiesListener, SiteSnapshot


class InMemoryLiveState:
    def __init__(
        self,
        *,
        retention_s: float = 34.0,
        max_snapshots: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retention_s = retention_s
        self._retention_us = int(retention_s * 1_000_000)
        self._max_snapshots = max_snapshots
        self._clock = clock
        self._lock = threading.Lock()
        self._sites: dict[int, deque[SiteSnapshot]] = {}
        self._written_s: dict[int, float] = {}

    def publish(self, snapshot: SiteSnapshot) -> None:
        with self._lock:
            history = self._sites.get(snapshot.site_id)
            if history is None:
                history = self._sites[snapshot.site_id] = deque(maxlen=self._max_snapshots)
            if history and snapshot.time_us < history[-1].time_us:
                return
            history.append(snapshot)
            self._written_s[snapshot.site_id] = self._clock()
            oldest_us = snapshot.time_us - self._retention_us
            while history and history[0].time_us < oldest_us:
                history.popleft()

    def _history(self, site_id: int) -> deque[SiteSnapshot] | None:
        """The site's snapshots, unless nothing was published for it within the retention (lock held)."""
        history = self._sites.get(site_id)
        if history and self._clock() - self._written_s[site_id] > self.retention_s:
            del self._sites[site_id]
            return None
        return history

    def latest(self, site_id: int) -> SiteSnapshot | None:
        with self._lock:
            history = self._history(site_id)
            return history[-1] if history else None

    def at(self, site_id: int, time_us: int, *, tolerance_us: int) -> SiteSnapshot | None:
        with self._lock:
            history = self._history(site_id)
            if not history:
                return None
            index = bisect.bisect_left(history, time_us, key=lambda s: s.time_us)
            candidates = [history[i] for i in (index - 1, index) if 0 <= i < len(history)]
        best = min(candidates, key=lambda s: abs(s.time_us - time_us))
        return best if abs(best.time_us - time_us) <= tolerance_us else None

    def announce_identities_changed(self, site_id: int | None) -> None:
        """Nothing to do: in one process the `identities_changed` signal reaches the fusion directly."""

    def listen_identities_changed(self, listener: IdentitiesListener) -> Callable[[], None]:
        return lambda: None

    def flush(self, timeout_s: float = 5.0) -> bool:
        return True

    def clear(self, site_id: int | None = None) -> None:
        with self._lock:
            if site_id is None:
                self._sites.clear()
                self._written_s.clear()
            else:
                self._sites.pop(site_id, None)
                self._written_s.pop(site_id, None)

    def close(self) -> None:
        self.clear()
