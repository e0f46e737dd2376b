"""The live state of the sites, as the ingest side publishes it and the web side reads it.

One `SiteSnapshot` per site and moment: every tracked person (global id, floor position, the zones they are in,
who they are when bound), and the site's and zones' occupancy. The ingest process that fuses a site publishes a
snapshot at `LIVE_PUSH_HZ`; a `LiveState` backend keeps the newest one and a time-indexed history of at least
`retention_s` seconds (badge events bind against the positions of their own time, `BADGE_MAX_DELAY_S`).

Backends: `server.livestate.memory` (one process, the embedded default) and `server.livestate.redis` (several
processes sharing Redis). Both also carry the one notification the web side sends the ingest side: identities
of a site changed (a binding made on the dashboard or by a badge), so the fusion worker reloads them at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


class LiveStateUnavailableError(Exception):
    """The live state cannot be read now (its Redis does not answer)."""


@dataclass(frozen=True, slots=True)
class LivePerson:
    person_id: int
    x_m: float
    y_m: float
    zone_ids: tuple[int, ...] = ()
    employee_id: int | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class SiteSnapshot:
    """The complete set of persons of a site at `time_us` (a person missing from it is gone)."""

    site_id: int
    time_us: int
    persons: tuple[LivePerson, ...]
    site_occupancy: int = 0
    zone_occupancy: Mapping[int, int] = field(default_factory=dict)

    def who_is_where(self) -> dict[int, tuple[int, ...]]:
        """Zone id -> the ids of the persons in it (zones with nobody are absent)."""
        zones: dict[int, list[int]] = {}
        for person in self.persons:
            for zone_id in person.zone_ids:
                zones.setdefault(zone_id, []).append(person.person_id)
        return {zone_id: tuple(ids) for zone_id, ids in zones.items()}


IdentitiesListener = Callable[[int | None], None]


class LiveState(Protocol):
    retention_s: float

    def publish(self, snapshot: SiteSnapshot) -> None:
        """Record the site's state at `snapshot.time_us`. Never blocks on I/O (called on the ingest hot path)."""

    def latest(self, site_id: int) -> SiteSnapshot | None:
        """The newest snapshot of the site, None when none is held. Raises LiveStateUnavailableError."""

    def at(self, site_id: int, time_us: int, *, tolerance_us: int) -> SiteSnapshot | None:
        """The snapshot closest in time to `time_us` if within `tolerance_us`, else None. Raises
        LiveStateUnavailableError."""

    def announce_identities_changed(self, site_id: int | None) -> None:
        """Tell the other processes that identities of `site_id` (every site when None) changed. Never blocks."""

    def listen_identities_changed(self, listener: IdentitiesListener) -> Callable[[], None]:
        """Call `listener(site_id)` (from another thread) when another process announces a change; returns a
        function that stops listening."""

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until what was published is readable by every process; False if not within `timeout_s`."""

    def clear(self, site_id: int | None = None) -> None:
        """Forget the state of `site_id` (of every site when None)."""

    def close(self) -> None:
        """Stop background work and release connections."""
