"""Cost of fusion + all analytics per TrackFrame at 50 people per site, on one core.

The frames of a simulated 50-person store (2 or 4 cameras, 10 fps each) are converted to CameraObservations
up front; the timed loop is exactly what the ingest does per TrackFrame: SiteFusion.update +
SiteAnalytics.update. Also times the aggregation helpers on 30 days of heat-map and flow rows.

Run: .venv/bin/python benchmarks/analytics_cost.py
"""

from __future__ import annotations

import os
import time

import numpy as np

from server.analytics import SiteAnalytics
from server.analytics.aggregate import flow_matrix, heatmap_grid
from server.fusion import FusionConfig, SiteFusion
from simulation import SimulationConfig, default_analytics_config, simulate


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    for people, cameras in ((50, 2), (50, 4)):
        result = simulate(
            SimulationConfig(
                seed=7,
                people=people,
                cameras=cameras,
                duration_s=60.0,
                arrival_fraction=0.05,
                pause_range_s=(20.0, 40.0),
            )
        )
        observations = [frame.to_observations(1) for frame in result.frames]
        config = default_analytics_config(result)
        rounds: list[float] = []
        persons: list[int] = []
        for _ in range(3):
            fusion = SiteFusion(FusionConfig(site_id=1))
            analytics = SiteAnalytics(config)
            started = time.perf_counter()
            for obs in observations:
                frame = fusion.update(obs)
                analytics.update(frame, {})
                persons.append(frame.size)
            rounds.append((time.perf_counter() - started) * 1e3 / len(observations))
        print(
            f"fusion + analytics, {people} people / {cameras} cameras: {min(rounds):.3f} ms per TrackFrame "
            f"(best of 3; median {np.median(rounds):.3f}), mean persons per fused frame "
            f"{np.mean(persons):.1f}, {len(observations)} frames"
        )

    grid = config.grid
    rng = np.random.default_rng(1)
    rows = 30 * 24 * 60 * 200  # 30 days of 1-minute buckets with 200 non-zero cells each
    cells = rng.integers(0, grid.cells, rows)
    seconds = rng.random(rows)
    started = time.perf_counter()
    heatmap_grid(grid, cells, seconds)
    heat_ms = (time.perf_counter() - started) * 1e3
    transitions = 30 * 5000
    zone_ids = [z.zone_id for z in config.zones]
    from_ids = rng.choice(np.array([-1, *zone_ids]), transitions)
    to_ids = rng.choice(np.array(zone_ids), transitions)
    times = np.sort(rng.integers(0, 30 * 86_400_000_000, transitions))
    started = time.perf_counter()
    flow_matrix(zone_ids, from_ids, to_ids, times, start_us=0, end_us=30 * 86_400_000_000)
    flow_ms = (time.perf_counter() - started) * 1e3
    print(
        f"30-day heat-map aggregation ({rows:,} rows): {heat_ms:.1f} ms; 30-day flow matrix: {flow_ms:.1f} ms"
    )
    print("(in-memory aggregation only: the database read of those rows is the selector's cost)")


if __name__ == "__main__":
    main()
