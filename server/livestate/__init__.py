"""Live state of the sites behind one interface (`LiveState`, server.livestate.types): what the ingest side's
fusion publishes and the web side reads (badge binding, live occupancy, who is where).

`live_state()` is the process's backend, chosen from the settings on first use: Redis when `REDIS_URL` is set
(any number of web and ingest processes share it), else in memory (the embedded one-process default).
`use(backend)` replaces it (tests).
"""

from __future__ import annotations

import threading

from server.livestate.types import LivePerson, LiveState, LiveStateUnavailableError, SiteSnapshot

__all__ = [
    "MATCH_TOLERANCE_US",
    "LivePerson",
    "LiveState",
    "LiveStateUnavailableError",
    "SiteSnapshot",
    "badge_max_delay_s",
    "live_state",
    "use",
]

# A badge event is matched against the live positions closest in time, if no further apart than this.
MATCH_TOLERANCE_US = 2_000_000
DEFAULT_BADGE_MAX_DELAY_S = 30.0

_lock = threading.Lock()
_backend: LiveState | None = None


def badge_max_delay_s() -> float:
    """How late a badge read may arrive and still be bound against the positions of its time."""
    from django.conf import settings

    return float(getattr(settings, "BADGE_MAX_DELAY_S", DEFAULT_BADGE_MAX_DELAY_S))


def retention_s() -> float:
    """How long the history of positions is kept: the badge delay, plus the match tolerance either side."""
    return badge_max_delay_s() + 2 * MATCH_TOLERANCE_US / 1e6


def _from_settings() -> LiveState:
    from django.conf import settings

    url = str(getattr(settings, "REDIS_URL", "") or "")
    if url:
        from server.livestate.redis_backend import RedisLiveState

        return RedisLiveState(url, retention_s=retention_s())
    from server.livestate.memory import InMemoryLiveState

    return InMemoryLiveState(retention_s=retention_s())


def live_state() -> LiveState:
    global _backend
    with _lock:
        if _backend is None:
            _backend = _from_settings()
        return _backend


def use(backend: LiveState | None) -> LiveState | None:
    """Make `backend` the process's live state (None: choose from the settings again); returns the previous."""
    global _backend
    with _lock:
        previous, _backend = _backend, backend
        return previous
