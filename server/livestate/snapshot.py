"""The live state of a site built from its fusion and analytics: who is where (`person_zone_ids`) and the
`SiteSnapshot` the site processor publishes at `LIVE_PUSH_HZ`. Pure: no Django, no I/O."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from server.analytics.types import AnalyticsUpdate, PersonIdentity
from server.fusion.types import FusedFrame
from server.livestate.types import LivePerson, SiteSnapshot


def person_zone_ids(update: AnalyticsUpdate) -> dict[int, tuple[int, ...]]:
    """Global id -> the zones the person is in (the analytics' open visits, as the zone occupancy counts them),
    for the persons in at least one zone."""
    rows, columns = np.nonzero(update.in_zone)
    ids, zone_ids = update.global_ids.tolist(), update.zone_ids.tolist()
    zones: dict[int, list[int]] = {}
    for row, column in zip(rows.tolist(), columns.tolist(), strict=True):
        zones.setdefault(ids[row], []).append(zone_ids[column])
    return {pid: tuple(found) for pid, found in zones.items()}


def live_snapshot(
    fused: FusedFrame, update: AnalyticsUpdate, identities: Mapping[int, PersonIdentity]
) -> SiteSnapshot:
    """The site's live state after `fused`: every person with position, zones and identity, and the counters."""
    zones_of = person_zone_ids(update)
    persons = []
    for pid, (x, y) in zip(fused.global_ids.tolist(), fused.floor_xy_m.tolist(), strict=True):
        identity = identities.get(pid)
        persons.append(
            LivePerson(
                person_id=pid,
                x_m=x,
                y_m=y,
                zone_ids=zones_of.get(pid, ()),
                employee_id=identity.employee_id if identity is not None else None,
                name=(identity.display_name or "") if identity is not None else "",
            )
        )
    return SiteSnapshot(
        site_id=fused.site_id,
        time_us=fused.time_us,
        persons=tuple(persons),
        site_occupancy=update.site_occupancy,
        zone_occupancy=dict(update.zone_occupancy),
    )
