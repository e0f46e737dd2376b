"""Where each tracked person of a site is right now: filled by the fusion runtime, read by badge-event
binding.

In-process and thread-safe. Per site it keeps the recent snapshots (the last `history_s` seconds, at most
`max_snapshots`), so a badge event a moment old is matched against the positions of its own time.

The runtime calls `update_site(site_id, {person_id: (x_m, y_m), ...}, time_us)` once per fused frame: the
mapping is the complete set of persons of that site at `time_us` (a person missing from it is gone).
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Mapping, Sequence

PersonPosition = tuple[float, float, int]  # x_m, y_m, time_us


class LiveRegistry:
    def __init__(self, *, history_s: float = 10.0, max_snapshots: int = 256) -> None:
        self._history_us = int(history_s * 1_000_000)
        self._max_snapshots = max_snapshots
        self._lock = threading.Lock()
        self._sites: dict[int, deque[tuple[int, dict[int, PersonPosition]]]] = {}

    def update_site(self, site_id: int, persons: Mapping[int, Sequence[float]], time_us: int) -> None:
        snapshot = {int(pid): (float(pos[0]), float(pos[1]), int(time_us)) for pid, pos in persons.items()}
        with self._lock:
            history = self._sites.get(site_id)
            if history is None:
                history = self._sites[site_id] = deque(maxlen=self._max_snapshots)
            if history and time_us < history[-1][0]:
                return  # older than what we have: the registry only moves forward
            history.append((int(time_us), snapshot))
            while history and history[0][0] < time_us - self._history_us:
                history.popleft()

    def snapshot(self, site_id: int) -> dict[int, PersonPosition]:
        """The newest positions of the site: {person_id: (x_m, y_m, time_us)}; {} when none."""
        with self._lock:
            history = self._sites.get(site_id)
            return dict(history[-1][1]) if history else {}

    def snapshot_at(self, site_id: int, time_us: int, *, tolerance_us: int) -> dict[int, PersonPosition]:
        """The snapshot closest in time to `time_us`, if it is within `tolerance_us`; else {}."""
        with self._lock:
            history = self._sites.get(site_id)
            if not history:
                return {}
            times = [t for t, _ in history]
            index = bisect.bisect_left(times, time_us)
            best: tuple[int, dict[int, PersonPosition]] | None = None
            for candidate in (index - 1, index):
                if 0 <= candidate < len(history):
                    entry = history[candidate]
                    if best is None or abs(entry[0] - time_us) < abs(best[0] - time_us):
                        best = entry
            if best is None or abs(best[0] - time_us) > tolerance_us:
                return {}
            return dict(best[1])

    def clear(self, site_id: int | None = None) -> None:
        with self._lock:
            if site_id is None:
                self._sites.clear()
            else:
                self._sites.pop(site_id, None)


registry = LiveRegistry()


def update_site(site_id: int, persons: Mapping[int, Sequence[float]], time_us: int) -> None:
    """Record the complete set of persons of `site_id` at `time_us`: {person_id: (x_m, y_m)}."""
    registry.update_site(site_id, persons, time_us)


def snapshot(site_id: int) -> dict[int, PersonPosition]:
    return registry.snapshot(site_id)
