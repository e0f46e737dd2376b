"""Simulated people: who they are and where they walk (piecewise-linear paths with pauses)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from server.analytics.geometry import FloatArray
from server.analytics.types import PersonIdentity, Zone, ZoneKind
from simulation.layout import STOCK_ROOM_ZONE_ID, StoreLayout
from simulation.walls import path_length_m, route

EMPLOYEE_NAMES = ("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han", "Oh")


@dataclass(frozen=True)
class SimPerson:
    """One simulated person: identity and path. ``times_s``/``xy_m`` are the path's knots (linear in between);
    the person is in the store from ``times_s[0]`` to ``times_s[-1]``."""

    person_id: int
    identity: PersonIdentity
    group_id: int | None
    times_s: FloatArray
    xy_m: FloatArray

    @property
    def arrive_s(self) -> float:
        """Time the person appears at the entrance."""
        return float(self.times_s[0])

    @property
    def leave_s(self) -> float:
        """Time the person leaves through the entrance."""
        return float(self.times_s[-1])

    def positions(self, times_s: FloatArray) -> FloatArray:
        """(T, 2) positions at ``times_s``; NaN where the person is not in the store."""
        x = np.interp(times_s, self.times_s, self.xy_m[:, 0])
        y = np.interp(times_s, self.times_s, self.xy_m[:, 1])
        present = (times_s >= self.times_s[0]) & (times_s <= self.times_s[-1])
        result: FloatArray = np.where(present[:, None], np.stack([x, y], axis=1), np.nan)
        return result

    @property
    def authorised_for_stock_room(self) -> bool:
        """Level or explicit permission lets this person into the restricted zone."""
        from simulation.layout import STOCK_ROOM_LEVEL

        return (
            self.identity.level >= STOCK_ROOM_LEVEL or STOCK_ROOM_ZONE_ID in self.identity.permitted_zone_ids
        )


def _point_in_zone(rng: np.random.Generator, zone: Zone, margin_m: float) -> tuple[float, float]:
    polygon = np.array(zone.polygon_m)
    low = polygon.min(axis=0) + margin_m
    high = polygon.max(axis=0) - margin_m
    return float(rng.uniform(low[0], high[0])), float(rng.uniform(low[1], high[1]))


@dataclass
class Reservations:
    """Where and when people pause: (x, y, start_s, end_s, radius_m) per pause, so that two people never stand
    on the same spot (people keep at least ``clearance_m`` between their footprints)."""

    clearance_m: float = 0.6
    spots: list[tuple[float, float, float, float, float]] = field(default_factory=list)

    def conflict_m(self, x: float, y: float, start_s: float, end_s: float, radius_m: float) -> float:
        """How far (metres) the nearest overlapping pause intrudes into the clearance (<= 0: none)."""
        worst = 0.0
        for sx, sy, s0, s1, sr in self.spots:
            if s0 <= end_s and start_s <= s1:
                worst = max(worst, radius_m + sr + self.clearance_m - float(np.hypot(x - sx, y - sy)))
        return worst


def plan_path(
    rng: np.random.Generator,
    layout: StoreLayout,
    *,
    arrive_s: float,
    zone_sequence: list[Zone],
    speed_mps: float,
    pause_range_s: tuple[float, float],
    reservations: Reservations | None = None,
    footprint_m: float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Knots of a walk entrance -> each zone's interior point (pause there) -> entrance.

    With ``reservations``, each pause spot is the first of up to 40 random candidates whose footprint (radius
    ``footprint_m``: 0 for one person, the offset of the farthest member for a group) keeps clear of the other
    pauses at the same time (else the least conflicting one), and it is reserved. A walk that would cross one
    of the layout's walls outside an opening goes through the opening (:func:`simulation.walls.route`, the
    group's footprint clear of the jambs), at the same speed."""
    entrance = np.array(layout.entrance_xy_m) + np.array([0.0, rng.uniform(-1.2, 1.2)])
    points: list[FloatArray] = [entrance]
    times: list[float] = [arrive_s]

    def leg(end: FloatArray) -> tuple[list[FloatArray], float]:
        """The points on the way from the last knot to ``end``, and the walk's duration."""
        via = route(points[-1], end, layout.walls, footprint_m)
        return via, path_length_m([points[-1], *via, end]) / speed_mps

    def walk(via: list[FloatArray]) -> None:
        for point in via:
            times.append(times[-1] + float(np.hypot(*(point - points[-1]))) / speed_mps)
            points.append(point)

    for zone in zone_sequence:
        margin = 1.0 if zone.kind is ZoneKind.RESTRICTED else 0.9
        pause_s = float(rng.uniform(*pause_range_s))
        best: tuple[float, FloatArray, float, list[FloatArray]] | None = None
        for _ in range(40 if reservations is not None else 1):
            target = np.array(_point_in_zone(rng, zone, margin))
            via, walk_s = leg(target)
            arrive_at = times[-1] + walk_s
            conflict = (
                reservations.conflict_m(
                    float(target[0]), float(target[1]), arrive_at, arrive_at + pause_s, footprint_m
                )
                if reservations is not None
                else 0.0
            )
            if best is None or conflict < best[0]:
                best = (conflict, target, arrive_at, via)
            if conflict <= 0.0:
                break
        assert best is not None
        _, target, arrive_at, via = best
        walk(via)
        if reservations is not None:
            reservations.spots.append(
                (float(target[0]), float(target[1]), arrive_at, arrive_at + pause_s, footprint_m)
            )
        times.append(arrive_at)
        points.append(target)
        times.append(arrive_at + pause_s)
        points.append(target)
    exit_point = np.array(layout.entrance_xy_m) + np.array([0.0, rng.uniform(-1.2, 1.2)])
    via, walk_s = leg(exit_point)
    end_s = times[-1] + walk_s
    walk(via)
    times.append(end_s)
    points.append(exit_point)
    return np.array(times), np.array(points)
