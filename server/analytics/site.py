"""SiteAnalytics: every live store analytic of one site, updated from each FusedFrame.

Exact definitions (t is ``FusedFrame.time_us``; "inside" is the even-odd point-in-polygon test of the person's
fused position at t; updates must come in non-decreasing time):

* **Occupancy**: the site occupancy is the number of persons in the frame; a zone's occupancy is the number of
  persons with an open visit of the zone.
* **Visits / entries**: a visit opens (``ZoneEntry`` at t) at the first frame a person is inside a zone
  without an open visit of it. It stays open while the person is inside and through absences (outside, or gaps
  between frames) shorter than ``exit_grace_s``; it closes at the first frame at which the person has been
  outside for at least ``exit_grace_s`` since the last frame found inside, or when the person leaves the frame
  (visit ended by fusion). The visit's ``DwellRecord`` runs from the entry frame to the last frame found
  inside.
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
  An alert is raised at the frame a condition becomes true, unless an alert of the same (person, zone,
  kind) was raised less than ``alert_cooldown_s`` before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

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
    PersonIdentity,
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
    """The human sentence of an alert, e.g. "An unauthorized employee (Kim) approached the secure area"."""
    if identity.employee_id is None:
        who = "An unauthorized visitor"
    elif identity.display_name:
        who = f"An unauthorized employee ({identity.display_name})"
    else:
        who = "An unauthorized employee"
    verb = "approached" if kind is AlertKind.WARNING else "entered"
    return f"{who} {verb} the secure area"


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
        self._cooldown_us = int(config.alert_cooldown_s * 1e6)
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
        self._warn_state: BoolArray = np.zeros((capacity, restricted_count), dtype=np.bool_)
        self._alarm_state: BoolArray = np.zeros((capacity, restricted_count), dtype=np.bool_)
        # Per row: first frame time, and whether the person was ever seen outside each restricted zone.
        self._first_us: IntArray = np.zeros(capacity, dtype=np.int64)
        self._seen_outside: BoolArray = np.zeros((capacity, restricted_count), dtype=np.bool_)
        self._appeared_inside_us = int(config.alarm_appeared_inside_after_s * 1e6)
        self._frame_counter = 0

        self._last_time_us: int | None = None
        self._prev_cells: IntArray = _EMPTY_INT
        self._prev_velocity: FloatArray = np.zeros((0, 2))
        self._bucket_start_us: int | None = None
        self._bucket_person_s: FloatArray = np.zeros(self._grid.cells)
        self._bucket_disp_x: FloatArray = np.zeros(self._grid.cells)
        self._bucket_disp_y: FloatArray = np.zeros(self._grid.cells)

        self._contacts = _ContactTable()
        self._partners: dict[int, set[int]] = {}
        self._last_alert_us: dict[tuple[int, int, AlertKind], int] = {}

    # ------------------------------------------------------------------ public API

    def update(self, frame: FusedFrame, identities: Mapping[int, PersonIdentity]) -> AnalyticsUpdate:
        """Apply one fused frame; return the occupancy and every event it produced."""
        t_us = frame.time_us
        xy = frame.floor_xy_m
        count = frame.global_ids.shape[0]
        self._validate(frame)
        gid_list: list[int] = frame.global_ids.tolist()
        self._frame_counter += 1

        heat, buckets = self._heat(t_us, frame)
        rows = self._rows_for(gid_list, t_us)
        dwell: list[DwellRecord] = []
        ended: list[DistancingViolation] = []
        self._close_vanished(dwell, ended)

        entries: list[ZoneEntry] = []
        transitions: list[FlowTransition] = []
        inside = self._edges.contains(xy)
        if self._zone_ids.size:
            self._zones_update(t_us, rows, inside, gid_list, entries, transitions, dwell)
        in_zone = self._open[rows]
        occupancy_counts: list[int] = in_zone.sum(axis=0).tolist()
        zone_occupancy = dict(zip(self._zone_id_list, occupancy_counts, strict=True))

        started: list[DistancingViolation] = []
        updated: list[DistancingViolation] = []
        if count >= 2 or self._contacts.size:
            self._distancing(t_us, xy, frame.global_ids, started, updated, ended)

        alerts: list[AccessAlert] = []
        if self._restricted.size and count:
            self._access(t_us, xy, rows, inside, gid_list, identities, alerts)

        contacts = {gid: len(partners) for gid, partners in self._partners.items() if partners}
        if self._frame_counter % 1024 == 0 and self._last_alert_us:
            self._last_alert_us = {
                key: at for key, at in self._last_alert_us.items() if t_us - at < self._cooldown_us
            }
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
        )

    # ------------------------------------------------------------------ steps

    def _validate(self, frame: FusedFrame) -> None:
        count = frame.global_ids.shape[0]
        if frame.floor_xy_m.shape != (count, 2) or frame.velocities_mps.shape != (count, 2):
            raise AnalyticsInputError("positions and velocities must be (M, 2) arrays", code="bad_shape")
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

    def _rows_for(self, gid_list: list[int], t_us: int) -> IntArray:
        row_of = self._row_of
        found = [row_of.get(gid, -1) for gid in gid_list]
        if -1 in found:
            for i, gid in enumerate(gid_list):
                if found[i] < 0:
                    found[i] = self._new_row(gid, t_us)
        rows = np.array(found, dtype=np.int64)
        self._row_stamp[rows] = self._frame_counter
        return rows

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
        self._warn_state[row] = False
        self._alarm_state[row] = False
        self._first_us[row] = t_us
        self._seen_outside[row] = False
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
        self._warn_state = grown(self._warn_state, False)
        self._alarm_state = grown(self._alarm_state, False)
        self._first_us = grown(self._first_us, 0)
        self._seen_outside = grown(self._seen_outside, False)

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
        rows: IntArray,
        inside: BoolArray,
        gid_list: list[int],
        entries: list[ZoneEntry],
        transitions: list[FlowTransition],
        dwell: list[DwellRecord],
    ) -> None:
        was_open = self._open[rows]
        last_inside = np.where(inside, t_us, self._last_inside_us[rows])
        self._last_inside_us[rows] = last_inside
        entering = inside & ~was_open
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
            self._enter_us[rows] = np.where(entering, t_us, self._enter_us[rows])
            for i, z in zip(*np.nonzero(entering), strict=True):
                gid = gid_list[i]
                zone_id = self._zone_id_list[z]
                entries.append(ZoneEntry(gid, zone_id, t_us))
                row = int(rows[i])
                previous = int(self._last_zone[row])
                if previous != z:
                    from_zone = None if previous == _NO_ZONE else self._zone_id_list[previous]
                    transitions.append(FlowTransition(gid, from_zone, zone_id, t_us))
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
        xy: FloatArray,
        rows: IntArray,
        inside: BoolArray,
        gid_list: list[int],
        identities: Mapping[int, PersonIdentity],
        alerts: list[AccessAlert],
    ) -> None:
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
            self._warn_state[rows] = False
            self._alarm_state[rows] = False
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
        established = (
            self._seen_outside[rows] | ((t_us - self._first_us[rows]) >= self._appeared_inside_us)[:, None]
        )
        alarm = unauthorised & inside_restricted & established
        warning = unauthorised & ~inside_restricted & (distance <= self._warning_m[None, :])
        new_alarm = alarm & ~self._alarm_state[rows]
        new_warning = warning & ~self._warn_state[rows]
        self._alarm_state[rows] = alarm
        self._warn_state[rows] = warning
        for kind, rising in ((AlertKind.ALARM, new_alarm), (AlertKind.WARNING, new_warning)):
            if not rising.any():
                continue
            for i, r in zip(*np.nonzero(rising), strict=True):
                gid = gid_list[i]
                zone = self._zones[int(self._restricted[r])]
                key = (gid, zone.zone_id, kind)
                last = self._last_alert_us.get(key)
                if last is not None and t_us - last < self._cooldown_us:
                    continue
                self._last_alert_us[key] = t_us
                identity = identities.get(gid, VISITOR)
                alerts.append(
                    AccessAlert(
                        kind=kind,
                        global_id=gid,
                        zone_id=zone.zone_id,
                        zone_name=zone.name,
                        employee_id=identity.employee_id,
                        employee_name=identity.display_name if identity.employee_id is not None else None,
                        level=identity.level,
                        required_level=zone.required_level,
                        distance_m=0.0 if kind is AlertKind.ALARM else float(distance[i, r]),
                        time_us=t_us,
                        message=alert_message(kind, identity),
                    )
                )
                logger.info(
                    "access %s: person=%d zone=%d employee=%s",
                    kind.value,
                    gid,
                    zone.zone_id,
                    identity.employee_id,
                )
