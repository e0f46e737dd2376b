"""Configuration, identity and result types of the store analytics (no Django, no I/O).

Times are microseconds on the site's fused clock (``FusedFrame.time_us``); positions are floor metres.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from server.analytics.errors import AnalyticsConfigError
from server.analytics.geometry import BoolArray, FloatArray, IntArray, as_polygon, polygon_area_m2


class ZoneKind(StrEnum):
    """What a zone is for (SPEC §4 inventory)."""

    INTEREST = "interest"
    RESTRICTED = "restricted"
    ENTRANCE = "entrance"
    QUEUE = "queue"
    SERVICE = "service"  # a service point (till) that ends a queue's wait


class AlertKind(StrEnum):
    """Access-control alert kinds: a warning when approaching, an alarm when inside."""

    WARNING = "warning"
    ALARM = "alarm"


class IncidentPhase(StrEnum):
    """What an :class:`AccessAlert` event says about its incident."""

    OPENED = "opened"
    ESCALATED = "escalated"  # warning -> alarm
    UPDATED = "updated"  # still there: latest position, distance, cameras, identity
    CLOSED = "closed"


@dataclass(frozen=True)
class Zone:
    """A zone of the floor plan. ``polygon_m`` is a simple polygon in floor metres.

    Restricted zones have ``required_level`` (a person needs at least this security level, or an explicit
    permission) and ``warning_distance_m`` (an unauthorised person this close to the boundary gets a warning).
    """

    zone_id: int
    name: str
    kind: ZoneKind
    polygon_m: tuple[tuple[float, float], ...]
    required_level: int = 0
    warning_distance_m: float = 0.0

    def polygon_array(self) -> FloatArray:
        """Validated (K, 2) vertex array; raises :class:`AnalyticsConfigError` for a bad polygon."""
        return as_polygon(self.polygon_m, name=f"zone {self.zone_id} ({self.name})")

    @property
    def area_m2(self) -> float:
        """Polygon area in square metres."""
        return polygon_area_m2(self.polygon_array())


@dataclass(frozen=True)
class QueueThresholds:
    """The "open another till" thresholds of one queue zone, replacing the configuration's defaults for it:
    ``length`` persons waiting or a predicted wait of ``wait_s`` (None: not that condition; both None: that
    queue never alerts), held for ``after_s`` (None: the configuration's ``queue_alert_after_s``)."""

    zone_id: int
    length: int | None
    wait_s: float | None
    after_s: float | None = None


class CrossingDirection(StrEnum):
    """Which way a person crossed a counting line."""

    IN = "in"
    OUT = "out"


@dataclass(frozen=True)
class CountingLine:
    """A direction-aware counting line: a polyline in floor metres (at least two points, segments that do not
    cross each other). Its **in** side is the left of the direction from its first point to its last (the
    dashboard's arrow points in): a person crossing from the right to the left goes *in*.

    A crossing counts once the person has been ``hysteresis_m`` past the line on the other side for ``commit_s`` (see
    :mod:`server.analytics.doors`). Entries through a line with ``entrance`` are the site's visits and move
    the counted occupancy."""

    line_id: int
    name: str
    points_m: tuple[tuple[float, float], ...]
    entrance: bool = True
    # Chosen on the door scenarios' tuning seeds (benchmarks/retail_kpis.py; 1-2 for the band, 1-6 for the hold):
    # the fused position overshoots a person who stops at the door and turns back by up to ~0.5 m for ~0.3 s.
    hysteresis_m: float = 0.5
    commit_s: float = 0.5
    # A person who appears in the band within handover_s and handover_m of where another ended in it takes
    # over their side and passages (the fusion replacing a person's id at the door): see server.analytics.doors.
    handover_s: float = 1.5
    handover_m: float = 1.0

    def points_array(self) -> FloatArray:
        """Validated (K, 2) point array; raises :class:`AnalyticsConfigError` (code ``invalid_line``)."""
        name = f"counting line {self.line_id} ({self.name})"
        points = np.asarray(self.points_m, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 2:
            raise AnalyticsConfigError(f"{name}: a line needs at least 2 (x, y) points", code="invalid_line")
        if not bool(np.isfinite(points).all()):
            raise AnalyticsConfigError(f"{name}: points must be finite numbers", code="invalid_line")
        lengths = np.hypot(*(np.diff(points, axis=0).T))
        if bool((lengths < 0.05).any()):
            raise AnalyticsConfigError(
                f"{name}: two consecutive points are closer than 5 cm", code="invalid_line"
            )
        if not (math.isfinite(self.hysteresis_m) and 0.0 < self.hysteresis_m <= 5.0):
            raise AnalyticsConfigError(
                f"{name}: hysteresis_m must be in (0, 5], got {self.hysteresis_m!r}", code="invalid_line"
            )
        if not (math.isfinite(self.commit_s) and 0.0 <= self.commit_s <= 10.0):
            raise AnalyticsConfigError(
                f"{name}: commit_s must be in [0, 10], got {self.commit_s!r}", code="invalid_line"
            )
        for field_name, high in (("handover_s", 10.0), ("handover_m", 5.0)):
            value = getattr(self, field_name)
            if not (math.isfinite(value) and 0.0 <= value <= high):
                raise AnalyticsConfigError(
                    f"{name}: {field_name} must be in [0, {high:g}], got {value!r}", code="invalid_line"
                )
        return points


@dataclass(frozen=True)
class FloorGrid:
    """The heat-map grid: cells of ``cell_m`` x ``cell_m`` covering the floor rectangle.

    Cell (ix, iy) covers ``[origin_x_m + ix*cell_m, origin_x_m + (ix+1)*cell_m)`` x the same in y; its flat
    index is ``iy * nx + ix``. Points outside the rectangle belong to no cell.
    """

    origin_x_m: float
    origin_y_m: float
    width_m: float
    height_m: float
    cell_m: float = 0.5

    @property
    def nx(self) -> int:
        """Number of cells along x."""
        return math.ceil(self.width_m / self.cell_m - 1e-9)

    @property
    def ny(self) -> int:
        """Number of cells along y."""
        return math.ceil(self.height_m / self.cell_m - 1e-9)

    @property
    def cells(self) -> int:
        """Total number of cells."""
        return self.nx * self.ny

    def validate(self) -> None:
        """Raise :class:`AnalyticsConfigError` for non-finite or non-positive sizes, or > 4 M cells."""
        values = (self.origin_x_m, self.origin_y_m, self.width_m, self.height_m, self.cell_m)
        if not all(math.isfinite(v) for v in values):
            raise AnalyticsConfigError("floor grid values must be finite", code="invalid_grid")
        if self.width_m <= 0 or self.height_m <= 0 or self.cell_m <= 0:
            raise AnalyticsConfigError("floor grid sizes must be positive", code="invalid_grid")
        if self.cells > 4_000_000:
            raise AnalyticsConfigError("floor grid has too many cells; use larger cells", code="invalid_grid")

    def cell_index(self, points_xy_m: FloatArray) -> IntArray:
        """Flat cell index per point; -1 for points outside the grid."""
        origin, bounds, nx = self._cell_lookup
        ixy = np.floor((points_xy_m - origin) / self.cell_m).astype(np.int64)
        # As unsigned, a negative index is past the end too: one comparison per axis.
        inside = ixy.view(np.uint64) < bounds
        result: IntArray = np.where(inside[:, 0] & inside[:, 1], ixy[:, 1] * nx + ixy[:, 0], -1)
        return result

    @functools.cached_property
    def _cell_lookup(self) -> tuple[FloatArray, npt.NDArray[np.uint64], int]:
        """For `cell_index`: the origin, (nx, ny) as unsigned, nx (computed once per grid)."""
        origin = np.array((self.origin_x_m, self.origin_y_m), dtype=np.float64)
        return origin, np.array((self.nx, self.ny), dtype=np.uint64), self.nx


@dataclass(frozen=True)
class AnalyticsConfig:
    """Everything SiteAnalytics needs to know about a site. Defaults follow SPEC §4."""

    site_id: int
    zones: tuple[Zone, ...]
    grid: FloorGrid
    # Social distancing: pairs closer than this ...
    distancing_distance_m: float = 2.0
    # ... for at least this long are a violation.
    distancing_min_duration_s: float = 5.0
    # A contact survives gaps (distance >= D or a person unseen) shorter than this.
    distancing_gap_s: float = 1.0
    # Time constant of the exponential smoothing of each pair's distance before it is compared with D (0 = raw
    # distances). Position noise of a few centimetres otherwise flips pairs standing near D in and out of contact.
    distancing_smoothing_s: float = 0.0
    # Active violations are re-reported (violations_updated) at most this often.
    violation_update_interval_s: float = 1.0
    # An access-control incident closes once its person has been clear of the zone and of its warning band this
    # long (position noise at the band's edge does not split one approach into many incidents).
    alert_close_after_s: float = 5.0
    # An open incident is re-reported (position, distance, cameras) at most this often while it lasts.
    alert_update_interval_s: float = 1.0
    # A person first seen this close to where an incident's person left the floor, within alert_close_after_s,
    # continues that incident: the fusion lost them and found them again under a new id (0 = never).
    alert_rejoin_m: float = 1.5
    # A person who appeared inside a restricted zone (never seen outside it) alarms only once tracked this long
    # (a false-positive detection is born where it stands; a real person walks in and is seen outside first).
    alarm_appeared_inside_after_s: float = 1.5
    # A zone visit ends once the person has been outside the zone for this long.
    exit_grace_s: float = 1.0
    # Heat map: a person's position is held at most this long when updates stall.
    heat_max_hold_s: float = 1.0
    # Heat map rows are accumulated per bucket of this length (aligned to multiples of it since the epoch).
    heat_bucket_s: int = 60
    # Door counting: the site's counting lines, and when its day ends (seconds after local midnight in
    # `timezone`; None: never): the occupancy counted at the doors is reset to 0 then (drift correction).
    lines: tuple[CountingLine, ...] = ()
    closing_time_s: int | None = None
    timezone: str = "UTC"
    # Above this occupancy the site is over capacity (None: no limit).
    capacity: int | None = None
    # Queues (server.analytics.queues): a service reached this long after the queue visit ended still ends the
    # wait; services over this window give the predicted wait; "open another till" when the length or the
    # predicted wait stays at or above these (None: not that condition) for queue_alert_after_s.
    # Leave staff (persons bound to an employee) out of the heat map; the server's site setup turns it on
    # (a visitor KPI, docs/kpis.md); off, the heat map is everyone's, as the simulator's heat truth is.
    heat_excludes_staff: bool = False
    queue_service_grace_s: float = 5.0
    queue_rate_window_s: float = 600.0
    queue_alert_length: int | None = 6
    queue_alert_wait_s: float | None = 300.0
    queue_alert_after_s: float = 60.0
    # Per queue zone, thresholds replacing the three above (the admin's setting of that queue).
    queue_thresholds: tuple[QueueThresholds, ...] = ()

    def validate(self) -> None:
        """Raise :class:`AnalyticsConfigError` for bad zones, grid or thresholds."""
        self.grid.validate()
        seen: set[int] = set()
        for zone in self.zones:
            if zone.zone_id in seen:
                raise AnalyticsConfigError(f"zone id {zone.zone_id} is used twice", code="duplicate_zone")
            seen.add(zone.zone_id)
            if not isinstance(zone.kind, ZoneKind):
                raise AnalyticsConfigError(
                    f"zone {zone.zone_id}: unknown kind {zone.kind!r}", code="invalid_zone"
                )
            zone.polygon_array()
            bad_distance = not math.isfinite(zone.warning_distance_m) or zone.warning_distance_m < 0
            if zone.required_level < 0 or bad_distance:
                raise AnalyticsConfigError(
                    f"zone {zone.zone_id}: required_level and warning_distance_m must be >= 0",
                    code="invalid_zone",
                )
        positive = {
            "distancing_distance_m": self.distancing_distance_m,
            "violation_update_interval_s": self.violation_update_interval_s,
            "heat_max_hold_s": self.heat_max_hold_s,
            "alert_update_interval_s": self.alert_update_interval_s,
        }
        non_negative = {
            "distancing_min_duration_s": self.distancing_min_duration_s,
            "distancing_gap_s": self.distancing_gap_s,
            "distancing_smoothing_s": self.distancing_smoothing_s,
            "alert_close_after_s": self.alert_close_after_s,
            "alert_rejoin_m": self.alert_rejoin_m,
            "alarm_appeared_inside_after_s": self.alarm_appeared_inside_after_s,
            "exit_grace_s": self.exit_grace_s,
        }
        for name, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise AnalyticsConfigError(
                    f"{name} must be positive, got {value!r}", code="invalid_threshold"
                )
        for name, value in non_negative.items():
            if not (math.isfinite(value) and value >= 0):
                raise AnalyticsConfigError(f"{name} must be >= 0, got {value!r}", code="invalid_threshold")
        if self.heat_bucket_s < 1:
            raise AnalyticsConfigError("heat_bucket_s must be >= 1", code="invalid_threshold")
        line_ids: set[int] = set()
        for line in self.lines:
            if line.line_id in line_ids:
                raise AnalyticsConfigError(
                    f"counting line id {line.line_id} is used twice", code="duplicate_line"
                )
            line_ids.add(line.line_id)
            line.points_array()
        if self.closing_time_s is not None and not 0 <= self.closing_time_s < 86_400:
            raise AnalyticsConfigError(
                f"closing_time_s must be in [0, 86400), got {self.closing_time_s!r}", code="invalid_threshold"
            )
        for name, value in {
            "queue_service_grace_s": self.queue_service_grace_s,
            "queue_rate_window_s": self.queue_rate_window_s,
            "queue_alert_after_s": self.queue_alert_after_s,
        }.items():
            if not (math.isfinite(value) and value >= 0):
                raise AnalyticsConfigError(f"{name} must be >= 0, got {value!r}", code="invalid_threshold")
        if self.queue_alert_length is not None and self.queue_alert_length < 1:
            raise AnalyticsConfigError("queue_alert_length must be >= 1", code="invalid_threshold")
        if self.queue_alert_wait_s is not None and not self.queue_alert_wait_s > 0:
            raise AnalyticsConfigError("queue_alert_wait_s must be > 0", code="invalid_threshold")
        for limits in self.queue_thresholds:
            if limits.length is not None and limits.length < 1:
                raise AnalyticsConfigError(
                    f"queue {limits.zone_id}: alert length must be >= 1", code="invalid_threshold"
                )
            if limits.wait_s is not None and not limits.wait_s > 0:
                raise AnalyticsConfigError(
                    f"queue {limits.zone_id}: alert wait must be > 0", code="invalid_threshold"
                )
            if limits.after_s is not None and not limits.after_s >= 0:
                raise AnalyticsConfigError(
                    f"queue {limits.zone_id}: alert hold must be >= 0", code="invalid_threshold"
                )
        if self.capacity is not None and self.capacity < 1:
            raise AnalyticsConfigError(
                f"capacity must be >= 1, got {self.capacity!r}", code="invalid_threshold"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise AnalyticsConfigError(
                f"unknown time zone {self.timezone!r}", code="invalid_timezone"
            ) from error

    def zone(self, zone_id: int) -> Zone:
        """The zone with this id; raises :class:`UnknownZoneError`."""
        from server.analytics.errors import UnknownZoneError

        for zone in self.zones:
            if zone.zone_id == zone_id:
                return zone
        raise UnknownZoneError(f"site {self.site_id} has no zone {zone_id}")


@dataclass(frozen=True)
class PersonIdentity:
    """Who a global person is. Unidentified persons are visitors: no employee, level 0, no permissions.

    ``certain`` is False when the identity feed doubts that the bound employee is still this person; the
    alerts of an uncertain identity say so. ``revoked``: a visitor whose every binding was revoked (unbound, not
    superseded): the analytics stop treating them as staff, which the staff mark otherwise never does."""

    employee_id: int | None = None
    display_name: str | None = None
    level: int = 0
    permitted_zone_ids: frozenset[int] = frozenset()
    certain: bool = True
    revoked: bool = False


VISITOR = PersonIdentity()


@dataclass(frozen=True)
class ZoneEntry:
    """A person's visit of a zone began at ``time_us`` (the first frame found inside)."""

    global_id: int
    zone_id: int
    time_us: int
    staff: bool = False


@dataclass(frozen=True)
class DwellRecord:
    """A finished zone visit: from the entry frame to the last frame found inside."""

    global_id: int
    zone_id: int
    enter_us: int
    exit_us: int
    staff: bool = False  # the person was bound to an employee at some time of their track up to the exit

    @property
    def dwell_s(self) -> float:
        """Visit length in seconds."""
        return (self.exit_us - self.enter_us) / 1e6


@dataclass(frozen=True)
class FlowTransition:
    """A person entered ``to_zone_id``; ``from_zone_id`` is their previous entry (None: none)."""

    global_id: int
    from_zone_id: int | None
    to_zone_id: int
    time_us: int
    staff: bool = False


@dataclass(frozen=True)
class DistancingViolation:
    """Two persons closer than D for at least T. ``end_us`` is None while it lasts."""

    person_a: int
    person_b: int
    start_us: int
    last_close_us: int
    end_us: int | None
    min_distance_m: float

    @property
    def duration_s(self) -> float:
        """From the first to the last frame the pair was closer than D."""
        return (self.last_close_us - self.start_us) / 1e6


@dataclass(frozen=True)
class AccessAlert:
    """One event of an access-control incident, carrying the incident's whole state at ``time_us``.

    An incident is one unauthorised person's approach to or entry into one restricted zone: it opens at the
    first frame the warning or alarm condition holds, escalates once (``kind`` warning -> alarm, never back),
    is re-reported while it lasts and closes ``alert_close_after_s`` after the condition last held (``closed_us``
    = that last frame). ``global_id`` is the person now; a new global id first seen near where the person left
    the floor continues the incident (``alert_rejoin_m``). ``(first_global_id, zone_id, opened_us)`` is its key.
    ``employee_id``/``employee_name`` are who the person was taken for when the incident opened (filled in if
    they are bound only later, never replaced); ``identity_certain`` turns False when the binding changed
    during the incident or the identity feed doubts it. ``x_m``/``y_m``/``distance_m`` are the latest; a zone's
    ``distance_m`` is 0 inside. ``camera_ids`` are every camera that saw the person while the incident lasted.
    """

    phase: IncidentPhase
    kind: AlertKind
    global_id: int
    first_global_id: int
    zone_id: int
    zone_name: str
    employee_id: int | None
    employee_name: str | None
    identity_certain: bool
    level: int
    required_level: int
    distance_m: float
    x_m: float
    y_m: float
    camera_ids: tuple[int, ...]
    opened_us: int
    alarm_us: int | None
    closed_us: int | None
    time_us: int
    message: str


@dataclass(frozen=True)
class HeatDelta:
    """Heat-map contributions of one update: one row per person counted (cells may repeat).

    ``cell_index`` is the flat grid index, ``person_s`` the seconds added, ``displacement_m`` the person's
    velocity times those seconds (the movement direction field). ``outside_person_s`` sums the seconds of
    persons outside the grid.
    """

    cell_index: IntArray
    person_s: FloatArray
    displacement_m: FloatArray
    outside_person_s: float

    @property
    def total_person_s(self) -> float:
        """Seconds added inside the grid."""
        return float(self.person_s.sum())


@dataclass(frozen=True)
class HeatmapBucket:
    """Heat-map rows of one closed time bucket: non-zero cells only, ready to store."""

    bucket_start_us: int
    bucket_s: int
    cell_index: IntArray
    person_s: FloatArray
    displacement_m: FloatArray


@dataclass(frozen=True)
class LineCrossing:
    """A person crossed counting line ``line_id`` (counted at ``time_us``, the frame the crossing completed);
    ``staff`` when the person was bound to an employee then."""

    line_id: int
    global_id: int
    direction: CrossingDirection
    time_us: int
    staff: bool = False
    entrance: bool = False  # the line is an entrance: an entry through it is a visit


@dataclass(frozen=True)
class QueueVisit:
    """A visitor's wait in queue ``zone_id``: joined, reached service (None: abandoned), left the queue zone."""

    zone_id: int
    global_id: int
    joined_us: int
    service_us: int | None
    left_us: int

    @property
    def wait_s(self) -> float | None:
        """Waiting time, join to service; None when abandoned."""
        return None if self.service_us is None else (self.service_us - self.joined_us) / 1e6


@dataclass(frozen=True)
class QueueStatus:
    """A queue now: its length (visitors), the predicted wait of a newcomer (s; None: not known yet) and whether
    its "open another till" alert is on."""

    zone_id: int
    length: int
    predicted_wait_s: float | None
    alerting: bool


@dataclass(frozen=True)
class QueueAlert:
    """The "open another till" alert of queue ``zone_id`` opened (``open``) or closed. ``stopped``: closed because
    the site's analytics stopped while it was open (:meth:`SiteAnalytics.flush`), not because the queue shrank."""

    zone_id: int
    open: bool
    length: int
    predicted_wait_s: float | None
    time_us: int
    stopped: bool = False


@dataclass(frozen=True)
class CapacityEvent:
    """The site's occupancy went above its capacity (``over``) or came back to it or below. ``stopped``: not over
    any more because the site's analytics stopped while it was (:meth:`SiteAnalytics.flush`), not a count."""

    over: bool
    occupancy: int
    capacity: int
    time_us: int
    stopped: bool = False


_EMPTY_INT = np.zeros(0, dtype=np.int64)
_EMPTY_FLOAT = np.zeros(0, dtype=np.float64)


@dataclass(frozen=True)
class AnalyticsUpdate:
    """Everything one SiteAnalytics.update produced. Event lists are usually empty.

    ``zone_ids`` orders the columns of ``in_zone``; ``in_zone[i, z]`` is True when person ``global_ids[i]``
    has an open visit of zone ``zone_ids[z]`` (this is what the zone occupancy counts).
    """

    site_id: int
    time_us: int
    global_ids: IntArray
    zone_ids: IntArray
    in_zone: BoolArray
    site_occupancy: int
    zone_occupancy: Mapping[int, int]
    entries: Sequence[ZoneEntry] = ()
    dwell: Sequence[DwellRecord] = ()
    transitions: Sequence[FlowTransition] = ()
    heat: HeatDelta = field(
        default_factory=lambda: HeatDelta(_EMPTY_INT, _EMPTY_FLOAT, np.zeros((0, 2)), 0.0)
    )
    heat_buckets: Sequence[HeatmapBucket] = ()
    violations_started: Sequence[DistancingViolation] = ()
    violations_updated: Sequence[DistancingViolation] = ()
    violations_ended: Sequence[DistancingViolation] = ()
    contacts_per_person: Mapping[int, int] = field(default_factory=dict)
    alerts: Sequence[AccessAlert] = ()
    crossings: Sequence[LineCrossing] = ()
    # Occupancy counted at the entrance lines (entries - exits since the last closing time, never below 0); None
    # when the site has no entrance line.
    counted_occupancy: int | None = None
    capacity_events: Sequence[CapacityEvent] = ()
    # The persons of the frame who are staff: bound to an employee (badge or manual binding) now or earlier in
    # their track. Visitor KPIs leave them out (docs/kpis.md).
    staff_ids: frozenset[int] = frozenset()
    # The persons of the frame who stopped being staff at it: their binding was revoked (``PersonIdentity.revoked``).
    unstaffed_ids: frozenset[int] = frozenset()
    queues: Sequence[QueueStatus] = ()
    queue_visits: Sequence[QueueVisit] = ()
    queue_alerts: Sequence[QueueAlert] = ()

    def zone_persons(self) -> dict[int, tuple[int, ...]]:
        """Zone id -> the global ids of the persons in it."""
        ids = self.global_ids.tolist()
        return {
            int(zone_id): tuple(ids[i] for i in np.flatnonzero(self.in_zone[:, z]).tolist())
            for z, zone_id in enumerate(self.zone_ids.tolist())
        }
