"""A tiny hand-made site for the analytics tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from server.analytics import AnalyticsConfig, FloorGrid, Zone, ZoneKind
from server.fusion import FusedFrame

T0_US = 1_700_000_000_000_000
SITE = 3
ZONE_A = 1
ZONE_B = 2
ZONE_R = 9


def rect(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


ZONES = (
    Zone(ZONE_A, "A", ZoneKind.INTEREST, rect(0, 0, 4, 4)),
    Zone(ZONE_B, "B", ZoneKind.QUEUE, rect(6, 0, 10, 4)),
    Zone(
        ZONE_R,
        "Server room",
        ZoneKind.RESTRICTED,
        rect(20, 0, 24, 4),
        required_level=2,
        warning_distance_m=1.0,
    ),
)


def site_config(**changes: object) -> AnalyticsConfig:
    base = AnalyticsConfig(site_id=SITE, zones=ZONES, grid=FloorGrid(0.0, 0.0, 30.0, 10.0, 1.0))
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def frame(
    t_s: float,
    people: Mapping[int, tuple[float, float]],
    velocities: Mapping[int, tuple[float, float]] | None = None,
    first_seen_s: Mapping[int, float] | None = None,
) -> FusedFrame:
    """A fused frame at T0 + t_s with persons {global id: (x, y)} (``first_seen_s``: {global id: T0 + when
    first observed}; a frame without it has no first observations)."""
    ids = np.array(sorted(people), dtype=np.int64)
    xy = np.array([people[g] for g in ids.tolist()], dtype=np.float64).reshape(-1, 2)
    velocity = np.array(
        [(velocities or {}).get(g, (0.0, 0.0)) for g in ids.tolist()], dtype=np.float64
    ).reshape(-1, 2)
    return FusedFrame(
        site_id=SITE,
        time_us=T0_US + round(t_s * 1e6),
        global_ids=ids,
        floor_xy_m=xy,
        velocities_mps=velocity,
        last_seen_us=np.full(ids.shape[0], T0_US + round(t_s * 1e6), dtype=np.int64),
        source_mask=np.ones((ids.shape[0], 1), dtype=np.bool_),
        camera_ids=np.array([1], dtype=np.int64),
        first_seen_us=None
        if first_seen_s is None
        else np.array([T0_US + round(first_seen_s.get(g, t_s) * 1e6) for g in ids.tolist()], dtype=np.int64),
    )


def us(t_s: float) -> int:
    return T0_US + round(t_s * 1e6)
