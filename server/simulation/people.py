"""Simulated people: who they are and where they walk (piecewise-linear paths with pauses)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from server.analytics.geometry import FloatArray
from server.analytics.types import PersonIdentity, Zone, ZoneKind
from server.simulation.layout import STOCK_ROOM_ZONE_ID, StoreLayout

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
        from server.simulation.layout import STOCK_ROOM_LEVEL

        return (
            self.identity.level >= STOCK_ROOM_LEVEL or STOCK_ROOM_ZONE_ID in self.identity.permitted_zone_ids
        )


def _point_in_zone(rng: np.random.Generator, zone: Zone, margin_m: float) -> tuple[float, float]:
    polygon = np.array(zone.polygon_m)
    low = polygon.min(axis=0) + margin_m
    high = polygon.max(axis=0) - margin_m
    return float(rng.uniform(low[0], high[0])), float(rng.uniform(low[1], high[1]))


def plan_path(
    rng: np.random.Generator,
    layout: StoreLayout,
    *,
    arrive_s: float,
    zone_sequence: list[Zone],
    speed_mps: float,
    pause_range_s: tuple[float, float],
) -> tuple[FloatArray, FloatArray]:
    """Knots of a walk entrance -> each zone's interior point (pause there) -> entrance."""
    entrance = np.array(layout.entrance_xy_m) + np.array([0.0, rng.uniform(-1.2, 1.2)])
    points: list[FloatArray] = [entrance]
    times: list[float] = [arrive_s]
    for zone in zone_sequence:
        margin = 1.0 if zone.kind is ZoneKind.RESTRICTED else 0.9
        target = np.array(_point_in_zone(rng, zone, margin))
        distance = float(np.hypot(*(target - points[-1])))
        times.append(times[-1] + distance / speed_mps)
        points.append(target)
        times.append(times[-1] + float(rng.uniform(*pause_range_s)))
        points.append(target)
    exit_point = np.array(layout.entrance_xy_m) + np.array([0.0, rng.uniform(-1.2, 1.2)])
    times.append(times[-1] + float(np.hypot(*(exit_point - points[-1]))) / speed_mps)
    points.append(exit_point)
    return np.array(times), np.array(points)
