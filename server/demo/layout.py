"""The demo store's zones on its 30 m × 20 m floor. Pure (no Django), so that benchmarks run the demo's analytics on
the same layout (``benchmarks/demo_people.py``).

The sample video is a busy hall, not a store: some 30 people walk across it, and the clip (about 7 s as the agent
reads it) loops, every walker coming back as a new person each time. Wherever a restricted zone lies, walkers cross
it, and every crossing is an incident (one per person and zone entry, SPEC §4). The stock room lies, all of it in
the cameras' view, where the hall's walkers cross least (a 3.5 m × 3 m room on the left: 20.5 incidents a minute
of video on the demo's real detections, against 64.5 where it lay before, in the busy top-right corner;
``benchmarks/demo_people.py`` measures both). A room partly out of view would have fewer (11.7 at x 1.5–5 m,
40 % of it unseen), by seeing less, not by being crossed less.
"""

from __future__ import annotations

from dataclasses import dataclass

Polygon = tuple[tuple[float, float], ...]


def rectangle(x0_m: float, y0_m: float, x1_m: float, y1_m: float) -> Polygon:
    """The rectangle's corners, counter-clockwise from (x0, y0) in floor metres."""
    return ((x0_m, y0_m), (x1_m, y0_m), (x1_m, y1_m), (x0_m, y1_m))


@dataclass(frozen=True)
class DemoZone:
    name: str
    kind: str  # a ZoneKind value (server.inventory.models / server.analytics.types)
    polygon_m: Polygon
    required_level: int = 0
    warning_distance_m: float = 1.5


STOCK_ROOM = DemoZone("Stock room", "restricted", rectangle(3.2, 8.0, 6.7, 11.0), required_level=2)
# Where the stock room lay until 2026-12-03 (the benchmark's reference: the hall's busiest corner).
STOCK_ROOM_BEFORE = DemoZone("Stock room", "restricted", rectangle(22.0, 2.0, 28.5, 6.0), required_level=2)

DEMO_ZONES: tuple[DemoZone, ...] = (
    DemoZone("Entrance", "entrance", rectangle(1.5, 15.0, 8.0, 18.5)),
    DemoZone("Promotion", "interest", rectangle(11.0, 7.0, 19.0, 13.0)),
    DemoZone("Checkout queue", "queue", rectangle(21.0, 14.0, 28.0, 18.5)),
    STOCK_ROOM,
)
