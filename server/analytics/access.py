"""AccessControl: restricted-zone incidents (warnings and alarms) of unauthorised persons.

A person is unauthorised for a restricted zone when their level is below the zone's ``required_level`` and the
zone is not among their permitted zones (visitors: level 0, no permissions). An unauthorised person inside the
zone meets the *alarm* condition; one outside but within ``warning_distance_m`` of its boundary meets the
*warning* condition. A person who appeared inside the zone (never seen outside it) meets the alarm condition only
once they have been tracked for ``alarm_appeared_inside_after_s``: a real person walks in and is seen outside
first, while a detector's false positive that outlives the fusion's confirmation is born where it stands and
rarely lasts a second. Likewise a person who appeared within the warning band (never seen beyond it) meets the
warning condition only once tracked that long (fragments of tracks born at the edge of a camera's view near the
zone).

Alerts are **incidents** (``AccessAlert`` events, see there): an incident of (person, zone) opens at the first
frame either condition holds (kind warning or alarm), escalates to an alarm at the first frame the alarm condition
holds, is re-reported at most every ``alert_update_interval_s`` while a condition holds, and closes at the first
frame at which no condition has held for ``alert_close_after_s`` (closed at the last frame one held). A person
who leaves the floor and is not found again closes it the same way; a new person first seen within
``alert_rejoin_m`` of where they left, before it closed, continues it (the fusion found them again under a new
id). A later approach or entry is a new incident. The name an incident carries is the person's binding when it
opened (or when they were first bound during it), kept to the end; a binding that changes during the incident
marks its identity uncertain. A zone deleted or no longer restricted closes its incidents.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from server.analytics.geometry import BoolArray, EdgeSet, FloatArray, IntArray
from server.analytics.rows import grown
from server.analytics.types import (
    VISITOR,
    AccessAlert,
    AlertKind,
    AnalyticsConfig,
    IncidentPhase,
    PersonIdentity,
    Zone,
    ZoneKind,
)
from server.fusion.types import FusedFrame

logger = logging.getLogger(__name__)


def alert_message(kind: AlertKind, identity: PersonIdentity) -> str:
    """The human sentence of an alert, e.g. "An unauthorized employee (Kim) approached the secure area"; an
    uncertain identity says so: "An unauthorized employee (Kim, identity uncertain) entered the secure area"."""
    doubt = "" if identity.certain else "identity uncertain"
    if identity.employee_id is None:
        who = f"An unauthorized visitor ({doubt})" if doubt else "An unauthorized visitor"
    elif identity.display_name:
        who = f"An unauthorized employee ({identity.display_name}{', ' + doubt if doubt else ''})"
    else:
        who = f"An unauthorized employee ({doubt})" if doubt else "An unauthorized employee"
    verb = "approached" if kind is AlertKind.WARNING else "entered"
    return f"{who} {verb} the secure area"


@dataclass(slots=True)
class _Incident:
    """An open access-control incident of one person and one restricted zone (reported as AccessAlert)."""

    global_id: int
    first_global_id: int
    zone: Zone
    opened_us: int
    kind: AlertKind
    alarm_us: int | None
    employee_id: int | None
    employee_name: str | None
    level: int
    certain: bool
    x_m: float
    y_m: float
    distance_m: float
    cameras: set[int]
    last_condition_us: int
    reported_us: int
    gone_us: int | None = None  # the last frame the person was on the floor, once they have left it

    def observe_identity(self, identity: PersonIdentity) -> bool:
        """Take in who the person is taken for now; True when what the incident says about them changed.

        A person bound during the incident is named from then on; a name once given is kept, and a binding
        that changes (or goes) during the incident, or an identity the feed doubts, makes it uncertain."""
        before = (self.employee_id, self.certain)
        if self.employee_id is None and identity.employee_id is not None and self.certain:
            self.employee_id = identity.employee_id
            self.employee_name = identity.display_name
            self.level = identity.level
        elif identity.employee_id != self.employee_id:
            self.certain = False
        if not identity.certain:
            self.certain = False
        return (self.employee_id, self.certain) != before

    def report(self, phase: IncidentPhase, t_us: int) -> AccessAlert:
        self.reported_us = t_us
        who = PersonIdentity(self.employee_id, self.employee_name, self.level, certain=self.certain)
        return AccessAlert(
            phase=phase,
            kind=self.kind,
            global_id=self.global_id,
            first_global_id=self.first_global_id,
            zone_id=self.zone.zone_id,
            zone_name=self.zone.name,
            employee_id=self.employee_id,
            employee_name=self.employee_name if self.employee_id is not None else None,
            identity_certain=self.certain,
            level=self.level,
            required_level=self.zone.required_level,
            distance_m=self.distance_m,
            x_m=self.x_m,
            y_m=self.y_m,
            camera_ids=tuple(sorted(self.cameras)),
            opened_us=self.opened_us,
            alarm_us=self.alarm_us,
            closed_us=self.last_condition_us if phase is IncidentPhase.CLOSED else None,
            time_us=t_us,
            message=alert_message(self.kind, who),
        )


class AccessControl:
    """Open incidents by (global id, zone id); per person row, whether they were ever seen outside each
    restricted zone and beyond its warning band."""

    def __init__(self, config: AnalyticsConfig, first_us: Callable[[], IntArray]) -> None:
        self._first_us_of = first_us  # the rows' first frame times (PersonRows.first_us, grown with it)
        self.configure(config)
        self._seen_outside: BoolArray = np.zeros((0, self.restricted.size), dtype=np.bool_)
        self._seen_clear: BoolArray = np.zeros((0, self.restricted.size), dtype=np.bool_)
        self._incidents: dict[tuple[int, int], _Incident] = {}  # open ones, by (global id, zone id)

    def configure(self, config: AnalyticsConfig) -> None:
        self._zones = config.zones
        self._zone_id_list = [z.zone_id for z in config.zones]
        restricted = [i for i, z in enumerate(config.zones) if z.kind is ZoneKind.RESTRICTED]
        # Columns of the restricted zones in the site's zone order.
        self.restricted: IntArray = np.array(restricted, dtype=np.int64)
        self._restricted_edges = EdgeSet.from_polygons([config.zones[i].polygon_array() for i in restricted])
        self._required_level: IntArray = np.array(
            [config.zones[i].required_level for i in restricted], dtype=np.int64
        )
        self._restricted_ids = [config.zones[i].zone_id for i in restricted]
        self._visitor_unauthorised: BoolArray = (self._required_level > 0)[None, :]
        self._warning_m: FloatArray = np.array(
            [config.zones[i].warning_distance_m for i in restricted], dtype=np.float64
        )
        # Bounding boxes of the restricted zones grown by their warning distance (cheap pre-filter).
        boxes = [config.zones[i].polygon_array() for i in restricted]
        self._restricted_low: FloatArray = np.array(
            [
                box.min(axis=0) - config.zones[i].warning_distance_m
                for box, i in zip(boxes, restricted, strict=True)
            ]
        ).reshape(-1, 2)
        self._restricted_high: FloatArray = np.array(
            [
                box.max(axis=0) + config.zones[i].warning_distance_m
                for box, i in zip(boxes, restricted, strict=True)
            ]
        ).reshape(-1, 2)
        self._alert_close_us = int(config.alert_close_after_s * 1e6)
        self._alert_update_us = int(config.alert_update_interval_s * 1e6)
        self._alert_rejoin_m = config.alert_rejoin_m
        self._appeared_inside_us = int(config.alarm_appeared_inside_after_s * 1e6)

    # RowColumns
    def grow(self, capacity: int) -> None:
        self._seen_outside = grown(self._seen_outside, capacity, False)
        self._seen_clear = grown(self._seen_clear, capacity, False)

    def reset_row(self, row: int) -> None:
        self._seen_outside[row] = False
        self._seen_clear[row] = False

    @property
    def open_incidents(self) -> int:
        return len(self._incidents)

    def update(
        self,
        t_us: int,
        previous_us: int | None,
        frame: FusedFrame,
        rows: IntArray,
        inside: BoolArray,
        gid_list: list[int],
        identities: Mapping[int, PersonIdentity],
        alerts: list[AccessAlert],
    ) -> None:
        """One frame: incidents of persons who left noted, opened / escalated / updated, and closed when due
        (``inside``: the persons x all zones of the site; ``previous_us``: the previous frame's time)."""
        if self._incidents:
            self._note_gone(set(gid_list), previous_us)
        if self.restricted.size and gid_list:
            self._access(t_us, frame, rows, inside, gid_list, identities, alerts)
        if self._incidents:
            self._close_incidents(t_us, alerts)

    def flush(self, t_us: int, previous_us: int | None, alerts: list[AccessAlert]) -> None:
        """End of stream: every incident closes."""
        self._note_gone(set(), previous_us)
        self._close_incidents(t_us, alerts, final=True)

    def reconfigure(self, config: AnalyticsConfig, t_us: int) -> list[AccessAlert]:
        """Take a changed zone set: incidents of zones deleted or no longer restricted close now (returned)."""
        alerts: list[AccessAlert] = []
        still_restricted = {zone.zone_id: zone for zone in config.zones if zone.kind is ZoneKind.RESTRICTED}
        for key, incident in list(self._incidents.items()):
            renewed = still_restricted.get(incident.zone.zone_id)
            if renewed is None:
                del self._incidents[key]
                alerts.append(incident.report(IncidentPhase.CLOSED, t_us))
            else:
                incident.zone = renewed
        # Whether a person was seen outside (beyond the band of) a restricted zone holds for a zone of the same
        # geometry; for a new or reshaped one it starts again (a person tracked long enough alarms at once).
        old_zones = self._zones
        old_restricted_column = {
            old_zones[i].zone_id: (r, old_zones[i]) for r, i in enumerate(self.restricted.tolist())
        }
        restricted = [zone for zone in config.zones if zone.kind is ZoneKind.RESTRICTED]
        capacity = self._seen_outside.shape[0]
        seen_outside = np.zeros((capacity, len(restricted)), np.bool_)
        seen_clear = np.zeros((capacity, len(restricted)), np.bool_)
        for r, zone in enumerate(restricted):
            found = old_restricted_column.get(zone.zone_id)
            if found is not None and (found[1].polygon_m, found[1].warning_distance_m) == (
                zone.polygon_m,
                zone.warning_distance_m,
            ):
                seen_outside[:, r] = self._seen_outside[:, found[0]]
                seen_clear[:, r] = self._seen_clear[:, found[0]]
        self._seen_outside, self._seen_clear = seen_outside, seen_clear
        self.configure(config)
        return alerts

    def _access(
        self,
        t_us: int,
        frame: FusedFrame,
        rows: IntArray,
        inside: BoolArray,
        gid_list: list[int],
        identities: Mapping[int, PersonIdentity],
        alerts: list[AccessAlert],
    ) -> None:
        xy = frame.floor_xy_m
        count = len(gid_list)
        inside_restricted = inside[:, self.restricted]
        outside = ~inside_restricted
        self._seen_outside[rows] |= outside
        # Nobody bound: everyone a visitor, the same for each person (one row, broadcast).
        unauthorised: BoolArray = self._visitor_unauthorised
        if identities:
            restricted_ids = self._restricted_ids
            levels = np.zeros(count, dtype=np.int64)
            permitted = np.zeros((count, self.restricted.size), dtype=np.bool_)
            for i, gid in enumerate(gid_list):
                identity = identities.get(gid)
                if identity is None:
                    continue
                levels[i] = identity.level
                if identity.permitted_zone_ids:
                    permitted[i] = [zone_id in identity.permitted_zone_ids for zone_id in restricted_ids]
            unauthorised = (levels[:, None] < self._required_level[None, :]) & ~permitted
        if not unauthorised.any():
            return
        near = (
            (xy[:, 0:1] >= self._restricted_low[:, 0])
            & (xy[:, 0:1] <= self._restricted_high[:, 0])
            & (xy[:, 1:2] >= self._restricted_low[:, 1])
            & (xy[:, 1:2] <= self._restricted_high[:, 1])
        )
        distance = np.full(inside_restricted.shape, np.inf)
        candidates = np.flatnonzero((near & unauthorised).any(axis=1))
        tracked_long = ((t_us - self._first_us_of()[rows]) >= self._appeared_inside_us)[:, None]
        # Nobody near a zone they may not enter: nobody within a warning band (the distance is infinite).
        if candidates.size:
            distance[candidates] = self._restricted_edges.distance(xy[candidates])
            within_band = outside & (distance <= self._warning_m[None, :])
            self._seen_clear[rows] |= outside & ~within_band
            condition = unauthorised & within_band & (self._seen_clear[rows] | tracked_long)
        else:
            self._seen_clear[rows] |= outside
            condition = np.zeros(inside_restricted.shape, dtype=np.bool_)
        alarm = inside_restricted  # nobody inside a restricted zone (the usual frame): all False, no alarm
        if inside_restricted.any():
            alarm = unauthorised & inside_restricted & (self._seen_outside[rows] | tracked_long)
            condition = alarm | condition
        if not condition.any():
            return
        cameras = frame.camera_ids.tolist()
        for i, r in zip(*np.nonzero(condition), strict=True):
            gid = gid_list[i]
            zone = self._zones[int(self.restricted[r])]
            identity = identities.get(gid, VISITOR)
            if (
                identity.certain
                and gid in frame.uncertain_ids
                and _doubt_matters(gid, identity, frame, identities)
            ):
                # The fusion doubts who this is (a refused ambiguous re-acquisition): the alert says so.
                identity = replace(identity, certain=False)
            kind = AlertKind.ALARM if alarm[i, r] else AlertKind.WARNING
            x_m, y_m = float(xy[i, 0]), float(xy[i, 1])
            distance_m = 0.0 if inside_restricted[i, r] else float(distance[i, r])
            seen_by = {cameras[c] for c in np.flatnonzero(frame.source_mask[i]).tolist()}
            incident = self._incidents.get((gid, zone.zone_id))
            rejoined = False
            if incident is None:
                incident = self._rejoin(t_us, gid, zone.zone_id, int(self._first_us_of()[rows[i]]), x_m, y_m)
                rejoined = incident is not None
            if incident is None:
                incident = _Incident(
                    global_id=gid,
                    first_global_id=gid,
                    zone=zone,
                    opened_us=t_us,
                    kind=kind,
                    alarm_us=t_us if kind is AlertKind.ALARM else None,
                    employee_id=identity.employee_id,
                    employee_name=identity.display_name if identity.employee_id is not None else None,
                    level=identity.level,
                    certain=identity.certain,
                    x_m=x_m,
                    y_m=y_m,
                    distance_m=distance_m,
                    cameras=seen_by,
                    last_condition_us=t_us,
                    reported_us=t_us,
                )
                self._incidents[(gid, zone.zone_id)] = incident
                alerts.append(incident.report(IncidentPhase.OPENED, t_us))
                logger.info(
                    "access %s opened: person=%d zone=%d employee=%s",
                    kind.value,
                    gid,
                    zone.zone_id,
                    identity.employee_id,
                )
                continue
            incident.x_m, incident.y_m, incident.distance_m = x_m, y_m, distance_m
            incident.cameras |= seen_by
            incident.last_condition_us = t_us
            renamed = incident.observe_identity(identity)
            if kind is AlertKind.ALARM and incident.kind is AlertKind.WARNING:
                incident.kind, incident.alarm_us = AlertKind.ALARM, t_us
                alerts.append(incident.report(IncidentPhase.ESCALATED, t_us))
                logger.info("access incident escalated to alarm: person=%d zone=%d", gid, zone.zone_id)
            elif rejoined or renamed or t_us - incident.reported_us >= self._alert_update_us:
                alerts.append(incident.report(IncidentPhase.UPDATED, t_us))

    def _note_gone(self, present: set[int], previous_us: int | None) -> None:
        """Mark the incidents whose person has left the floor (kept for a rejoin until they close)."""
        for incident in self._incidents.values():
            if incident.gone_us is None and incident.global_id not in present:
                incident.gone_us = previous_us if previous_us is not None else 0

    def _rejoin(
        self, t_us: int, gid: int, zone_id: int, first_us: int, x_m: float, y_m: float
    ) -> _Incident | None:
        """The incident of `zone_id` not yet due to close whose person left the floor before `gid` was first
        seen, nearest to (x, y) and within alert_rejoin_m of where they were last: `gid` continues it."""
        if self._alert_rejoin_m <= 0:
            return None
        best: _Incident | None = None
        best_m = self._alert_rejoin_m
        for incident in self._incidents.values():
            if incident.zone.zone_id != zone_id or incident.gone_us is None or first_us <= incident.gone_us:
                continue
            if t_us - incident.last_condition_us >= self._alert_close_us:
                continue
            distance_m = float(np.hypot(x_m - incident.x_m, y_m - incident.y_m))
            if distance_m <= best_m:
                best, best_m = incident, distance_m
        if best is not None:
            del self._incidents[(best.global_id, zone_id)]
            logger.info("access incident of person %d continued by person %d", best.global_id, gid)
            best.global_id, best.gone_us = gid, None
            self._incidents[(gid, zone_id)] = best
        return best

    def _close_incidents(self, t_us: int, alerts: list[AccessAlert], *, final: bool = False) -> None:
        """Close the incidents that met no condition for alert_close_after_s, those whose person left the floor
        and was not found again in that time (at once when rejoining is off), and at the end every one."""
        for key, incident in list(self._incidents.items()):
            due = t_us - incident.last_condition_us >= self._alert_close_us
            left_for_good = incident.gone_us is not None and self._alert_rejoin_m <= 0
            if not (final or due or left_for_good):
                continue
            del self._incidents[key]
            alerts.append(incident.report(IncidentPhase.CLOSED, t_us))


def _doubt_matters(
    gid: int, identity: PersonIdentity, frame: FusedFrame, identities: Mapping[int, PersonIdentity]
) -> bool:
    """Whether the fusion's doubt about person `gid` changes who an alert says they are. A bound person's does:
    the person may be somebody else. A visitor's does only when one of the persons they may be instead is bound
    (an employee, perhaps allowed in, who is not "an unauthorized visitor"), or when the fusion does not say
    whom they may be; a visitor who may be another visitor is a visitor either way."""
    if identity.employee_id is not None:
        return True
    others = frame.uncertain_with.get(gid)
    if not others:
        return True
    return any(identities.get(other, VISITOR).employee_id is not None for other in others)
