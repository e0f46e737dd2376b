"""SiteAnalytics: every live store analytic of one site, updated from each FusedFrame.

Exact definitions (t is ``FusedFrame.time_us``; "inside" is the even-odd point-in-polygon test of the person's
fused position at t; updates must come in non-decreasing time):

* **Occupancy**: the site occupancy is the number of persons in the frame; a zone's occupancy is the number of
  persons with an open visit of the zone.
* **Visits / entries**: a visit opens (``ZoneEntry`` at t) at the first frame a person is inside a zone
  without an open visit of it; when that is the person's first frame, the visit dates back to their first
  observation (``FusedFrame.first_seen_us``, when given; not before the first frame these analytics saw):
  the fusion reports a person only once it has confirmed them, and a visit counted from the confirmation
  was short by the confirmation delay. It stays open while the person is inside and through absences
  (outside, or gaps between frames) shorter than ``exit_grace_s``; it closes at the first frame at which the
  person has been outside for at least ``exit_grace_s`` since the last frame found inside, or when the
  person leaves the frame (visit ended by fusion). The visit's ``DwellRecord`` runs from the entry (frame,
  or first observation) to the last frame found inside, taken at the person's last observation
  (``FusedFrame.last_seen_us``): positions the fusion extrapolates while no camera sees the person (until
  ``end_after_s`` after someone has left) do not lengthen a visit, and "outside for ``exit_grace_s``"
  counts from that observation.
* **Flow**: each entry into zone B emits ``FlowTransition(from=A, to=B)`` where A is the zone of the person's
  previous entry (None for their first); re-entering the same zone without another entry in between emits
  nothing. Simultaneous entries are taken in configuration order.
* **Heat map** (sample-and-hold): at update k, each person of frame k-1 contributes
  ``h = min(t_k - t_{k-1}, heat_max_hold_s)`` person-seconds to the grid cell of their position at t_{k-1},
  and ``velocity * h`` to that cell's displacement (movement direction) sum. Persons outside the grid add to
  ``outside_person_s``. Contributions go to the bucket (``heat_bucket_s``) containing t_{k-1}; a bucket is
  emitted (closed) at the first update at or after its end, whether or not anyone is present, or on
  :meth:`SiteAnalytics.flush`. :meth:`SiteAnalytics.checkpoint_heat` emits the part of the open bucket
  accumulated so far (the bucket stays open; its later parts follow): a bucket may thus be emitted in parts with
  the same start, which consumers add up.
* **Social distancing**: a pair is *close* in a frame when both are present and their distance is below
  ``distancing_distance_m`` (D). A contact starts at the first close frame and survives non-close frames while
  ``t - last_close <= distancing_gap_s``; it ends at the first frame beyond that (or when either person leaves
  the frame) with end = last close frame. A contact becomes a **violation** at the first frame where
  ``last_close - start >= distancing_min_duration_s`` (T) (``violations_started``); active violations are
  re-sent every ``violation_update_interval_s`` (``violations_updated``) and once more when they end
  (``violations_ended``). ``min_distance_m`` is the smallest close distance. A person's contacts are the
  distinct persons they had a violation with during their visit.
* **Access control**: a person is unauthorised for a restricted zone when their level is below the zone's
  ``required_level`` and the zone is not among their permitted zones (visitors: level 0, no permissions). An
  unauthorised person inside the zone meets the *alarm* condition; one outside but within
  ``warning_distance_m`` of its boundary meets the *warning* condition. A person who appeared inside the zone
  (never seen outside it) meets the alarm condition only once they have been tracked for
  ``alarm_appeared_inside_after_s``: a real person walks in and is seen outside first, while a detector's
  false positive that outlives the fusion's confirmation is born where it stands and rarely lasts a second.
  Likewise a person who appeared within the warning band (never seen beyond it) meets the warning condition only
  once tracked that long (fragments of tracks born at the edge of a camera's view near the zone).
  Alerts are **incidents** (``AccessAlert`` events, see there): an incident of (person, zone) opens at the first
  frame either condition holds (kind warning or alarm), escalates to an alarm at the first frame the alarm
  condition holds, is re-reported at most every ``alert_update_interval_s`` while a condition holds, and closes
  at the first frame at which no condition has held for ``alert_close_after_s`` (closed at the last frame one
  held). A person who leaves the floor and is not found again closes it the same way; a new person first seen
  within ``alert_rejoin_m`` of where they left, before it closed, continues it (the fusion found them again
  under a new id). A later approach or entry is a new incident. The name an
  incident carries is the person's binding when it opened (or when they were first bound during it), kept to
  the end; a binding that changes during the incident marks its identity uncertain.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial import cKDTree

from server.analytics.errors import AnalyticsInputError
from server.analytics.geometry import BoolArray, EdgeSet, FloatArray, IntArray
from server.analytics.types import (
    VISITOR,
    AccessAlert,
    AlertKind,
    AnalyticsConfig,
    AnalyticsUpdate,
    DistancingViolation,
    DwellRecord,
    FlowTransition,
    HeatDelta,
    HeatmapBucket,
    IncidentPhase,
    PersonIdentity,
    Zone,
    ZoneEntry,
    ZoneKind,
)
from server.fusion.types import FusedFrame

logger = logging.getLogger(__name__)

_NO_ZONE = -1
_EMPTY_INT: IntArray = np.zeros(0, dtype=np.int64)


_PAIR_SHIFT = np.int64(1 << 32)
# Pairs up to this far beyond the distancing threshold are followed when distances are smoothed.
_SMOOTHING_MARGIN_M = 0.5


# Above this many persons a k-d tree finds the close pairs faster than the all-pairs distance matrix (measured:
# 160 persons 34 us vs 318 us; 50 persons about equal).
_KD_TREE_MIN_PERSONS = 64


def _pairs_within(xy: FloatArray, reach_m: float) -> tuple[IntArray, IntArray]:
    """Index pairs (i < j) of the points closer than `reach_m`."""
    if xy.shape[0] >= _KD_TREE_MIN_PERSONS:
        pairs = cKDTree(xy).query_pairs(reach_m, output_type="ndarray")
        return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    dx = xy[:, 0:1] - xy[:, 0]
    dy = xy[:, 1:2] - xy[:, 1]
    first, second = np.nonzero(dx * dx + dy * dy < reach_m * reach_m)
    upper = first < second
    return first[upper].astype(np.int64), second[upper].astype(np.int64)


class _ContactTable:
    """Open contacts as parallel arrays sorted by pair code ``low_gid * 2**32 + high_gid`` (vectorised)."""

    def __init__(self) -> None:
        self.code: IntArray = _EMPTY_INT
        self.start_us: IntArray = _EMPTY_INT
        self.last_us: IntArray = _EMPTY_INT
        self.min_m: FloatArray = np.zeros(0)
        self.violation: BoolArray = np.zeros(0, dtype=np.bool_)
        self.reported_us: IntArray = _EMPTY_INT

    @property
    def size(self) -> int:
        return int(self.code.shape[0])

    def merge(self, t_us: int, codes: IntArray, distance_m: FloatArray) -> None:
        """Record the close pairs of a frame: refresh known contacts, open new ones (``codes`` unique)."""
        position = np.searchsorted(self.code, codes)
        clipped = np.minimum(position, max(self.size - 1, 0))
        known = (
            (position < self.size) & (self.code[clipped] == codes)
            if self.size
            else np.zeros(codes.shape, bool)
        )
        if known.any():
            rows = position[known]
            self.last_us[rows] = t_us
            self.min_m[rows] = np.minimum(self.min_m[rows], distance_m[known])
        fresh = ~known
        if fresh.any():
            count = int(fresh.sum())
            code = np.concatenate([self.code, codes[fresh]])
            order = np.argsort(code, kind="stable")
            self.code = code[order]
            self.start_us = np.concatenate([self.start_us, np.full(count, t_us, dtype=np.int64)])[order]
            self.last_us = np.concatenate([self.last_us, np.full(count, t_us, dtype=np.int64)])[order]
            self.min_m = np.concatenate([self.min_m, distance_m[fresh]])[order]
            self.violation = np.concatenate([self.violation, np.zeros(count, dtype=np.bool_)])[order]
            self.reported_us = np.concatenate([self.reported_us, np.zeros(count, dtype=np.int64)])[order]

    def involving(self, gids: IntArray) -> BoolArray:
        """Mask of the contacts of any of ``gids``."""
        low = self.code // _PAIR_SHIFT
        high = self.code % _PAIR_SHIFT
        result: BoolArray = np.isin(low, gids) | np.isin(high, gids)
        return result

    def remove(self, mask: BoolArray) -> None:
        keep = ~mask
        self.code = self.code[keep]
        self.start_us = self.start_us[keep]
        self.last_us = self.last_us[keep]
        self.min_m = self.min_m[keep]
        self.violation = self.violation[keep]
        self.reported_us = self.reported_us[keep]

    def record(self, row: int, *, ended: bool) -> DistancingViolation:
        code = int(self.code[row])
        last = int(self.last_us[row])
        return DistancingViolation(
            person_a=code // (1 << 32),
            person_b=code % (1 << 32),
            start_us=int(self.start_us[row]),
            last_close_us=last,
            end_us=last if ended else None,
            min_distance_m=float(self.min_m[row]),
        )


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


class SiteAnalytics:
    """Live analytics of one site; feed it every FusedFrame in time order (see the module docstring)."""

    def __init__(self, config: AnalyticsConfig) -> None:
        config.validate()
        self.config = config
        self._zones = config.zones
        self._zone_ids: IntArray = np.array([z.zone_id for z in config.zones], dtype=np.int64)
        self._zone_id_list: list[int] = self._zone_ids.tolist()
        self._edges = EdgeSet.from_polygons([z.polygon_array() for z in config.zones])
        restricted = [i for i, z in enumerate(config.zones) if z.kind is ZoneKind.RESTRICTED]
        self._restricted: IntArray = np.array(restricted, dtype=np.int64)
        self._restricted_edges = EdgeSet.from_polygons([config.zones[i].polygon_array() for i in restricted])
        self._required_level: IntArray = np.array(
            [config.zones[i].required_level for i in restricted], dtype=np.int64
        )
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
        self._grid = config.grid
        self._grace_us = int(config.exit_grace_s * 1e6)
        self._gap_us = int(config.distancing_gap_s * 1e6)
        self._smoothing_us = config.distancing_smoothing_s * 1e6
        # Smoothed distance per candidate pair when smoothing is on: pair code (sorted), distance, time.
        self._pair_code: IntArray = _EMPTY_INT
        self._pair_value: FloatArray = np.zeros(0)
        self._pair_time: IntArray = _EMPTY_INT
        self._min_violation_us = int(config.distancing_min_duration_s * 1e6)
        self._update_interval_us = int(config.violation_update_interval_s * 1e6)
        self._alert_close_us = int(config.alert_close_after_s * 1e6)
        self._alert_update_us = int(config.alert_update_interval_s * 1e6)
        self._alert_rejoin_m = config.alert_rejoin_m
        self._bucket_us = config.heat_bucket_s * 1_000_000

        zone_count = len(config.zones)
        restricted_count = len(restricted)
        capacity = 64
        self._row_of: dict[int, int] = {}
        self._row_active: BoolArray = np.zeros(capacity, dtype=np.bool_)
        self._row_gid: IntArray = np.zeros(capacity, dtype=np.int64)
        self._row_stamp: IntArray = np.zeros(capacity, dtype=np.int64)
        self._open: BoolArray = np.zeros((capacity, zone_count), dtype=np.bool_)
        self._enter_us: IntArray = np.zeros((capacity, zone_count), dtype=np.int64)
        self._last_inside_us: IntArray = np.zeros((capacity, zone_count), dtype=np.int64)
        self._last_zone: IntArray = np.full(capacity, _NO_ZONE, dtype=np.int64)
        # Per row: first frame time, and whether the person was ever seen outside each restricted zone.
        self._first_us: IntArray = np.zeros(capacity, dtype=np.int64)
        self._seen_outside: BoolArray = np.zeros((capacity, restricted_count), dtype=np.bool_)
        # ... and whether they were ever seen beyond each restricted zone's warning band.
        self._seen_clear: BoolArray = np.zeros((capacity, restricted_count), dtype=np.bool_)
        self._appeared_inside_us = int(config.alarm_appeared_inside_after_s * 1e6)
        self._frame_counter = 0

        self._last_time_us: int | None = None
        self._first_time_us: int | None = None
        self._prev_cells: IntArray = _EMPTY_INT
        self._prev_velocity: FloatArray = np.zeros((0, 2))
        self._bucket_start_us: int | None = None
        self._bucket_person_s: FloatArray = np.zeros(self._grid.cells)
        self._bucket_disp_x: FloatArray = np.zeros(self._grid.cells)
        self._bucket_disp_y: FloatArray = np.zeros(self._grid.cells)

        self._contacts = _ContactTable()
        self._partners: dict[int, set[int]] = {}
        self._incidents: dict[tuple[int, int], _Incident] = {}  # open ones, by (global id, zone id)

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
        self._frame_counter += 1

        heat, buckets = self._heat(t_us, frame)
        rows, fresh = self._rows_for(gid_list, t_us)
        dwell: list[DwellRecord] = []
        ended: list[DistancingViolation] = []
        self._close_vanished(dwell, ended)

        entries: list[ZoneEntry] = []
        transitions: list[FlowTransition] = []
        inside = self._edges.contains(xy)
        if self._zone_ids.size:
            entry_us = self._entry_times(t_us, frame, fresh)
            seen_us = np.minimum(frame.last_seen_us, t_us)
            self._zones_update(t_us, entry_us, seen_us, rows, inside, gid_list, entries, transitions, dwell)
        in_zone = self._open[rows]
        occupancy_counts: list[int] = in_zone.sum(axis=0).tolist()
        zone_occupancy = dict(zip(self._zone_id_list, occupancy_counts, strict=True))

        started: list[DistancingViolation] = []
        updated: list[DistancingViolation] = []
        if count >= 2 or self._contacts.size:
            self._distancing(t_us, xy, frame.global_ids, started, updated, ended)

        alerts: list[AccessAlert] = []
        if self._incidents:
            self._note_gone(set(gid_list))
        if self._restricted.size and count:
            self._access(t_us, frame, rows, inside, gid_list, identities, alerts)
        if self._incidents:
            self._close_incidents(t_us, alerts)

        contacts = {gid: len(partners) for gid, partners in self._partners.items() if partners}
        self._last_time_us = t_us
        return AnalyticsUpdate(
            site_id=self.config.site_id,
            time_us=t_us,
            global_ids=frame.global_ids,
            zone_ids=self._zone_ids,
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
            contacts_per_person=contacts,
            alerts=alerts,
        )

    def flush(self, time_us: int | None = None) -> AnalyticsUpdate:
        """End of stream: close every open visit and contact and emit the open heat-map bucket."""
        t_us = time_us if time_us is not None else (self._last_time_us or 0)
        self._frame_counter += 1  # every row now counts as vanished
        dwell: list[DwellRecord] = []
        ended: list[DistancingViolation] = []
        self._close_vanished(dwell, ended)
        buckets = [bucket for bucket in [self._close_bucket()] if bucket is not None]
        alerts: list[AccessAlert] = []
        self._note_gone(set())
        self._close_incidents(t_us, alerts, final=True)
        self._prev_cells = _EMPTY_INT
        self._prev_velocity = np.zeros((0, 2))
        return AnalyticsUpdate(
            site_id=self.config.site_id,
            time_us=t_us,
            global_ids=_EMPTY_INT,
            zone_ids=self._zone_ids,
            in_zone=np.zeros((0, self._zone_ids.size), dtype=np.bool_),
            site_occupancy=0,
            zone_occupancy=dict.fromkeys(self._zone_id_list, 0),
            dwell=dwell,
            heat_buckets=buckets,
            violations_ended=ended,
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

    def _heat(self, t_us: int, frame: FusedFrame) -> tuple[HeatDelta, list[HeatmapBucket]]:
        buckets: list[HeatmapBucket] = []
        previous_us = self._last_time_us
        cells = self._prev_cells
        if previous_us is None or cells.size == 0 or t_us <= previous_us:
            delta = HeatDelta(_EMPTY_INT, np.zeros(0), np.zeros((0, 2)), 0.0)
        else:
            hold_s = min((t_us - previous_us) * 1e-6, self.config.heat_max_hold_s)
            bucket_start = previous_us - previous_us % self._bucket_us
            if self._bucket_start_us is not None and bucket_start != self._bucket_start_us:
                closed = self._close_bucket()
                if closed is not None:
                    buckets.append(closed)
            self._bucket_start_us = bucket_start
            person_s = np.full(cells.shape[0], hold_s)
            displacement = self._prev_velocity * hold_s
            in_grid = cells >= 0
            grid_cells = cells[in_grid]
            np.add.at(self._bucket_person_s, grid_cells, hold_s)
            np.add.at(self._bucket_disp_x, grid_cells, displacement[in_grid, 0])
            np.add.at(self._bucket_disp_y, grid_cells, displacement[in_grid, 1])
            outside_s = hold_s * float(cells.shape[0] - grid_cells.shape[0])
            delta = HeatDelta(grid_cells, person_s[in_grid], displacement[in_grid], outside_s)
        # Every later contribution lands in the bucket of t or later: the open bucket is complete once t passed
        # its end, also when nobody is present (an empty store adds nothing, and used to keep it open).
        if self._bucket_start_us is not None and t_us >= self._bucket_start_us + self._bucket_us:
            closed = self._close_bucket()
            if closed is not None:
                buckets.append(closed)
        self._prev_cells = self._grid.cell_index(frame.floor_xy_m)
        self._prev_velocity = frame.velocities_mps
        return delta, buckets

    def checkpoint_heat(self) -> list[HeatmapBucket]:
        """The part of the open heat-map bucket accumulated since it was last emitted (empty when none); the
        bucket stays open. What an ack barrier makes durable, so that a crash loses no emitted person-time."""
        part = self._close_bucket(keep_open=True)
        return [] if part is None else [part]

    def _close_bucket(self, *, keep_open: bool = False) -> HeatmapBucket | None:
        if self._bucket_start_us is None:
            return None
        nonzero = np.flatnonzero(self._bucket_person_s)
        start_us = self._bucket_start_us
        if not keep_open:
            self._bucket_start_us = None
        if nonzero.size == 0:  # nothing to record
            return None
        bucket = HeatmapBucket(
            bucket_start_us=start_us,
            bucket_s=self.config.heat_bucket_s,
            cell_index=nonzero.astype(np.int64),
            person_s=self._bucket_person_s[nonzero].copy(),
            displacement_m=np.stack([self._bucket_disp_x[nonzero], self._bucket_disp_y[nonzero]], axis=1),
        )
        self._bucket_person_s[nonzero] = 0.0
        self._bucket_disp_x[nonzero] = 0.0
        self._bucket_disp_y[nonzero] = 0.0
        return bucket

    def _rows_for(self, gid_list: list[int], t_us: int) -> tuple[IntArray, BoolArray]:
        """Row of each person, and which of them are new in this frame."""
        row_of = self._row_of
        found = [row_of.get(gid, -1) for gid in gid_list]
        fresh = np.zeros(len(gid_list), dtype=np.bool_)
        if -1 in found:
            for i, gid in enumerate(gid_list):
                if found[i] < 0:
                    found[i] = self._new_row(gid, t_us)
                    fresh[i] = True
        rows = np.array(found, dtype=np.int64)
        self._row_stamp[rows] = self._frame_counter
        return rows, fresh

    def _entry_times(self, t_us: int, frame: FusedFrame, fresh: BoolArray) -> IntArray:
        """When a visit opening now starts, per person: t, or the first observation of a new person, but not
        before the first frame these analytics saw (analytics restarted with new zones while the fusion goes
        on must not date the visits of everyone inside back to when they walked in)."""
        entry_us = np.full(fresh.shape[0], t_us, dtype=np.int64)
        if frame.first_seen_us is not None and fresh.any():
            entry_us[fresh] = np.clip(frame.first_seen_us[fresh], self._first_time_us, t_us)
        return entry_us

    def _new_row(self, gid: int, t_us: int) -> int:
        free = np.flatnonzero(~self._row_active)
        if free.size == 0:
            self._grow()
            free = np.flatnonzero(~self._row_active)
        row = int(free[0])
        self._row_active[row] = True
        self._row_gid[row] = gid
        self._open[row] = False
        self._last_zone[row] = _NO_ZONE
        self._first_us[row] = t_us
        self._seen_outside[row] = False
        self._seen_clear[row] = False
        self._row_of[gid] = row
        return row

    def _grow(self) -> None:
        old = self._row_active.shape[0]

        def grown(array: np.ndarray, fill: object) -> np.ndarray:  # type: ignore[type-arg]
            return np.concatenate([array, np.full((old, *array.shape[1:]), fill, dtype=array.dtype)])

        self._row_active = grown(self._row_active, False)
        self._row_gid = grown(self._row_gid, 0)
        self._row_stamp = grown(self._row_stamp, 0)
        self._open = grown(self._open, False)
        self._enter_us = grown(self._enter_us, 0)
        self._last_inside_us = grown(self._last_inside_us, 0)
        self._last_zone = grown(self._last_zone, _NO_ZONE)
        self._first_us = grown(self._first_us, 0)
        self._seen_outside = grown(self._seen_outside, False)
        self._seen_clear = grown(self._seen_clear, False)

    def _close_vanished(self, dwell: list[DwellRecord], ended: list[DistancingViolation]) -> None:
        vanished = np.flatnonzero(self._row_active & (self._row_stamp != self._frame_counter))
        if vanished.size == 0:
            return
        gone: set[int] = set()
        for row in vanished.tolist():
            gid = int(self._row_gid[row])
            gone.add(gid)
            for z in np.flatnonzero(self._open[row]).tolist():
                dwell.append(
                    DwellRecord(
                        gid,
                        self._zone_id_list[z],
                        int(self._enter_us[row, z]),
                        int(self._last_inside_us[row, z]),
                    )
                )
            self._open[row] = False
            self._row_active[row] = False
            del self._row_of[gid]
            self._partners.pop(gid, None)
        if self._contacts.size:
            leaving = self._contacts.involving(np.array(sorted(gone), dtype=np.int64))
            for row in np.flatnonzero(leaving & self._contacts.violation).tolist():
                ended.append(self._contacts.record(row, ended=True))
            self._contacts.remove(leaving)

    def _zones_update(
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
    ) -> None:
        was_open = self._open[rows]
        entering = inside & ~was_open
        # Inside now, as of the person's last observation: an extrapolated position does not extend a visit.
        last_inside = np.where(inside, seen_us[:, None], self._last_inside_us[rows])
        if entering.any():
            last_inside = np.where(entering, np.maximum(last_inside, entry_us[:, None]), last_inside)
        self._last_inside_us[rows] = last_inside
        exiting = was_open & ~inside & ((t_us - last_inside) >= self._grace_us)
        if exiting.any():
            enter_us = self._enter_us[rows]
            for i, z in zip(*np.nonzero(exiting), strict=True):
                dwell.append(
                    DwellRecord(
                        gid_list[i], self._zone_id_list[z], int(enter_us[i, z]), int(last_inside[i, z])
                    )
                )
        if entering.any():
            self._enter_us[rows] = np.where(entering, entry_us[:, None], self._enter_us[rows])
            for i, z in zip(*np.nonzero(entering), strict=True):
                gid = gid_list[i]
                zone_id = self._zone_id_list[z]
                entered_us = int(entry_us[i])
                entries.append(ZoneEntry(gid, zone_id, entered_us))
                row = int(rows[i])
                previous = int(self._last_zone[row])
                if previous != z:
                    from_zone = None if previous == _NO_ZONE else self._zone_id_list[previous]
                    transitions.append(FlowTransition(gid, from_zone, zone_id, entered_us))
                    self._last_zone[row] = z
        self._open[rows] = (was_open | inside) & ~exiting

    def _distancing(
        self,
        t_us: int,
        xy: FloatArray,
        global_ids: IntArray,
        started: list[DistancingViolation],
        updated: list[DistancingViolation],
        ended: list[DistancingViolation],
    ) -> None:
        table = self._contacts
        if xy.shape[0] >= 2:
            limit = self.config.distancing_distance_m
            # With smoothing, pairs a little beyond D are followed too, so that their smoothed distance exists.
            reach = limit + (_SMOOTHING_MARGIN_M if self._smoothing_us > 0 else 0.0)
            first, second = _pairs_within(xy, reach)
            if first.size:
                a = global_ids[first]
                b = global_ids[second]
                codes = np.minimum(a, b) * _PAIR_SHIFT + np.maximum(a, b)
                distance = np.hypot(xy[first, 0] - xy[second, 0], xy[first, 1] - xy[second, 1])
                if self._smoothing_us > 0:
                    close = self._smoothed(t_us, codes, distance) < limit
                    codes, distance = codes[close], distance[close]
                if codes.size:
                    table.merge(t_us, codes, distance)
        if table.size == 0:
            return
        close_now = table.last_us == t_us
        finished = ~close_now & ((t_us - table.last_us) > self._gap_us)
        becomes = close_now & ~table.violation & ((table.last_us - table.start_us) >= self._min_violation_us)
        due = table.violation & ~finished & ((t_us - table.reported_us) >= self._update_interval_us)
        for row in np.flatnonzero(becomes).tolist():
            started.append(table.record(row, ended=False))
            low, high = int(table.code[row] // _PAIR_SHIFT), int(table.code[row] % _PAIR_SHIFT)
            self._partners.setdefault(low, set()).add(high)
            self._partners.setdefault(high, set()).add(low)
        for row in np.flatnonzero(due).tolist():
            updated.append(table.record(row, ended=False))
        table.reported_us[becomes | due] = t_us
        table.violation |= becomes
        if finished.any():
            for row in np.flatnonzero(finished & table.violation).tolist():
                ended.append(table.record(row, ended=True))
            table.remove(finished)

    def _smoothed(self, t_us: int, codes: IntArray, distance_m: FloatArray) -> FloatArray:
        """Exponentially smoothed distance of each candidate pair (time constant `distancing_smoothing_s`); a
        pair not followed in the previous `distancing_gap_s` starts again from its raw distance. Vectorised over
        a table sorted by pair code, like the contact table."""
        old_code, old_value, old_time = self._pair_code, self._pair_value, self._pair_time
        smoothed = distance_m.astype(np.float64, copy=True)
        keep_old = (t_us - old_time) <= self._gap_us
        if old_code.size and codes.size:
            position = np.searchsorted(old_code, codes)
            clipped = np.minimum(position, old_code.size - 1)
            seen = (position < old_code.size) & (old_code[clipped] == codes)
            rows = clipped[seen]
            recent = keep_old[rows]
            rows_recent = rows[recent]
            weight = 1.0 - np.exp(-(t_us - old_time[rows_recent]) / self._smoothing_us)
            targets = np.flatnonzero(seen)[recent]
            smoothed[targets] = old_value[rows_recent] + weight * (smoothed[targets] - old_value[rows_recent])
            keep_old[rows] = False  # replaced by this frame's entry
        # Pairs not candidates in this frame keep their state for the gap (a person missed for a frame).
        code = np.concatenate([old_code[keep_old], codes])
        order = np.argsort(code, kind="stable")
        self._pair_code = code[order]
        self._pair_value = np.concatenate([old_value[keep_old], smoothed])[order]
        self._pair_time = np.concatenate([old_time[keep_old], np.full(codes.size, t_us, dtype=np.int64)])[
            order
        ]
        return smoothed

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
        inside_restricted = inside[:, self._restricted]
        self._seen_outside[rows] |= ~inside_restricted
        restricted_ids = [self._zone_id_list[z] for z in self._restricted.tolist()]
        levels = np.zeros(count, dtype=np.int64)
        permitted = np.zeros((count, self._restricted.size), dtype=np.bool_)
        if identities:
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
        distance = np.full(unauthorised.shape, np.inf)
        candidates = np.flatnonzero((near & unauthorised).any(axis=1))
        if candidates.size:
            distance[candidates] = self._restricted_edges.distance(xy[candidates])
        tracked_long = ((t_us - self._first_us[rows]) >= self._appeared_inside_us)[:, None]
        within_band = ~inside_restricted & (distance <= self._warning_m[None, :])
        self._seen_clear[rows] |= ~inside_restricted & ~within_band
        alarm = unauthorised & inside_restricted & (self._seen_outside[rows] | tracked_long)
        warning = unauthorised & within_band & (self._seen_clear[rows] | tracked_long)
        condition = alarm | warning
        if not condition.any():
            return
        cameras = frame.camera_ids.tolist()
        for i, r in zip(*np.nonzero(condition), strict=True):
            gid = gid_list[i]
            zone = self._zones[int(self._restricted[r])]
            identity = identities.get(gid, VISITOR)
            if identity.certain and gid in frame.uncertain_ids:
                # The fusion doubts who this is (a refused ambiguous re-acquisition): the alert says so.
                identity = replace(identity, certain=False)
            kind = AlertKind.ALARM if alarm[i, r] else AlertKind.WARNING
            x_m, y_m = float(xy[i, 0]), float(xy[i, 1])
            distance_m = 0.0 if inside_restricted[i, r] else float(distance[i, r])
            seen_by = {cameras[c] for c in np.flatnonzero(frame.source_mask[i]).tolist()}
            incident = self._incidents.get((gid, zone.zone_id))
            rejoined = False
            if incident is None:
                incident = self._rejoin(t_us, gid, zone.zone_id, int(self._first_us[rows[i]]), x_m, y_m)
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

    def _note_gone(self, present: set[int]) -> None:
        """Mark the incidents whose person has left the floor (kept for a rejoin until they close)."""
        for incident in self._incidents.values():
            if incident.gone_us is None and incident.global_id not in present:
                incident.gone_us = self._last_time_us if self._last_time_us is not None else 0

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
