"""The `live.positions` event of a site with fusion and analytics (server.realtime.events): its fused persons
with their zones and names, the counters (occupancy, capacity, queues) and the current distancing contacts.
Pure: no Django, no I/O; built lazily by the publisher, at its push rate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from server.analytics.types import AnalyticsUpdate, PersonIdentity
from server.fusion.types import FusedFrame
from server.livestate.snapshot import person_zone_ids
from server.realtime.events import LiveCounters, LivePerson, LivePositionsEvent, live_positions_event


def site_positions_event(
    names: Mapping[int, str],
    identities: Mapping[int, PersonIdentity],
    fused: FusedFrame,
    update: AnalyticsUpdate,
    contacts: Sequence[tuple[int, int, float]],
    capacity: int | None = None,
) -> LivePositionsEvent:
    """The event of `fused` and its `update`: `names` are the display names of the bound persons (their
    `identities` give the employee), `contacts` (person a, person b, distance m) the distancing contacts of
    persons present, `capacity` the site's (None: none set)."""
    zones_of = person_zone_ids(update)
    persons = []
    for pid, (x, y), (vx, vy) in zip(
        fused.global_ids.tolist(), fused.floor_xy_m.tolist(), fused.velocities_mps.tolist(), strict=True
    ):
        person: LivePerson = {
            "id": pid,
            "x_m": round(x, 2),
            "y_m": round(y, 2),
            "vx_mps": round(vx, 2),
            "vy_mps": round(vy, 2),
        }
        name = names.get(pid)
        if name:
            person["name"] = name
            identity = identities[pid]
            person["employee_id"] = identity.employee_id
        zone_ids = zones_of.get(pid, ())
        if zone_ids:
            person["zone_id"] = zone_ids[0]
            person["zone_ids"] = list(zone_ids)
        persons.append(person)
    counters: LiveCounters = {
        "site_occupancy": update.site_occupancy,
        "zone_occupancy": {str(k): v for k, v in update.zone_occupancy.items()},
    }
    if update.counted_occupancy is not None:
        counters["counted_occupancy"] = update.counted_occupancy
    if capacity is not None:
        counters["capacity"] = capacity
    if update.queues:
        counters["queues"] = [
            {
                "zone_id": q.zone_id,
                "length": q.length,
                "predicted_wait_s": None if q.predicted_wait_s is None else round(q.predicted_wait_s, 1),
                "alerting": q.alerting,
            }
            for q in update.queues
        ]
    return live_positions_event(
        site_id=fused.site_id,
        time_us=fused.time_us,
        persons=persons,
        counters=counters,
        contacts=list(contacts),
    )
