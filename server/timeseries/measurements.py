"""The measurements the server writes, as constants and one builder per measurement.

Field types are fixed per measurement (InfluxDB refuses a float written into an int field), so builders
coerce. Tags are low-cardinality identifiers only; person ids are FIELDS (a tag per person would create a
series per person and blow up InfluxDB's index).

| measurement    | tags                                  | fields
| | -------------- | ------------------------------------- |
---------------------------------------------------------- | | positions      | site
| person_id (int), x_m, y_m (float)                          | | occupancy      | site, zone (absent = the
whole site)  | people (int)                                               | | zone_counts    | site, zone
| entries, exits (int, counted since the previous point)     | | violations     | site
| person_a_id, person_b_id (int), min_distance_m, duration_s | | edge_health    | device, camera (absent =
device-wide) | fps (float), inference_us, dropped_frames, spool_depth     | | ingest_stats   | instance
| frames_accepted/rejected/duplicate, person_updates,        | |                |
| timeseries_buffered, timeseries_dropped (int)              |

One InfluxDB point exists per (measurement, tags, time): several people of one site at one instant would
overwrite each other, so ``position_points`` spreads a frame's people over consecutive nanoseconds (``time_ns
+ index``), and ``violation_point`` takes a ``sequence`` for the same reason. Query site-wide occupancy with
``tags={"site": s, "zone": ""}`` (an empty filter value matches the absent tag).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from server.timeseries.types import Point

POSITIONS = "positions"
OCCUPANCY = "occupancy"
ZONE_COUNTS = "zone_counts"
VIOLATIONS = "violations"
EDGE_HEALTH = "edge_health"
INGEST_STATS = "ingest_stats"

ALL_MEASUREMENTS = (POSITIONS, OCCUPANCY, ZONE_COUNTS, VIOLATIONS, EDGE_HEALTH, INGEST_STATS)

Identifier = str | int


def position_points(
    *, site_id: Identifier, time_ns: int, positions: Iterable[tuple[int, float, float]]
) -> list[Point]:
    """One point per ``(person_id, x_m, y_m)``; the k-th person of the frame is stamped ``time_ns + k``."""
    tags = {"site": str(site_id)}
    return [
        Point(
            measurement=POSITIONS,
            tags=tags,
            fields={"person_id": int(person_id), "x_m": float(x_m), "y_m": float(y_m)},
            time_ns=time_ns + index,
        )
        for index, (person_id, x_m, y_m) in enumerate(positions)
    ]


def occupancy_point(
    *, site_id: Identifier, time_ns: int, people: int, zone_id: Identifier | None = None
) -> Point:
    tags = {"site": str(site_id)}
    if zone_id is not None:
        tags["zone"] = str(zone_id)
    return Point(measurement=OCCUPANCY, tags=tags, fields={"people": int(people)}, time_ns=time_ns)


def zone_count_point(
    *, site_id: Identifier, zone_id: Identifier, time_ns: int, entries: int, exits: int
) -> Point:
    return Point(
        measurement=ZONE_COUNTS,
        tags={"site": str(site_id), "zone": str(zone_id)},
        fields={"entries": int(entries), "exits": int(exits)},
        time_ns=time_ns,
    )


def violation_point(
    *,
    site_id: Identifier,
    start_time_ns: int,
    person_a_id: int,
    person_b_id: int,
    min_distance_m: float,
    duration_s: float,
    sequence: int = 0,
) -> Point:
    """A social-distancing violation, stamped at its start (+ ``sequence`` ns to keep simultaneous ones
    apart)."""
    return Point(
        measurement=VIOLATIONS,
        tags={"site": str(site_id)},
        fields={
            "person_a_id": int(person_a_id),
            "person_b_id": int(person_b_id),
            "min_distance_m": float(min_distance_m),
            "duration_s": float(duration_s),
        },
        time_ns=start_time_ns + sequence,
    )


def edge_health_point(
    *,
    device_id: Identifier,
    time_ns: int,
    fps: float,
    inference_us: int,
    dropped_frames: int,
    spool_depth: int,
    camera_id: Identifier | None = None,
) -> Point:
    tags = {"device": str(device_id)}
    if camera_id is not None:
        tags["camera"] = str(camera_id)
    return Point(
        measurement=EDGE_HEALTH,
        tags=tags,
        fields={
            "fps": float(fps),
            "inference_us": int(inference_us),
            "dropped_frames": int(dropped_frames),
            "spool_depth": int(spool_depth),
        },
        time_ns=time_ns,
    )


def edge_health_points(device_id: int, health: Mapping[str, Any]) -> list[Point]:
    """A heartbeat's health (`server.ingest.converters.heartbeat_to_health`) as edge_health points: one per
    camera, and the device's (dropped frames summed over its cameras, its spool depth)."""
    time_ns = int(health["sent_time_us"]) * 1000
    cameras = health.get("cameras", [])
    return [
        edge_health_point(
            device_id=device_id,
            time_ns=time_ns,
            fps=0.0,
            inference_us=0,
            dropped_frames=sum(int(c["dropped_frames_total"]) for c in cameras),
            spool_depth=int(health["spool_depth_frames"]),
        ),
        *(
            edge_health_point(
                device_id=device_id,
                camera_id=c["camera_id"],
                time_ns=time_ns,
                fps=float(c["analysed_fps"]),
                inference_us=round(float(c["inference_ms"]) * 1000),
                dropped_frames=int(c["dropped_frames_total"]),
                spool_depth=int(health["spool_depth_frames"]),
            )
            for c in cameras
        ),
    ]


def ingest_stats_point(
    *,
    instance: str,
    time_ns: int,
    frames_accepted: int,
    frames_rejected: int,
    frames_duplicate: int,
    person_updates: int,
    timeseries_buffered: int,
    timeseries_dropped: int,
) -> Point:
    return Point(
        measurement=INGEST_STATS,
        tags={"instance": instance},
        fields={
            "frames_accepted": int(frames_accepted),
            "frames_rejected": int(frames_rejected),
            "frames_duplicate": int(frames_duplicate),
            "person_updates": int(person_updates),
            "timeseries_buffered": int(timeseries_buffered),
            "timeseries_dropped": int(timeseries_dropped),
        },
        time_ns=time_ns,
    )


class PositionSampler:
    """Reduces the position rate: lets through the first frame of each site in every ``interval_s`` window, windows
    only moving forward: a frame of an earlier window than the last one taken is not sampled again (a device
    alternating capture times would otherwise have each frame's positions written, up to 1000 points a frame)."""

    def __init__(self, interval_s: float = 1.0) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_ns = round(interval_s * 1_000_000_000)
        self._last_window: dict[str, int] = {}

    def take(self, site_id: Identifier, time_ns: int) -> bool:
        """True when this frame's positions should be written (first frame of a new window for the site)."""
        window = time_ns // self.interval_ns
        key = str(site_id)
        last = self._last_window.get(key)
        if last is not None and window <= last:
            return False
        self._last_window[key] = window
        return True
