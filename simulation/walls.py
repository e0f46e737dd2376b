"""Walls with door openings, and the way a walking person takes through them.

A :class:`Wall` is a straight segment of the floor plan that people pass only through its openings. A walk
from one point to the next that would cross a wall elsewhere goes through the opening instead: to a point
``APPROACH_M`` in front of the opening, straight through it (perpendicular to the wall) and on from a point
``APPROACH_M`` behind it, as people walk through a door. The passage is where the straight walk would have
crossed, moved into the opening far enough that the person (and the members of their group, ``spread_m``
around them) keep ``JAMB_CLEARANCE_M`` from its jambs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from server.analytics.geometry import FloatArray

# How far before and after the opening a person lines up with it (more than a group's spread across the wall,
# so that every member passes between the two points).
APPROACH_M = 1.0
# A person's centre keeps this far from a jamb (a shoulder's width, half a person's 0.5 m footprint).
JAMB_CLEARANCE_M = 0.25


@dataclass(frozen=True)
class Wall:
    """A straight wall from ``start_m`` to ``end_m``; ``openings_m`` are (from, to) distances along it, in
    metres from ``start_m``, where people pass (doors)."""

    start_m: tuple[float, float]
    end_m: tuple[float, float]
    openings_m: tuple[tuple[float, float], ...] = ()

    @property
    def length_m(self) -> float:
        """Length of the wall."""
        return float(np.hypot(self.end_m[0] - self.start_m[0], self.end_m[1] - self.start_m[1]))

    def crossing_m(self, a: FloatArray, b: FloatArray) -> float | None:
        """Where (metres along the wall) the straight walk from ``a`` to ``b`` crosses the wall's line within
        its length, or None when it does not cross it (touching or ending on it is no crossing)."""
        p0 = np.array(self.start_m)
        direction = (np.array(self.end_m) - p0) / self.length_m
        normal = np.array([-direction[1], direction[0]])
        da = float(np.dot(a - p0, normal))
        db = float(np.dot(b - p0, normal))
        if da * db >= 0.0:
            return None
        point = a + (b - a) * (da / (da - db))
        along = float(np.dot(point - p0, direction))
        return along if 0.0 <= along <= self.length_m else None

    def in_opening(self, along_m: float, clearance_m: float = 0.0) -> bool:
        """The point ``along_m`` lies in an opening, at least ``clearance_m`` from its jambs."""
        return any(low + clearance_m <= along_m <= high - clearance_m for low, high in self.openings_m)

    def detour(self, a: FloatArray, b: FloatArray, spread_m: float = 0.0) -> list[FloatArray]:
        """The points a person walking from ``a`` to ``b`` passes in between to go through an opening (none
        when the walk does not cross the wall, or crosses it in an opening with room for them and their group,
        ``spread_m`` around them)."""
        along = self.crossing_m(a, b)
        clearance = JAMB_CLEARANCE_M + spread_m
        if along is None or self.in_opening(along, clearance):
            return []
        roomy = [(low, high) for low, high in self.openings_m if high - low >= 2 * clearance]
        if not roomy:
            raise ValueError(f"no opening of {self} lets a group {spread_m} m wide through")
        # The opening nearest to where the straight walk crossed, and the passage in it nearest to that point.
        passages = [float(np.clip(along, low + clearance, high - clearance)) for low, high in roomy]
        passage = min(passages, key=lambda p: abs(p - along))
        p0 = np.array(self.start_m)
        direction = (np.array(self.end_m) - p0) / self.length_m
        normal = np.array([-direction[1], direction[0]])
        door = p0 + direction * passage
        side = 1.0 if float(np.dot(a - p0, normal)) > 0 else -1.0
        return [door + normal * side * APPROACH_M, door - normal * side * APPROACH_M]


def route(a: FloatArray, b: FloatArray, walls: tuple[Wall, ...], spread_m: float = 0.0) -> list[FloatArray]:
    """The points between ``a`` and ``b`` of a walk that passes every wall through an opening ([]: straight)."""
    points = [a, b]
    for wall in walls:
        legs = [points[0]]
        for point in points[1:]:
            legs.extend(wall.detour(legs[-1], point, spread_m))
            legs.append(point)
        points = legs
    return points[1:-1]


def route_knots(
    times_s: FloatArray, xy_m: FloatArray, walls: tuple[Wall, ...], spread_m: float = 0.0
) -> tuple[FloatArray, FloatArray]:
    """A path's knots with the points of :func:`route` added where a leg would cross a wall outside its
    openings; each knot keeps its time and the added points share their leg's time by length (for paths
    whose timing is set by something else than the walk, as a queue's). Unchanged without walls."""
    if not walls:
        return times_s, xy_m
    times = [float(times_s[0])]
    points = [xy_m[0]]
    for t0, t1, a, b in zip(times_s[:-1], times_s[1:], xy_m[:-1], xy_m[1:], strict=True):
        via = route(a, b, walls, spread_m)
        total = path_length_m([a, *via, b])
        walked = 0.0
        previous = a
        for point in via:
            walked += float(np.hypot(*(point - previous)))
            times.append(float(t0) + (float(t1) - float(t0)) * walked / total)
            points.append(point)
            previous = point
        times.append(float(t1))
        points.append(b)
    return np.array(times), np.array(points)


def path_length_m(points: list[FloatArray]) -> float:
    """Length of the polyline through ``points``."""
    return float(sum(np.hypot(*(q - p)) for p, q in itertools.pairwise(points)))


def wall_breaches(wall: Wall, xy_m: FloatArray, clearance_m: float = 0.0) -> list[float]:
    """Where (metres along the wall) the polyline ``xy_m`` (N, 2) crosses the wall outside its openings (or
    closer than ``clearance_m`` to a jamb)."""
    breaches = []
    for a, b in itertools.pairwise(xy_m):
        along = wall.crossing_m(a, b)
        if along is not None and not wall.in_opening(along, clearance_m):
            breaches.append(along)
    return breaches
