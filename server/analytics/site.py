"""SiteAnalytics: every live store analytic of one site, updated from each FusedFrame.

A thin composition of one component per analytic, each defining its analytic exactly in its module docstring:

* :mod:`server.analytics.rows` — the persons present (a row each, shared by the components' per-person arrays);
* :mod:`server.analytics.presence` — zone occupancy, visits, dwell and flow;
* :mod:`server.analytics.heatmap` — the heat map (person-seconds and movement per cell and time bucket);
* :mod:`server.analytics.distancing` — close contacts and social-distancing violations;
* :mod:`server.analytics.access` — restricted-zone incidents (warnings and alarms);
* :mod:`server.analytics.doors` — counting lines (entries and exits), the occupancy counted at the entrances,
  capacity;
* :mod:`server.analytics.queues` — queue length, waiting time, abandonment, predicted wait, the till alert.

Common definitions (t is ``FusedFrame.time_us``; updates must come in non-decreasing time):

* **Occupancy**: the site occupancy is the number of persons in the frame; a zone's occupancy is the number of
  persons with an open visit of the zone.
* **Visit start**: a visit that opens at a person's first frame dates back to their first observation
  (``FusedFrame.first_seen_us``, when given; not before the first frame these analytics saw): the fusion reports
  a person only once it has confirmed them, and a visit counted from the confirmation was short by the
  confirmation delay.
* A person missing from a frame has **left** it (the fusion ended them): their visits and contacts end.
* **Configuration changes** (:meth:`SiteAnalytics.reconfigure`, a zone edited, added or deleted, or the grid
  changed): everything goes on for the zones that persist (same ``zone_id``): a person inside an unchanged
  zone keeps their one visit; from the change on, "inside" uses the new polygon (a person outside an edited
  zone's new polygon leaves it under the visit rules: the visit ends at their last observation inside).
  A deleted zone's open visits end at the change; so do incidents of a zone deleted or no longer restricted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from server.analytics.access import AccessControl, alert_message
from server.analytics.distancing import Distancing
from server.analytics.doors import DoorCounter
from server.analytics.errors import AnalyticsConfigError, AnalyticsInputError
from server.analytics.geometry import BoolArray, IntArray
from server.analytics.heatmap import HeatMap
from server.analytics.presence import ZonePresence
from server.analytics.queues import QueueTracker
from server.analytics.rows import PersonRows
from server.analytics.types import (
    AccessAlert,
    AnalyticsConfig,
    AnalyticsUpdate,
    CapacityEvent,
    DistancingViolation,
    DwellRecord,
    FlowTransition,
    HeatmapBucket,
    LineCrossing,
    PersonIdentity,
    QueueAlert,
    QueueStatus,
    QueueVisit,
    ZoneEntry,
)
from server.fusion.types import FusedFrame

__all__ = ["SiteAnalytics", "alert_message"]

logger = logging.getLogger(__name__)

_EMPTY_INT: IntArray = np.zeros(0, dtype=np.int64)


class SiteAnalytics:
    """Live analytics of one site; feed it every FusedFrame in time order (see the module docstring)."""

    def __init__(self, config: AnalyticsConfig) -> None:
        config.validate()
        self.config = config
        self._rows = PersonRows()
        self._presence = ZonePresence(config)
        self._heat = HeatMap(config)
        self._distancing = Distancing(config)
        self._access = AccessControl(config, lambda: self._rows.first_us)
        self._rows.attach(self._presence)
        self._doors = DoorCounter(config)
        self._queues = QueueTracker(config)
        self._rows.attach(self._access)
        self._rows.attach(self._doors)
        self._last_time_us: int | None = None
        self._first_time_us: int | None = None
        # The capacity event that put the site over its capacity, while it is (reported off by `flush`).
        self._over_capacity: CapacityEvent | None = None

    # ------------------------------------------------------------------ public API

    def update(self, frame: FusedFrame, identities: Mapping[int, PersonIdentity]) -> AnalyticsUpdate:
        """Apply one fused frame; return the occupancy and every event it produced."""
        t_us = frame.time_us
        xy = frame.floor_xy_m
        count = frame.global_ids.shape[0]
        self._validate(frame)
        if self._first_time_us is None:
            self._first_time_us = t_us
        gid_list: list[int] = frame.global_ids.tolist()
        previous_us = self._last_time_us
        self._rows.begin_frame()

        rows, fresh = self._rows.rows_for(gid_list, t_us)
        staff, unstaffed = self._rows.mark_staff(rows, gid_list, identities)
        any_staff, any_unstaffed = bool(staff.any()), bool(unstaffed.any())
        if any_unstaffed:
            self._doors.unmark_staff(rows[unstaffed])
        visitors = np.flatnonzero(~staff) if any_staff and self.config.heat_excludes_staff else slice(None)
        heat, buckets = self._heat.update(t_us, previous_us, xy, frame.velocities_mps, visitors)
        dwell: list[DwellRecord] = []
        ended: list[DistancingViolation] = []
        crossings: list[LineCrossing] = []
        self._close_vanished(dwell, ended, crossings)

        entries: list[ZoneEntry] = []
        transitions: list[FlowTransition] = []
        inside = self._presence.inside(xy)
        entry_us = self._entry_times(t_us, frame, fresh)
        seen_us = np.minimum(frame.last_seen_us, t_us)
        in_zone = self._presence.update(
            t_us, entry_us, seen_us, rows, inside, gid_list, entries, transitions, dwell, staff
        )
        zone_occupancy = dict(zip(self._presence.zone_id_list, in_zone.sum(axis=0).tolist(), strict=True))

        started: list[DistancingViolation] = []
        updated: list[DistancingViolation] = []
        self._distancing.update(t_us, xy, frame.global_ids, started, updated, ended)

        alerts: list[AccessAlert] = []
        self._access.update(t_us, previous_us, frame, rows, inside, gid_list, identities, alerts)

        self._doors.update(
            t_us, xy, rows, gid_list, staff, crossings, frame.first_seen_us, seen_us, frame.velocities_mps
        )
        capacity_events = self._doors.capacity_check(t_us, count)
        for event in capacity_events:
            self._over_capacity = event if event.over else None
        queue_visits: list[QueueVisit] = []
        queue_alerts: list[QueueAlert] = []
        queues: list[QueueStatus] = []
        if self._queues.active:
            queues = self._queues.update(
                t_us,
                in_zone,
                staff,
                entries,
                dwell,
                queue_visits,
                queue_alerts,
                frame.global_ids,
                unstaffed=unstaffed,
                entered_us=self._presence.entered_us(rows) if unstaffed.any() else None,
            )

        self._last_time_us = t_us
        return AnalyticsUpdate(
            site_id=self.config.site_id,
            time_us=t_us,
            global_ids=frame.global_ids,
            zone_ids=self._presence.zone_ids,
            in_zone=in_zone,
            site_occupancy=count,
            zone_occupancy=zone_occupancy,
            entries=entries,
            dwell=dwell,
            transitions=transitions,
            heat=heat,
            heat_buckets=buckets,
            violations_started=started,
            violations_updated=updated,
            violations_ended=ended,
            contacts_per_person=self._distancing.contacts_per_person(),
            alerts=alerts,
            crossings=crossings,
            counted_occupancy=self._doors.counted_occupancy if self._doors.has_entrances else None,
            capacity_events=capacity_events,
            staff_ids=frozenset(frame.global_ids[staff].tolist()) if any_staff else frozenset(),
            unstaffed_ids=frozenset(frame.global_ids[unstaffed].tolist()) if any_unstaffed else frozenset(),
            queues=queues,
            queue_visits=queue_visits,
            queue_alerts=queue_alerts,
        )

    def flush(self, time_us: int | None = None) -> AnalyticsUpdate:
        """End of stream: close every open visit and contact, emit the open heat-map bucket, close the open
        access incidents and end the site conditions still on (over capacity, "open another till"), marked
        ``stopped``."""
        t_us = time_us if time_us is not None else (self._last_time_us or 0)
        self._rows.begin_frame()  # every row now counts as vanished
        dwell: list[DwellRecord] = []
        ended: list[DistancingViolation] = []
        crossings: list[LineCrossing] = []
        self._close_vanished(dwell, ended, crossings, stopped=True)
        buckets = self._heat.flush()
        queue_visits: list[QueueVisit] = []
        self._queues.flush(queue_visits)
        alerts: list[AccessAlert] = []
        self._access.flush(t_us, self._last_time_us, alerts)
        queue_alerts: list[QueueAlert] = []
        self._queues.end_alerts(t_us, queue_alerts)
        capacity_events: list[CapacityEvent] = []
        if self._over_capacity is not None:
            over = self._over_capacity
            capacity_events.append(CapacityEvent(False, over.occupancy, over.capacity, t_us, stopped=True))
            self._over_capacity = None
        zone_ids = self._presence.zone_ids
        return AnalyticsUpdate(
            site_id=self.config.site_id,
            time_us=t_us,
            global_ids=_EMPTY_INT,
            zone_ids=zone_ids,
            in_zone=np.zeros((0, zone_ids.size), dtype=np.bool_),
            site_occupancy=0,
            zone_occupancy=dict.fromkeys(self._presence.zone_id_list, 0),
            dwell=dwell,
            heat_buckets=buckets,
            violations_ended=ended,
            alerts=alerts,
            crossings=crossings,
            counted_occupancy=self._doors.counted_occupancy if self._doors.has_entrances else None,
            capacity_events=capacity_events,
            queue_visits=queue_visits,
            queue_alerts=queue_alerts,
        )

    def checkpoint_heat(self) -> list[HeatmapBucket]:
        """The part of the open heat-map bucket accumulated since it was last emitted (empty when none); the
        bucket stays open. What an ack barrier makes durable, so that a crash loses no emitted person-time."""
        return self._heat.checkpoint()

    def reconfigure(self, config: AnalyticsConfig) -> AnalyticsUpdate:
        """Go on with a changed zone set, grid or thresholds of the same site (an admin's edit), ending only what
        the change ends; the returned update holds what ended (record it like any update).

        Zones are matched by ``zone_id``: a zone that persists keeps its open visits, its persons' flow and, when
        it stays restricted, its access-control incidents, whatever else of it changed (name, kind, polygon,
        levels). From the change on, "inside" is tested against the new polygon: a person outside an edited
        zone's new polygon is outside it, so their visit ends once they have been outside for ``exit_grace_s``,
        at their last observation inside (before the change), as any visit does. A deleted zone's open visits
        end now (``DwellRecord`` to the last observation inside); a person's previous entry stays the deleted
        zone for flow. Incidents of a deleted zone, or of one no longer restricted, close now. A zone added
        opens visits from the next frame on (not dated back). Persons, distancing contacts and violations carry
        on unchanged; so does the open heat-map bucket, unless the grid changed: then it is emitted (cells of
        the old grid) and accumulation starts on the new one. Raises :class:`AnalyticsConfigError` for a bad
        configuration or one of another site (nothing changed then).
        """
        config.validate()
        if config.site_id != self.config.site_id:
            raise AnalyticsConfigError(
                f"analytics of site {self.config.site_id} cannot take the configuration of site {config.site_id}",
                code="other_site",
            )
        t_us = self._last_time_us if self._last_time_us is not None else 0
        dwell = self._presence.reconfigure(config, self._rows.active, self._rows.gid, self._rows.staff)
        alerts = self._access.reconfigure(config, t_us)
        buckets = self._heat.reconfigure(config)
        self._distancing.configure(config)
        self._doors.reconfigure(config)
        self._queues.configure(config)
        self.config = config
        rows = self._rows.active_rows()
        in_zone = self._presence.in_zone(rows)
        return AnalyticsUpdate(
            site_id=config.site_id,
            time_us=t_us,
            global_ids=self._rows.gid[rows].copy(),
            zone_ids=self._presence.zone_ids,
            in_zone=in_zone,
            site_occupancy=int(rows.size),
            zone_occupancy=dict(zip(self._presence.zone_id_list, in_zone.sum(axis=0).tolist(), strict=True)),
            dwell=dwell,
            heat_buckets=buckets,
            alerts=alerts,
        )

    # ------------------------------------------------------------------ steps

    def _validate(self, frame: FusedFrame) -> None:
        count = frame.global_ids.shape[0]
        if frame.floor_xy_m.shape != (count, 2) or frame.velocities_mps.shape != (count, 2):
            raise AnalyticsInputError("positions and velocities must be (M, 2) arrays", code="bad_shape")
        if frame.first_seen_us is not None and frame.first_seen_us.shape != (count,):
            raise AnalyticsInputError("first_seen_us must have one time per person", code="bad_shape")
        if count and not (np.isfinite(frame.floor_xy_m).all() and np.isfinite(frame.velocities_mps).all()):
            raise AnalyticsInputError("a fused position or velocity is NaN or infinite", code="non_finite")
        if self._last_time_us is not None and frame.time_us < self._last_time_us:
            raise AnalyticsInputError(
                f"frame time {frame.time_us} is before the previous frame {self._last_time_us}",
                code="time_regression",
            )

    def _entry_times(self, t_us: int, frame: FusedFrame, fresh: BoolArray) -> IntArray:
        """When a visit opening now starts, per person: t, or the first observation of a new person, but not
        before the first frame these analytics saw (analytics started while the fusion goes on must not date the
        visits of everyone inside back to when they walked in)."""
        entry_us = np.full(fresh.shape[0], t_us, dtype=np.int64)
        if frame.first_seen_us is not None and fresh.any():
            entry_us[fresh] = np.clip(frame.first_seen_us[fresh], self._first_time_us, t_us)
        return entry_us

    def _close_vanished(
        self,
        dwell: list[DwellRecord],
        ended: list[DistancingViolation],
        crossings: list[LineCrossing],
        *,
        stopped: bool = False,
    ) -> None:
        """The persons missing from the frame have left (``stopped``: the stream stopped, see flush): their
        visits and contacts end, a door crossing they were completing counts, their rows are freed."""
        vanished = self._rows.vanished()
        if vanished.size == 0:
            return
        gids = self._rows.gid[vanished].copy()
        self._presence.close_rows(vanished, gids, dwell, self._rows.staff[vanished])
        self._doors.close_rows(vanished, gids, crossings, stopped=stopped)
        self._rows.release(vanished)
        self._distancing.forget(gids, ended)
