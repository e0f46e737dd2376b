"""Put positions into the process's live state (server.livestate) as the fusion would, readable at once."""

from __future__ import annotations

from collections.abc import Mapping

from server.livestate import LivePerson, SiteSnapshot, live_state


def put_positions(site_id: int, positions: Mapping[int, tuple[float, float]], time_us: int) -> None:
    """The complete set of persons of `site_id` at `time_us`: {person_id: (x_m, y_m)}."""
    backend = live_state()
    persons = tuple(LivePerson(person_id=pid, x_m=x, y_m=y) for pid, (x, y) in positions.items())
    backend.publish(
        SiteSnapshot(site_id=site_id, time_us=time_us, persons=persons, site_occupancy=len(persons))
    )
    assert backend.flush(), "the live state did not take the positions within 5 s"


def clear_live_state() -> None:
    live_state().clear()
