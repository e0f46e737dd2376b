"""The time-series points of a site's fusion and analytics (the measurements of server.timeseries.measurements):
positions and occupancy at reduced rates, zone entries and exits per occupancy sample, one point per distancing
violation when it ends.

`SitePoints` holds what one site's points need between frames (the last occupancy sample, the entries and exits
since); the site processor keeps one per site and writes what it returns. Pure: no Django, no I/O.
"""

from __future__ import annotations

from server.analytics.types import AnalyticsUpdate
from server.fusion.types import FusedFrame
from server.timeseries.measurements import (
    PositionSampler,
    occupancy_point,
    position_points,
    violation_point,
    zone_count_point,
)
from server.timeseries.types import Point


class SitePoints:
    """The points of one site, frame by frame. `positions` (shared by the sites of a process; None: no
    positions) thins the positions; occupancy and zone counts are sampled every `occupancy_period_us` of capture
    time."""

    def __init__(self, *, occupancy_period_us: int, positions: PositionSampler | None) -> None:
        self._occupancy_period_us = occupancy_period_us
        self._positions = positions
        self._last_occupancy_us = 0
        # Zone entries / exits since the last occupancy sample, written as zone_counts points with it.
        self._entries_since: dict[int, int] = {}
        self._exits_since: dict[int, int] = {}

    def frame_points(self, fused: FusedFrame, update: AnalyticsUpdate) -> list[Point]:
        """The points of one fused frame and its analytics update."""
        site_id, time_ns = fused.site_id, fused.time_us * 1000
        points: list[Point] = []
        if fused.size and self._positions is not None and self._positions.take(site_id, time_ns):
            points += position_points(
                site_id=site_id,
                time_ns=time_ns,
                positions=zip(fused.global_ids.tolist(), *fused.floor_xy_m.T.tolist(), strict=True),
            )
        for entry in update.entries:
            self._entries_since[entry.zone_id] = self._entries_since.get(entry.zone_id, 0) + 1
        for dwell in update.dwell:
            self._exits_since[dwell.zone_id] = self._exits_since.get(dwell.zone_id, 0) + 1
        if fused.time_us - self._last_occupancy_us >= self._occupancy_period_us:
            self._last_occupancy_us = fused.time_us
            points.append(occupancy_point(site_id=site_id, time_ns=time_ns, people=update.site_occupancy))
            for zone_id, people in update.zone_occupancy.items():
                points.append(
                    occupancy_point(site_id=site_id, time_ns=time_ns, people=people, zone_id=zone_id)
                )
                points.append(
                    zone_count_point(
                        site_id=site_id,
                        zone_id=zone_id,
                        time_ns=time_ns,
                        entries=self._entries_since.pop(zone_id, 0),
                        exits=self._exits_since.pop(zone_id, 0),
                    )
                )
        points += violation_points(site_id, update)
        return points


def violation_points(site_id: int, update: AnalyticsUpdate) -> list[Point]:
    """One violations point per distancing violation that ended in `update` (also of an update that belongs to
    no frame: a flush, a reconfiguration)."""
    points = []
    for sequence, violation in enumerate(update.violations_ended):
        end_us = violation.end_us if violation.end_us is not None else violation.last_close_us
        points.append(
            violation_point(
                site_id=site_id,
                start_time_ns=violation.start_us * 1000,
                person_a_id=violation.person_a,
                person_b_id=violation.person_b,
                min_distance_m=violation.min_distance_m,
                duration_s=(end_us - violation.start_us) / 1e6,
                sequence=sequence,
            )
        )
    return points
