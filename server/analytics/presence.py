"""ZonePresence: zone visits (occupancy, entries, dwell) and the flow between zones.

Definitions (t is ``FusedFrame.time_us``; "inside" is the even-odd point-in-polygon test of the person's fused
position at t):

* A zone's **occupancy** is the number of persons with an open visit of it.
* A **visit** opens (``ZoneEntry`` at t) at the first frame a person is inside a zone without an open visit of
  it; when that is the person's first frame, the visit dates back to their first observation (the entry time
  the caller passes, see ``SiteAnalytics``). It stays open while the person is inside and through absences
  (outside, or gaps between frames) shorter than ``exit_grace_s``; it closes at the first frame at which the
  person has been outside for at least ``exit_grace_s`` since the last frame found inside, or when the person
  leaves the frame. The visit's ``DwellRecord`` runs from the entry to the last frame found inside, taken at
  the person's last observation (``FusedFrame.last_seen_us``): an extrapolated position does not lengthen a
  visit.
* **Flow**: each entry into zone B emits ``FlowTransition(from=A, to=B)`` where A is the zone of the person's
  previous entry (None for their first); re-entering the same zone without another entry in between emits
  nothing. Simultaneous entries are taken in configuration order.
* A **zone change** keeps the visits of the zones that persist (same ``zone_id``); a deleted zone's open visits
  end at the change; a person's previous entry stays the deleted zone for flow.
"""

from __future__ import annotations

import numpy as np

from server.analytics.geometry import BoolArray, EdgeSet, FloatArray, IntArray
from server.analytics.rows import grown
from server.analytics.types import AnalyticsConfig, DwellRecord, FlowTransition, ZoneEntry

_NO_ZONE = int(np.iinfo(np.int64).min)  # no previous entry (zone ids are any other int64)


class ZonePresence:
    """Open zone visits per person row and zone column; the zone of each person's previous entry."""

    def __init__(self, config: AnalyticsConfig) -> None:
        self.configure(config)
        zone_count = len(config.zones)
        self.open: BoolArray = np.zeros((0, zone_count), dtype=np.bool_)
        self._enter_us: IntArray = np.zeros((0, zone_count), dtype=np.int64)
        self._last_inside_us: IntArray = np.zeros((0, zone_count), dtype=np.int64)
        # Per row: the zone id of the person's previous entry (flow), kept when that zone is deleted.
        self._last_zone: IntArray = np.full(0, _NO_ZONE, dtype=np.int64)

    def configure(self, config: AnalyticsConfig) -> None:
        self.zones = config.zones
        self.zone_ids: IntArray = np.array([z.zone_id for z in config.zones], dtype=np.int64)
        self.zone_id_list: list[int] = self.zone_ids.tolist()
        self._edges = EdgeSet.from_polygons([z.polygon_array() for z in config.zones])
        self._grace_us = int(config.exit_grace_s * 1e6)

    # RowColumns
    def grow(self, capacity: int) -> None:
        self.open = grown(self.open, capacity, False)
        self._enter_us = grown(self._enter_us, capacity, 0)
        self._last_inside_us = grown(self._last_inside_us, capacity, 0)
        self._last_zone = grown(self._last_zone, capacity, _NO_ZONE)

    def reset_row(self, row: int) -> None:
        self.open[row] = False
        self._last_zone[row] = _NO_ZONE

    def inside(self, xy: FloatArray) -> BoolArray:
        """(persons, zones): whether each position is inside each zone polygon."""
        return self._edges.contains(xy)

    def in_zone(self, rows: IntArray) -> BoolArray:
        """(persons, zones): the open visits of the persons of `rows`."""
        result: BoolArray = self.open[rows]
        return result

    def entered_us(self, rows: IntArray) -> IntArray:
        """(persons, zones): when the open visit of each person of `rows` of each zone began (meaningless where
        no visit is open, see ``in_zone``)."""
        result: IntArray = self._enter_us[rows]
        return result

    def update(
        self,
        t_us: int,
        entry_us: IntArray,
        seen_us: IntArray,
        rows: IntArray,
        inside: BoolArray,
        gid_list: list[int],
        entries: list[ZoneEntry],
        transitions: list[FlowTransition],
        dwell: list[DwellRecord],
        staff: BoolArray | None = None,
    ) -> BoolArray:
        """Open, extend and close visits for the persons of one frame (``entry_us``: when a visit opening now
        starts; ``seen_us``: each person's last observation; ``staff``: who is staff, marked on the records);
        their open visits now (:meth:`in_zone` of `rows`)."""
        if self.zone_ids.size == 0:
            return self.in_zone(rows)
        was_open = self.open[rows]
        entering = inside & ~was_open
        anyone_entering = bool(entering.any())
        # Inside now, as of the person's last observation: an extrapolated position does not extend a visit.
        last_inside = np.where(inside, seen_us[:, None], self._last_inside_us[rows])
        if anyone_entering:
            last_inside = np.where(entering, np.maximum(last_inside, entry_us[:, None]), last_inside)
        self._last_inside_us[rows] = last_inside
        exiting = was_open & ~inside & ((t_us - last_inside) >= self._grace_us)
        if exiting.any():
            enter_us = self._enter_us[rows]
            for i, z in zip(*np.nonzero(exiting), strict=True):
                dwell.append(
                    DwellRecord(
                        gid_list[i],
                        self.zone_id_list[z],
                        int(enter_us[i, z]),
                        int(last_inside[i, z]),
                        staff is not None and bool(staff[i]),
                    )
                )
        if anyone_entering:
            self._enter_us[rows] = np.where(entering, entry_us[:, None], self._enter_us[rows])
            for i, z in zip(*np.nonzero(entering), strict=True):
                gid = gid_list[i]
                zone_id = self.zone_id_list[z]
                entered_us = int(entry_us[i])
                is_staff = staff is not None and bool(staff[i])
                entries.append(ZoneEntry(gid, zone_id, entered_us, is_staff))
                row = int(rows[i])
                previous = int(self._last_zone[row])
                if previous != zone_id:
                    from_zone = None if previous == _NO_ZONE else previous
                    transitions.append(FlowTransition(gid, from_zone, zone_id, entered_us, is_staff))
                    self._last_zone[row] = zone_id
        opened: BoolArray = (was_open | inside) & ~exiting
        self.open[rows] = opened
        return opened

    def close_rows(
        self, rows: IntArray, gids: IntArray, dwell: list[DwellRecord], staff: BoolArray | None = None
    ) -> None:
        """The persons of `rows` left the frame: their open visits end at their last observation inside."""
        for i, (row, gid) in enumerate(zip(rows.tolist(), gids.tolist(), strict=True)):
            for z in np.flatnonzero(self.open[row]).tolist():
                dwell.append(
                    DwellRecord(
                        gid,
                        self.zone_id_list[z],
                        int(self._enter_us[row, z]),
                        int(self._last_inside_us[row, z]),
                        staff is not None and bool(staff[i]),
                    )
                )
            self.open[row] = False

    def reconfigure(
        self, config: AnalyticsConfig, active: BoolArray, gids: IntArray, staff: BoolArray | None = None
    ) -> list[DwellRecord]:
        """Take a changed zone set: the visits of deleted zones end now (returned), the others carry on."""
        new_zone_ids = {zone.zone_id for zone in config.zones}
        dwell = [
            DwellRecord(
                int(gids[row]),
                zone.zone_id,
                int(self._enter_us[row, z]),
                int(self._last_inside_us[row, z]),
                staff is not None and bool(staff[row]),
            )
            for z, zone in enumerate(self.zones)
            if zone.zone_id not in new_zone_ids
            for row in np.flatnonzero(self.open[:, z] & active).tolist()
        ]
        # Per-row zone columns follow their zone id into the new configuration order.
        old_column = {zone.zone_id: z for z, zone in enumerate(self.zones)}
        shape = (active.shape[0], len(config.zones))
        opened = np.zeros(shape, np.bool_)
        entered = np.zeros(shape, np.int64)
        last_inside = np.zeros(shape, np.int64)
        for z, zone in enumerate(config.zones):
            old = old_column.get(zone.zone_id)
            if old is not None:
                opened[:, z] = self.open[:, old] & active
                entered[:, z] = self._enter_us[:, old]
                last_inside[:, z] = self._last_inside_us[:, old]
        self.open, self._enter_us, self._last_inside_us = opened, entered, last_inside
        self.configure(config)
        return dwell
