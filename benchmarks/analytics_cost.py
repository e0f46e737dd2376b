"""Cost of fusion + all analytics per TrackFrame at 50 people per site, on one core.

The frames of a simulated 50-person store (2 or 4 cameras, 10 fps each) are converted to CameraObservations
up front; the timed loop is exactly what the ingest does per TrackFrame: SiteFusion.update +
SiteAnalytics.update. Also times the aggregation helpers on 30 days of heat-map and flow rows.

Run: .venv/bin/python benchmarks/analytics_cost.py

``--scaling [--reference PATH] [--rounds N] [--cpu]`` times SiteAnalytics.update alone (no fusion) per fused frame at
50/100/200/400/1000 people walking at a constant crowd density (10 m² per person, so that the close pairs grow
with the people, not with their square) with smoothing on, as the production configuration has it.
``--store`` times fusion and analytics apart per TrackFrame as the simulated 30 m x 20 m store fills with 50-400
people (2 cameras; the crowd grows on a fixed floor, so the close pairs grow with its square). With
``--reference`` the same measurement runs, interleaved round by round, in a child process whose PYTHONPATH puts
that checkout first (e.g. ``--reference /work/main``), so two versions are compared under the same load;
``--cpu`` times them in CPU time (what a shared host's load disturbs least) rather than by the clock.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

from server.analytics import SiteAnalytics
from server.analytics.aggregate import flow_matrix, heatmap_grid
from server.fusion import FusionConfig, SiteFusion
from simulation import SimulationConfig, default_analytics_config, simulate

SCALING_PEOPLE = (50, 100, 200, 400, 1000)


def scaling_once(people: int, frames: int = 100, cpu: bool = False) -> float:
    """ms per SiteAnalytics.update at `people` persons on a floor of 10 m² each (random walk, 10 fps); by the
    clock, or with `cpu` in the process's CPU time (what a loaded, shared host disturbs least)."""
    clock = time.process_time if cpu else time.perf_counter
    from server.analytics import AnalyticsConfig, FloorGrid, Zone, ZoneKind
    from server.fusion import FusedFrame

    side_m = float(np.sqrt(people * 10.0))
    rng = np.random.default_rng(people)
    xy = rng.uniform(0.0, side_m, size=(people, 2))
    zones = (
        Zone(
            1, "left", ZoneKind.INTEREST, ((0.0, 0.0), (side_m / 2, 0.0), (side_m / 2, side_m), (0.0, side_m))
        ),
        Zone(2, "safe", ZoneKind.RESTRICTED, ((0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0)), 2, 1.0),
    )
    config = AnalyticsConfig(
        site_id=1,
        zones=zones,
        grid=FloorGrid(0.0, 0.0, side_m, side_m, 0.5),
        distancing_smoothing_s=0.5,
    )
    analytics = SiteAnalytics(config)
    ids = np.arange(1, people + 1, dtype=np.int64)
    prepared = []
    for k in range(frames):
        velocity = rng.normal(0.0, 0.6, size=(people, 2))
        xy = np.clip(xy + velocity * 0.1, 0.0, side_m)
        t_us = 1_700_000_000_000_000 + k * 100_000
        prepared.append(
            FusedFrame(
                site_id=1,
                time_us=t_us,
                global_ids=ids,
                floor_xy_m=xy.copy(),
                velocities_mps=velocity,
                last_seen_us=np.full(people, t_us, dtype=np.int64),
                source_mask=np.ones((people, 1), dtype=np.bool_),
                camera_ids=np.array([1], dtype=np.int64),
            )
        )
    for fused in prepared[:10]:  # warm-up: contacts and smoothing tables filled
        analytics.update(fused, {})
    started = clock()
    for fused in prepared[10:]:
        analytics.update(fused, {})
    return (clock() - started) * 1e3 / (frames - 10)


STORE_PEOPLE = (50, 100, 200, 400)


def store_once(people: int, cpu: bool = False) -> tuple[float, float]:
    """(fusion, analytics) ms per TrackFrame at `people` in the simulated 30 m x 20 m store (2 cameras, 10 fps,
    12 s): the crowd grows on a fixed floor, as in a store filling up (1.5 m² per person at 400), best of 2."""
    clock = time.process_time if cpu else time.perf_counter
    result = simulate(
        SimulationConfig(
            seed=7,
            people=people,
            cameras=2,
            duration_s=12.0,
            arrival_fraction=0.05,
            pause_range_s=(20.0, 40.0),
        )
    )
    observations = [frame.to_observations(1) for frame in result.frames]
    config = default_analytics_config(result)
    best = (float("inf"), float("inf"))
    for _ in range(2):
        fusion, analytics = SiteFusion(FusionConfig(site_id=1)), SiteAnalytics(config)
        fusing = analysing = 0.0
        for obs in observations:
            started = clock()
            frame = fusion.update(obs)
            fused = clock()
            analytics.update(frame, {})
            fusing += fused - started
            analysing += clock() - fused
        per_frame = 1e3 / len(observations)
        best = (min(best[0], fusing * per_frame), min(best[1], analysing * per_frame))
    return best


def _interleaved(
    reference: str | None, rounds: int, expression: str, people: tuple[int, ...]
) -> dict[str, dict[int, list[list[float]]]]:
    """Per tree and crowd size, the figures `expression` (a call of this module's `m`, with `n` the people)
    printed in each round, this tree and the reference interleaved round by round, each in a child process whose
    PYTHONPATH puts its tree first."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = [("this tree", here)] + ([("reference", reference)] if reference else [])
    results: dict[str, dict[int, list[list[float]]]] = {name: {n: [] for n in people} for name, _ in trees}
    for _ in range(rounds):
        for name, tree in trees:
            env = dict(os.environ, PYTHONPATH=tree)
            # This file's functions, run against the server package of `tree` (first on the path).
            path = os.path.abspath(__file__)
            code = (
                f"import importlib.util as u; s = u.spec_from_file_location('cost', {path!r}); "
                "m = u.module_from_spec(s); s.loader.exec_module(m); import numpy as np\n"
                f"for n in {people!r}: print(' '.join(f'{{v:.4f}}' for v in np.atleast_1d({expression})))"
            )
            lines = subprocess.run(
                [sys.executable, "-c", code],
                env=env,
                cwd=tree,
                check=True,
                capture_output=True,
                text=True,
                timeout=900,
            ).stdout.splitlines()
            for n, line in zip(people, lines, strict=True):
                results[name][n].append([float(v) for v in line.split()])
    return results


def _best(runs: list[list[float]]) -> list[float]:
    """Per figure, the best (lowest) of the rounds."""
    return [min(column) for column in zip(*runs, strict=True)]


def _table(
    title: str,
    people: tuple[int, ...],
    results: dict[str, dict[int, list[list[float]]]],
    cell: Callable[[list[float], int], str],
    width: int,
) -> None:
    """The title, a header of crowd sizes, and per tree a row of `cell(best figures, people)`."""
    print(title)
    print("people    " + "".join(f"{n:>{width}}" for n in people))
    for name, by_people in results.items():
        print(f"{name:<10}" + "".join(f"{cell(_best(by_people[n]), n):>{width}}" for n in people))


def scaling(reference: str | None, rounds: int, cpu: bool = False) -> None:
    results = _interleaved(reference, rounds, f"m.scaling_once(n, cpu={cpu!r})", SCALING_PEOPLE)
    unit = f"{'CPU ' if cpu else ''}ms"
    title = f"SiteAnalytics.update per fused frame, 10 m² per person, best of {rounds} interleaved rounds ({unit}):"
    _table(title, SCALING_PEOPLE, results, lambda best, n: f"{best[0]:.3f}", 10)
    _table(
        "the same per person (us):", SCALING_PEOPLE, results, lambda best, n: f"{best[0] / n * 1e3:.2f}u", 10
    )


def store_scaling(reference: str | None, rounds: int, cpu: bool = False) -> None:
    results = _interleaved(reference, rounds, f"m.store_once(n, cpu={cpu!r})", STORE_PEOPLE)
    unit = f"{'CPU ' if cpu else ''}ms"
    title = (
        f"fusion / analytics per TrackFrame in the simulated 30 m x 20 m store (2 cameras), best of {rounds} "
        f"interleaved rounds ({unit}):"
    )
    _table(title, STORE_PEOPLE, results, lambda best, n: f"{best[0]:.3f} / {best[1]:.3f}", 16)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scaling", action="store_true")
    parser.add_argument(
        "--store", action="store_true", help="fusion and analytics as a fixed store fills (50-400 people)"
    )
    parser.add_argument("--reference", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu", action="store_true", help="--scaling in CPU time rather than by the clock")
    args = parser.parse_args()
    if args.scaling or args.store:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        if args.scaling:
            scaling(args.reference, args.rounds, args.cpu)
        if args.store:
            store_scaling(args.reference, args.rounds, args.cpu)
        return
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
