"""DoorCounter: direction-aware counting lines, the occupancy counted at the entrances, and capacity.

Definitions (per fused person, so a door seen by several cameras counts each person once; per counting line, a
polyline whose *in* side is the left of its first-to-last direction, see :class:`CountingLine`):

* The counter follows each person's **door position**: their fused position less their fused velocity times
  ``_STOP_LEAD_S`` (0.25 s). The fusion's constant-velocity model carries a person who stops on past where they
  stand while its velocity decays (0.4 m past a stop 0.15 m beyond the line, for 0.7 s, in the back-and-forth
  family); the door position takes that lead back (by about 0.25 m per m/s of fused velocity) and is the fused
  position for a person standing (zero velocity) or walking at a constant pace (then 0.25 s behind).
* A person's **side** of a line is committed when their door position has been at least ``hysteresis_m`` from
  the line (distance to the nearest point of the polyline) on the same side, the left (in) or the right (out),
  for at least ``commit_s`` of observations: held from the first *observed* frame beyond the band (one where
  the person's ``FusedFrame.last_seen_us`` advanced) to an observed frame ``commit_s`` later. Positions the
  fusion extrapolated while the person was unseen neither start nor end nor complete a hold (an extrapolation
  runs on at the last velocity: past a stop, to 0.76 m past the line in 0.3 s unseen). Positions closer than that
  (the band around the line) commit nothing: the band in space and in time absorbs position noise at the
  door.
* Each step of the person between consecutive frames that passes through a segment of the line adds +1 (right to
  left) or -1 (left to right) to their *net passages* of the line.
* A **crossing** counts at the frame the person commits to a side different from their previous committed side
  (or commits for the first time) while their net passages since that previous commitment point to that side:
  in (``LineCrossing`` direction in) or out. Committing resets the net passages. So a person who steps into the
  band and back (back-and-forth at the door) counts nothing; one who goes through and comes back counts one in
  and one out; one who walks around the end of the line counts nothing (no net passage); people crossing side
  by side count each (each is a fused person).
* A person who leaves the floor (the fusion ends them) within the band on the side their net passages point to,
  having not yet gone ``hysteresis_m`` past it, counts that crossing at their last frame (a door at the edge of
  the cameras' view). At their end the door position catches up with their last fused position (the step from
  one to the other is a passage): they ended where the fusion last placed them.
* **Only what was observed counts** at two ends: when the stream stops (``SiteAnalytics.flush``: the persons
  still on the floor did not leave it) and for a person followed for less than the line's ``commit_s`` (their
  first frame to their latest observation; a successor at the door inherits their predecessor's start). There
  the positions the fusion extrapolated after the person's latest observation are dropped: the person ends where
  they were last observed (a person walking out, last seen 0.07 m inside the line as the cameras stopped, whom
  the fusion's last frames carried 0.1 m past it, counts no exit; a false track seen in one frame and
  extrapolated 1 s across the line counts nothing). A door counter counts crossings it saw, not predicted ones.
  (A successor still takes over from where the fusion last placed them, with the passages made since.)
* **Back with the same id**: a person missing from a frame (the analytics end them) who is back in a later frame
  with the same global id within ``handover_s`` takes their own door state back (side, passages, last
  position): a crossing counted at their end is not counted again, whether or not they were in the band.
* **Handover at the door** (the fusion replacing a person's id there): a person who appears (their first frame)
  within the band of a line, within the line's ``handover_s`` and ``handover_m`` of where a person who left the
  floor in that band was last seen, takes over the nearest such one: their committed sides, net passages (after
  any crossing their end counted, see above) and last position, so the step from there is a passage, and their
  staff mark. So a person whose id changes mid-crossing counts once, on the side they end up on; one whose id
  changes after their crossing counted is not counted again; a person appearing in a band with nobody ended near
  counts only the passages they make themselves.
* **Reported past an entrance line** (the fusion reports a person once confirmed, after their first observation,
  ``FusedFrame.first_seen_us``): a person who appears (not a handover) in the band of an entrance line on its in
  side and first commits to the in side without a passage counts in when going back from where they appeared, at
  the speed they moved away from the line since, for the time from their first observation to their first frame
  (at most ``_BIRTH_LAG_MAX_S``), puts them on the out side. Only inwards: people come onto the floor from
  outside; a new id past the line going out is a replaced id, not a late confirmation.
* ``staff``: the person was bound to an employee (badge or manual binding) at the crossing, or took over (above)
  one who was.
* **Counted occupancy** (when the site has entrance lines): entries minus exits through entrance lines, never
  below 0 (an exit that would take it below 0 leaves it at 0), reset to 0 at the site's closing time
  (``closing_time_s`` after local midnight in ``timezone``: the drift of a day's miscounts ends with the day). It
  counts everyone, staff included (it is the figure a capacity is about).
* **Capacity**: the site is over capacity while its occupancy (counted when it has entrance lines, otherwise the
  fused live occupancy) is above ``capacity``; a ``CapacityEvent`` reports each change.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from server.analytics.geometry import BoolArray, FloatArray, IntArray
from server.analytics.rows import grown
from server.analytics.types import (
    AnalyticsConfig,
    CapacityEvent,
    CountingLine,
    CrossingDirection,
    LineCrossing,
)

logger = logging.getLogger(__name__)

Int8Array = npt.NDArray[np.int8]

# The longest time between a person's first observation and their first fused frame that "confirmed past the
# line" goes back over (a track re-born from an old edge track can have a much older first observation).
_BIRTH_LAG_MAX_S = 1.5

# How far ahead of a person who stops the fused position runs, per m/s of the fused velocity (seconds): the
# fusion's constant-velocity (alpha-beta) model keeps carrying them on while its velocity decays. A stationary
# estimate p with velocity v updated by an observation z (gain alpha, every dt) holds p - z = v (1 - alpha) dt /
# alpha: 0.23 s at the fusion's alpha 0.3 and 10 frames/s. The band test holds a side from p - v x this.
_STOP_LEAD_S = 0.25


@dataclass
class _Ended:
    """A person who left the floor: what they take over if they come back with the same id, or (ended in the
    band of a line) what a successor appearing there takes over."""

    global_id: int
    t_us: int
    xy: FloatArray  # their last position
    side: Int8Array  # per line, after the crossing counted at their end (if any)
    net: IntArray
    in_band: BoolArray  # per line: their last position was in its band
    staff: bool
    first_us: int  # their first frame (or their predecessor's, taken over): how long they were followed


def _cross(ax: FloatArray, ay: FloatArray, bx: FloatArray, by: FloatArray) -> FloatArray:
    result: FloatArray = ax * by - ay * bx
    return result


class _LineGeometry:
    """One counting line's segments as arrays."""

    def __init__(self, line: CountingLine) -> None:
        points = line.points_array()
        self.commit_us = int(line.commit_s * 1e6)
        self.a = points[:-1]
        self.b = points[1:]
        self.ab = self.b - self.a
        self.length2 = (self.ab * self.ab).sum(axis=1)
        self.hysteresis_m = line.hysteresis_m

    def signed_distance(self, xy: FloatArray) -> FloatArray:
        """Per point: distance to the polyline, positive on its in (left) side, negative on the out side."""
        apx = xy[:, 0:1] - self.a[:, 0]
        apy = xy[:, 1:2] - self.a[:, 1]
        u = np.clip((apx * self.ab[:, 0] + apy * self.ab[:, 1]) / self.length2, 0.0, 1.0)
        dx = apx - u * self.ab[:, 0]
        dy = apy - u * self.ab[:, 1]
        distance = np.hypot(dx, dy)
        nearest = np.argmin(distance, axis=1)
        index = np.arange(xy.shape[0])
        side = np.sign(
            _cross(self.ab[nearest, 0], self.ab[nearest, 1], apx[index, nearest], apy[index, nearest])
        )
        result: FloatArray = distance[index, nearest] * side
        return result

    def passages(self, before: FloatArray, after: FloatArray) -> IntArray:
        """Per step before -> after: +1 per segment passed from the right to the left, -1 the other way."""
        ax, ay = self.a[:, 0], self.a[:, 1]
        bx, by = self.b[:, 0], self.b[:, 1]
        o1 = _cross(self.ab[:, 0], self.ab[:, 1], before[:, 0:1] - ax, before[:, 1:2] - ay)
        o2 = _cross(self.ab[:, 0], self.ab[:, 1], after[:, 0:1] - ax, after[:, 1:2] - ay)
        stepx = (after[:, 0] - before[:, 0])[:, None]
        stepy = (after[:, 1] - before[:, 1])[:, None]
        o3 = _cross(stepx, stepy, ax - before[:, 0:1], ay - before[:, 1:2])
        o4 = _cross(stepx, stepy, bx - before[:, 0:1], by - before[:, 1:2])
        through = ((o1 >= 0) != (o2 >= 0)) & ((o3 >= 0) != (o4 >= 0))
        result: IntArray = np.where(through, np.where(o2 >= 0, 1, -1), 0).sum(axis=1).astype(np.int64)
        return result


class DoorCounter:
    """Per person row and line: committed side, net passages, last side seen; the counted occupancy."""

    def __init__(self, config: AnalyticsConfig) -> None:
        self.configure(config)
        count = len(config.lines)
        self._prev_xy: FloatArray = np.zeros((0, 2))  # the door position (see _STOP_LEAD_S)
        self._fused_xy: FloatArray = np.zeros((0, 2))  # the fused position
        self._has_prev: BoolArray = np.zeros(0, dtype=np.bool_)
        self._last_t_us: IntArray = np.zeros(0, dtype=np.int64)
        # The person's latest observation the counter has taken (FusedFrame.last_seen_us): the commit clock runs
        # on observations.
        self._seen_us: IntArray = np.zeros(0, dtype=np.int64)
        # When the counter first had them (or the predecessor they took over at the door).
        self._first_us: IntArray = np.zeros(0, dtype=np.int64)
        # As of their latest observed frame: the door position, the fused position and the net passages (what a
        # stop of the stream, or the end of a person followed too briefly, goes back to: see close_rows).
        self._seen_door_xy: FloatArray = np.zeros((0, 2))
        self._seen_fused_xy: FloatArray = np.zeros((0, 2))
        self._seen_net: IntArray = np.zeros((0, count), dtype=np.int64)
        self._staff: BoolArray = np.zeros(0, dtype=np.bool_)
        self._side: Int8Array = np.zeros((0, count), dtype=np.int8)
        self._net: IntArray = np.zeros((0, count), dtype=np.int64)
        self._last_sign: Int8Array = np.zeros((0, count), dtype=np.int8)
        # Beyond the band on which side (0: in the band) since when: a side commits once held commit_s.
        self._beyond: Int8Array = np.zeros((0, count), dtype=np.int8)
        self._beyond_since_us: IntArray = np.zeros((0, count), dtype=np.int64)
        # Staff taken over from a predecessor at the door (see _take_over).
        self._staff_before: BoolArray = np.zeros(0, dtype=np.bool_)
        # Born in the band (see "confirmed past the line"): per line, the signed distance at the person's first
        # frame (NaN: not born in the band, taken over, or committed since); when, and how long after their
        # first observation.
        self._born_signed: FloatArray = np.zeros((0, count))
        self._born_us: IntArray = np.zeros(0, dtype=np.int64)
        self._born_lag_us: IntArray = np.zeros(0, dtype=np.int64)
        self._ended: list[_Ended] = []
        self.counted_occupancy = 0
        self._next_reset_us: int | None = None
        self._over_capacity = False

    def configure(self, config: AnalyticsConfig) -> None:
        self.lines = config.lines
        self._geometry = [_LineGeometry(line) for line in config.lines]
        self._entrance = [line.entrance for line in config.lines]
        self.has_entrances = any(self._entrance)
        self._capacity = config.capacity
        self._closing_time_s = config.closing_time_s
        self._zone = ZoneInfo(config.timezone)

    # RowColumns
    def grow(self, capacity: int) -> None:
        self._prev_xy = grown(self._prev_xy, capacity, 0.0)
        self._fused_xy = grown(self._fused_xy, capacity, 0.0)
        self._has_prev = grown(self._has_prev, capacity, False)
        self._last_t_us = grown(self._last_t_us, capacity, 0)
        self._seen_us = grown(self._seen_us, capacity, 0)
        self._first_us = grown(self._first_us, capacity, 0)
        self._seen_door_xy = grown(self._seen_door_xy, capacity, 0.0)
        self._seen_fused_xy = grown(self._seen_fused_xy, capacity, 0.0)
        self._seen_net = grown(self._seen_net, capacity, 0)
        self._staff = grown(self._staff, capacity, False)
        self._side = grown(self._side, capacity, 0)
        self._net = grown(self._net, capacity, 0)
        self._last_sign = grown(self._last_sign, capacity, 0)
        self._beyond = grown(self._beyond, capacity, 0)
        self._beyond_since_us = grown(self._beyond_since_us, capacity, 0)
        self._staff_before = grown(self._staff_before, capacity, False)
        self._born_signed = grown(self._born_signed, capacity, np.nan)
        self._born_us = grown(self._born_us, capacity, 0)
        self._born_lag_us = grown(self._born_lag_us, capacity, 0)

    def reset_row(self, row: int) -> None:
        self._has_prev[row] = False
        self._seen_us[row] = 0
        self._staff[row] = False
        self._staff_before[row] = False
        self._side[row] = 0
        self._net[row] = 0
        self._seen_net[row] = 0
        self._last_sign[row] = 0
        self._beyond[row] = 0
        self._born_signed[row] = np.nan

    def update(
        self,
        t_us: int,
        xy: FloatArray,
        rows: IntArray,
        gid_list: list[int],
        staff: BoolArray,
        crossings: list[LineCrossing],
        first_seen_us: IntArray | None = None,
        seen_us: IntArray | None = None,
        velocities: FloatArray | None = None,
    ) -> None:
        """One frame's positions (``staff``: who is staff; ``first_seen_us``: per person, their first
        observation, see ``FusedFrame.first_seen_us``; ``seen_us``: per person, their latest observation, see
        ``FusedFrame.last_seen_us``, None: everyone observed now): passages accumulated, sides committed,
        crossings counted."""
        self._reset_if_closed(t_us)
        if not self._geometry or rows.size == 0:
            return
        self._fused_xy[rows] = xy
        fused = xy
        if velocities is not None:
            xy = xy - _STOP_LEAD_S * velocities
        has_prev = self._has_prev[rows]
        seen = np.full(rows.size, t_us, dtype=np.int64) if seen_us is None else np.minimum(seen_us, t_us)
        # Observed since the counter's previous frame of them (a first frame counts as observed).
        observed = ~has_prev | (seen > self._seen_us[rows])
        if self._ended:
            self._take_over(t_us, xy, rows, gid_list, ~has_prev)
        born = ~self._has_prev[rows]
        if born.any():
            self._first_us[rows[born]] = t_us
            self._note_births(t_us, xy, rows, born, first_seen_us)
        has_prev = self._has_prev[rows]
        staff = staff | self._staff_before[rows]
        self._staff[rows] = staff
        before = np.where(has_prev[:, None], self._prev_xy[rows], xy)
        for line_index, geometry in enumerate(self._geometry):
            net = self._net[rows, line_index] + geometry.passages(before, xy)
            signed = geometry.signed_distance(xy)
            sign = np.sign(signed).astype(np.int8)
            # Beyond the band: from observed positions only, held on the clock of the observations (a position
            # the fusion extrapolated while the person was unseen neither starts nor ends a hold).
            previous = self._beyond[rows, line_index]
            beyond = np.where(
                observed, np.where(np.abs(signed) >= geometry.hysteresis_m, sign, 0), previous
            ).astype(np.int8)
            since = np.where(beyond != previous, seen, self._beyond_since_us[rows, line_index])
            self._beyond[rows, line_index] = beyond
            self._beyond_since_us[rows, line_index] = since
            committed = observed & (beyond != 0) & (seen - since >= geometry.commit_us)
            side = self._side[rows, line_index]
            net = net + self._came_through(
                t_us, rows, line_index, committed & (side == 0) & (net == 0), signed
            )
            counted = committed & (beyond != side) & (net * beyond > 0)
            for i in np.flatnonzero(counted).tolist():
                self._count(line_index, gid_list[i], int(beyond[i]), t_us, bool(staff[i]), crossings)
            self._side[rows, line_index] = np.where(committed, beyond, side)
            self._net[rows, line_index] = np.where(committed, 0, net)
            self._last_sign[rows, line_index] = sign
        self._prev_xy[rows] = xy
        self._has_prev[rows] = True
        self._last_t_us[rows] = t_us
        self._seen_us[rows] = np.maximum(self._seen_us[rows], seen)
        observed_rows = rows[observed]
        self._seen_door_xy[observed_rows] = xy[observed]
        self._seen_fused_xy[observed_rows] = fused[observed]
        self._seen_net[observed_rows] = self._net[observed_rows]

    def _note_births(
        self, t_us: int, xy: FloatArray, rows: IntArray, born: BoolArray, first_seen_us: IntArray | None
    ) -> None:
        """Persons new in this frame (not taken over): where in each line's band they appeared, and how long
        after their first observation (at most ``_BIRTH_LAG_MAX_S``)."""
        index = np.flatnonzero(born)
        born_rows = rows[index]
        self._born_us[born_rows] = t_us
        lag = np.zeros(index.size, dtype=np.int64)
        if first_seen_us is not None:
            lag = np.clip(t_us - first_seen_us[index], 0, int(_BIRTH_LAG_MAX_S * 1e6))
        self._born_lag_us[born_rows] = lag
        for line_index, geometry in enumerate(self._geometry):
            signed = geometry.signed_distance(xy[index])
            self._born_signed[born_rows, line_index] = np.where(
                np.abs(signed) < geometry.hysteresis_m, signed, np.nan
            )

    def _came_through(
        self, t_us: int, rows: IntArray, line_index: int, first_commit: BoolArray, signed: FloatArray
    ) -> IntArray:
        """Per person: the passage in (+1) of one born in the band of an entrance line already past it who now
        first commits to its in side, when going back from where they appeared, at the speed they have moved away
        from the line since, for the time the fusion took to report them, puts them outside (they came in before
        the fusion reported them); else 0. Their birth is forgotten at their first commitment."""
        result: IntArray = np.zeros(rows.size, dtype=np.int64)
        born_signed = self._born_signed[rows, line_index]
        candidates = first_commit & np.isfinite(born_signed)
        self._born_signed[rows[first_commit], line_index] = np.nan
        for i in np.flatnonzero(candidates).tolist():
            row = int(rows[i])
            at_birth, now = float(born_signed[i]), float(signed[i])
            if at_birth <= 0 or now <= 0 or not self._entrance[line_index]:
                continue
            elapsed_s = (t_us - int(self._born_us[row])) / 1e6
            speed = (abs(now) - abs(at_birth)) / elapsed_s if elapsed_s > 0 else 0.0
            if speed > 0 and speed * int(self._born_lag_us[row]) / 1e6 > abs(at_birth):
                result[i] = 1
        return result

    def close_rows(
        self, rows: IntArray, gids: IntArray, crossings: list[LineCrossing], *, stopped: bool = False
    ) -> None:
        """The persons of `rows` left the floor (``stopped``: the stream stopped, they were still there): a
        crossing they were completing in the band counts now; one who left in a band is kept for a successor to
        take over (see the module docstring). Where the stream stopped, and for a person the counter followed for
        less than a line's ``commit_s`` of observations, only what was observed counts: the positions the fusion
        extrapolated after their latest observation count nothing (a successor still takes over from where the
        fusion last placed them, with the passages made since)."""
        if not self._geometry:
            return
        shortest_commit_us = min(geometry.commit_us for geometry in self._geometry)
        for row, gid in zip(rows.tolist(), gids.tolist(), strict=True):
            if not self._has_prev[row]:
                continue
            extrapolated_xy = self._fused_xy[row].copy()
            observed_only = stopped or int(self._seen_us[row]) - int(self._first_us[row]) < shortest_commit_us
            if observed_only:
                # Back to their latest observation.
                self._prev_xy[row] = self._seen_door_xy[row]
                self._fused_xy[row] = self._seen_fused_xy[row]
                self._net[row] = self._seen_net[row]
            # The person ends where the fusion last placed them: the door position (see _STOP_LEAD_S) catches up.
            door, fused = self._prev_xy[row : row + 1], self._fused_xy[row : row + 1]
            for line_index, geometry in enumerate(self._geometry):
                self._net[row, line_index] += int(geometry.passages(door, fused)[0])
                self._last_sign[row, line_index] = np.sign(geometry.signed_distance(fused)[0])
            self._prev_xy[row] = fused[0]
            for line_index in range(len(self._geometry)):
                net = int(self._net[row, line_index])
                direction = int(np.sign(net))
                if (
                    net
                    and direction == self._last_sign[row, line_index]
                    and direction != self._side[row, line_index]
                ):
                    self._count(
                        line_index,
                        gid,
                        direction,
                        int(self._last_t_us[row]),
                        bool(self._staff[row]),
                        crossings,
                    )
                    self._side[row, line_index] = direction
                    self._net[row, line_index] = 0
            if observed_only:
                observed, extrapolated = self._prev_xy[row : row + 1], extrapolated_xy[None, :]
                for line_index, geometry in enumerate(self._geometry):
                    self._net[row, line_index] += int(geometry.passages(observed, extrapolated)[0])
                self._prev_xy[row] = extrapolated_xy
            if not stopped:
                self._keep_ended(row, gid)

    def _keep_ended(self, row: int, gid: int) -> None:
        xy = self._prev_xy[row].copy()
        in_band = np.array(
            [abs(float(g.signed_distance(xy[None, :])[0])) < g.hysteresis_m for g in self._geometry]
        )
        self._ended.append(
            _Ended(
                gid,
                int(self._last_t_us[row]),
                xy,
                self._side[row].copy(),
                self._net[row].copy(),
                in_band,
                bool(self._staff[row]),
                int(self._first_us[row]),
            )
        )

    def _take_over(
        self, t_us: int, xy: FloatArray, rows: IntArray, gid_list: list[int], fresh: BoolArray
    ) -> None:
        """Persons new in this frame who left it with the same id (within the lines' handover_s) take their own
        state back; others who appear in a line's band near where one ended in it (within the line's handover_s
        and handover_m) take over the nearest such one: their side, passages and last position (the step from
        there counts as a passage) and staff."""
        window_us = max(int(line.handover_s * 1e6) for line in self.lines)
        self._ended = [e for e in self._ended if t_us - e.t_us <= window_us]
        for i in np.flatnonzero(fresh).tolist():
            if not self._ended:
                return
            same = [k for k, ended in enumerate(self._ended) if ended.global_id == gid_list[i]]
            if same:
                self._restore(int(rows[i]), self._ended.pop(same[-1]))
                logger.debug("person %d back: their door state taken back", gid_list[i])
                continue
            best: tuple[float, int] | None = None
            for k, ended in enumerate(self._ended):
                distance = float(np.hypot(*(xy[i] - ended.xy)))
                for line_index, (line, geometry) in enumerate(zip(self.lines, self._geometry, strict=True)):
                    if (
                        ended.in_band[line_index]
                        and t_us - ended.t_us <= int(line.handover_s * 1e6)
                        and distance <= line.handover_m
                        and abs(float(geometry.signed_distance(xy[i : i + 1])[0])) < geometry.hysteresis_m
                        and (best is None or distance < best[0])
                    ):
                        best = (distance, k)
            if best is None:
                continue
            self._restore(int(rows[i]), self._ended.pop(best[1]))
            logger.debug("door state of a person who ended %.2f m away taken over", best[0])

    def _restore(self, row: int, ended: _Ended) -> None:
        self._side[row] = ended.side
        self._net[row] = ended.net
        self._prev_xy[row] = ended.xy
        self._has_prev[row] = True
        self._staff_before[row] = ended.staff
        self._first_us[row] = ended.first_us

    def unmark_staff(self, rows: IntArray) -> None:
        """The persons of `rows` are no staff any more (their binding was revoked): nor is what they took over."""
        self._staff[rows] = False
        self._staff_before[rows] = False

    def capacity_check(self, t_us: int, fused_occupancy: int) -> list[CapacityEvent]:
        """A CapacityEvent when the site went over its capacity or came back under it at this frame."""
        if self._capacity is None:
            return []
        occupancy = self.counted_occupancy if self.has_entrances else fused_occupancy
        over = occupancy > self._capacity
        if over == self._over_capacity:
            return []
        self._over_capacity = over
        logger.info(
            "site %s capacity: occupancy %d, capacity %d",
            "over" if over else "back within",
            occupancy,
            self._capacity,
        )
        return [CapacityEvent(over=over, occupancy=occupancy, capacity=self._capacity, time_us=t_us)]

    def reconfigure(self, config: AnalyticsConfig) -> None:
        """Take a changed line set: a line that persists (same ``line_id``) keeps each person's side and
        passages unless its points changed; a new or redrawn one starts from nothing (no count until a person
        crosses it)."""
        old = {line.line_id: (column, line) for column, line in enumerate(self.lines)}
        capacity = self._side.shape[0]
        shape = (capacity, len(config.lines))
        side = np.zeros(shape, np.int8)
        net = np.zeros(shape, np.int64)
        seen_net = np.zeros(shape, np.int64)
        last_sign = np.zeros(shape, np.int8)
        beyond = np.zeros(shape, np.int8)
        since = np.zeros(shape, np.int64)
        born = np.full(shape, np.nan)
        for column, line in enumerate(config.lines):
            found = old.get(line.line_id)
            if found is not None and found[1].points_m == line.points_m:
                side[:, column] = self._side[:, found[0]]
                net[:, column] = self._net[:, found[0]]
                seen_net[:, column] = self._seen_net[:, found[0]]
                last_sign[:, column] = self._last_sign[:, found[0]]
                beyond[:, column] = self._beyond[:, found[0]]
                since[:, column] = self._beyond_since_us[:, found[0]]
                born[:, column] = self._born_signed[:, found[0]]
        self._side, self._net, self._last_sign = side, net, last_sign
        self._seen_net = seen_net
        self._ended = []
        self._beyond, self._beyond_since_us = beyond, since
        self._born_signed = born
        closing_changed = (config.closing_time_s, config.timezone) != (self._closing_time_s, self._zone.key)
        self.configure(config)
        if closing_changed:
            self._next_reset_us = None

    def _count(
        self, line_index: int, gid: int, sign: int, t_us: int, staff: bool, crossings: list[LineCrossing]
    ) -> None:
        direction = CrossingDirection.IN if sign > 0 else CrossingDirection.OUT
        line = self.lines[line_index]
        crossings.append(LineCrossing(line.line_id, gid, direction, t_us, staff, line.entrance))
        if self._entrance[line_index]:
            self.counted_occupancy = max(0, self.counted_occupancy + (1 if sign > 0 else -1))

    def _reset_if_closed(self, t_us: int) -> None:
        if self._closing_time_s is None:
            return
        if self._next_reset_us is not None and t_us >= self._next_reset_us:
            if self.counted_occupancy:
                logger.info("counted occupancy %d reset to 0 at closing time", self.counted_occupancy)
            self.counted_occupancy = 0
            self._next_reset_us = None
        if self._next_reset_us is None:
            self._next_reset_us = next_closing_us(t_us, self._closing_time_s, self._zone)


# The inventory's zone kinds that are counting lines (their `polygon` is a polyline), and which are entrances.
LINE_KIND_NAMES = frozenset({"door", "line"})


def counting_lines_from_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[CountingLine, ...]:
    """The counting lines among zone rows (``id``, ``name``, ``kind``, ``polygon``): kinds door and line."""
    return tuple(
        CountingLine(
            line_id=int(row["id"]),
            name=str(row["name"]),
            points_m=tuple((float(x), float(y)) for x, y in row["polygon"]),
            entrance=str(row["kind"]) == "door",
        )
        for row in rows
        if str(row["kind"]) in LINE_KIND_NAMES
    )


def next_closing_us(t_us: int, closing_time_s: int, zone: ZoneInfo) -> int:
    """The first closing time (``closing_time_s`` after local midnight, wall clock) strictly after `t_us`."""
    local = datetime.fromtimestamp(t_us / 1e6, zone)
    at = time(closing_time_s // 3600, closing_time_s // 60 % 60, closing_time_s % 60)
    day = local.date()
    for offset in range(3):
        candidate = datetime.combine(day + timedelta(days=offset), at, zone)
        candidate_us = int(candidate.timestamp() * 1_000_000)
        if candidate_us > t_us:
            return candidate_us
    raise AssertionError("unreachable: a closing time follows within two days")
