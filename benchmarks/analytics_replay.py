"""Same outputs check: replay the same frames through this tree's SiteAnalytics and a reference checkout's, and
compare every AnalyticsUpdate field by field (a cheaper analytics must not change a single record).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/analytics_replay.py --reference /work/main

Scenarios (each replayed through both trees, the reference in a child process whose PYTHONPATH puts that checkout
first): the random walks of ``analytics_cost.py --scaling`` at 50 / 200 / 1000 people with a restricted and an
interest zone, and the 200 once more with distances unsmoothed; the simulated store (fusion + analytics as the
ingest runs them, 2 and 4 cameras, seeds 7 and 11, and seed 7 filled to 400 people: a dense crowd); the frames
``worker_cost.py`` gives a worker (8 cameras of 20 people in rows), fused. All with emulated
badge bindings (every 5th person an employee of level 1 or 2, some permitted in the secure zone, some uncertain,
unbound for 6 s of every 20) so that staff marks and access incidents are exercised; one of them reconfigured
half-way (a zone moved, one deleted); each flushed at the end. Every update is reduced to a canonical form (arrays
by dtype, shape and bytes, floats exact, sets and mappings sorted) and the two lists compared: the
first difference is printed and the exit status is 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import os
import pickle
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

HERE = os.path.abspath(__file__)


def canonical(value: Any) -> Any:
    """A comparable, picklable form of an analytics output (exact: floats by their bits)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple((f.name, canonical(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    if isinstance(value, np.ndarray):
        return ("ndarray", str(value.dtype), value.shape, np.ascontiguousarray(value).tobytes())
    if isinstance(value, enum.Enum):
        return ("enum", type(value).__name__, value.value)
    if isinstance(value, float | np.floating):
        return ("float", float(value).hex())
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, dict):
        return ("dict", tuple(sorted((canonical(k), canonical(v)) for k, v in value.items())))
    if isinstance(value, set | frozenset):
        return ("set", tuple(sorted(canonical(v) for v in value)))
    if isinstance(value, list | tuple):
        return tuple(canonical(v) for v in value)
    return value


def _identities(gids: list[int], t_us: int, secure_zone: int | None) -> dict[int, Any]:
    """Emulated badge bindings: deterministic in the global id and time (the same in both trees)."""
    from server.analytics import PersonIdentity

    out: dict[int, Any] = {}
    for gid in gids:
        if gid % 5 == 0 and (t_us // 1_000_000) % 20 >= 14:
            out[gid] = PersonIdentity(revoked=True)  # unbound for a while: no longer staff
        elif gid % 5 == 0:
            permitted = frozenset({secure_zone}) if secure_zone is not None and gid % 15 == 0 else frozenset()
            out[gid] = PersonIdentity(
                employee_id=gid * 10,
                display_name=f"E{gid}",
                level=1 + gid % 2,
                permitted_zone_ids=permitted,
                certain=gid % 3 != 1,
            )
    return out


def _walk_frames(people: int, frames: int) -> tuple[Any, list[Any]]:
    from server.analytics import AnalyticsConfig, FloorGrid, Zone, ZoneKind
    from server.fusion import FusedFrame

    side_m = float(np.sqrt(people * 10.0))
    rng = np.random.default_rng(people + 1)
    xy = rng.uniform(0.0, side_m, size=(people, 2))
    zones = (
        Zone(
            1, "left", ZoneKind.INTEREST, ((0.0, 0.0), (side_m / 2, 0.0), (side_m / 2, side_m), (0.0, side_m))
        ),
        Zone(2, "safe", ZoneKind.RESTRICTED, ((0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0)), 2, 1.0),
        Zone(3, "tri", ZoneKind.INTEREST, ((1.0, 1.0), (side_m - 1, 2.0), (side_m / 2, side_m - 1))),
    )
    config = AnalyticsConfig(
        site_id=1,
        zones=zones,
        grid=FloorGrid(0.0, 0.0, side_m, side_m, 0.5),
        distancing_smoothing_s=0.5,
        heat_bucket_s=5,
    )
    ids = np.arange(1, people + 1, dtype=np.int64)
    out = []
    next_id = people + 1
    for k in range(frames):
        velocity = rng.normal(0.0, 0.6, size=(people, 2))
        xy = np.clip(xy + velocity * 0.1, 0.0, side_m)
        if k % 10 == 9:  # a few persons leave, new ones come in (rows freed and reused)
            leaving = rng.choice(people, size=max(1, people // 50), replace=False)
            ids = ids.copy()
            ids[leaving] = np.arange(next_id, next_id + leaving.size)
            next_id += leaving.size
        present = rng.random(people) > 0.02  # a few missed frames
        t_us = 1_700_000_000_000_000 + k * 100_000
        out.append(
            FusedFrame(
                site_id=1,
                time_us=t_us,
                global_ids=ids[present],
                floor_xy_m=xy[present].copy(),
                velocities_mps=velocity[present],
                last_seen_us=np.full(int(present.sum()), t_us - 50_000 * (k % 2), dtype=np.int64),
                source_mask=np.ones((int(present.sum()), 1), dtype=np.bool_),
                camera_ids=np.array([1], dtype=np.int64),
                first_seen_us=np.full(int(present.sum()), t_us - 300_000, dtype=np.int64),
            )
        )
    return config, out


def _replay(config: Any, frames: list[Any], secure_zone: int | None, edit_at: int | None) -> list[Any]:
    from server.analytics import SiteAnalytics

    analytics = SiteAnalytics(config)
    out = []
    for k, frame in enumerate(frames):
        if edit_at is not None and k == edit_at:
            zones = tuple(
                dataclasses.replace(z, polygon_m=tuple((x + 0.7, y - 0.3) for x, y in z.polygon_m))
                for z in config.zones[:-1]
            )
            out.append(canonical(analytics.reconfigure(dataclasses.replace(config, zones=zones))))
        identities = _identities(frame.global_ids.tolist(), frame.time_us, secure_zone)
        out.append(canonical(analytics.update(frame, identities)))
    out.append(canonical(analytics.flush()))
    return out


def _store_frames(
    seed: int, cameras: int, people: int = 50, duration_s: float = 40.0
) -> tuple[Any, list[Any]]:
    from server.fusion import FusionConfig, SiteFusion
    from simulation import SimulationConfig, default_analytics_config, simulate

    result = simulate(
        SimulationConfig(
            seed=seed,
            people=people,
            cameras=cameras,
            duration_s=duration_s,
            arrival_fraction=0.05,
            pause_range_s=(20.0, 40.0),
        )
    )
    fusion = SiteFusion(FusionConfig(site_id=1))
    frames = [fusion.update(frame.to_observations(1)) for frame in result.frames]
    return default_analytics_config(result), frames


def _worker_frames(messages_per_camera: int) -> tuple[Any, list[Any]]:
    """What ``worker_cost.py`` feeds a worker (20 people per frame, 8 cameras in rows 2.5 m apart), decoded and
    fused as the worker does, in one site of its floor (40 x 30 m, a restricted vault)."""
    import importlib.util

    from server.analytics import AnalyticsConfig, FloorGrid, Zone, ZoneKind
    from server.bus.codec import decode_frame_message
    from server.frames import SiteCamera, camera_observations
    from server.fusion import FusionConfig, SiteFusion

    spec = importlib.util.spec_from_file_location(
        "worker_cost", os.path.join(os.path.dirname(HERE), "worker_cost.py")
    )
    assert spec is not None
    assert spec.loader is not None
    worker_cost = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker_cost)
    cameras = list(range(11, 19))
    t0_us = 1_700_000_000_000_000
    columns = [
        worker_cost._frames(camera, messages_per_camera, t0_us, index * 100_000 // len(cameras))
        for index, camera in enumerate(cameras)
    ]
    fusion = SiteFusion(FusionConfig(site_id=1))
    frames = []
    for row in zip(*columns, strict=True):
        for camera, data in zip(cameras, row, strict=True):
            observations = camera_observations(SiteCamera(camera, 1), decode_frame_message(data))
            frames.extend(fusion.update_frames(observations))
    vault = Zone(
        1, "Vault", ZoneKind.RESTRICTED, ((30.0, 0.0), (40.0, 0.0), (40.0, 5.0), (30.0, 5.0)), 5, 1.0
    )
    config = AnalyticsConfig(
        site_id=1, zones=(vault,), grid=FloorGrid(0.0, 0.0, 40.0, 30.0, 0.5), distancing_smoothing_s=0.5
    )
    return config, frames


def scenarios() -> dict[str, list[Any]]:
    """Every scenario's canonical updates, run on the server package first on the path."""
    from server.analytics import ZoneKind

    results: dict[str, list[Any]] = {}
    for people in (50, 200, 1000):
        config, frames = _walk_frames(people, 120 if people < 1000 else 60)
        results[f"walk-{people}"] = _replay(config, frames, 2, 60 if people == 200 else None)
    config, frames = _walk_frames(200, 120)
    raw = dataclasses.replace(config, distancing_smoothing_s=0.0)  # distances as measured
    results["walk-200-unsmoothed"] = _replay(raw, frames, 2, None)
    for seed, cameras in ((7, 2), (11, 4)):
        config, frames = _store_frames(seed, cameras)
        secure = next((z.zone_id for z in config.zones if z.kind is ZoneKind.RESTRICTED), None)
        results[f"store-seed{seed}-{cameras}cam"] = _replay(
            config, frames, secure, len(frames) // 2 if seed == 11 else None
        )
    # A dense crowd: the store filling up to 400 people (1.5 m² each, clustered in its zones).
    config, frames = _store_frames(7, 2, people=400, duration_s=12.0)
    results["store-seed7-2cam-400p"] = _replay(config, frames, None, None)
    config, frames = _worker_frames(150)
    results["worker-8cam"] = _replay(config, frames, None, None)
    return results


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, tuple):
        if len(a) != len(b):
            return f"{path}: length {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path}: {a!r:.200} vs {b!r:.200}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference", required=False, help="checkout to compare with (e.g. /work/main)")
    parser.add_argument("--dump", help=argparse.SUPPRESS)  # child: write this tree's scenarios here
    args = parser.parse_args()
    if args.dump:
        with open(args.dump, "wb") as handle:
            pickle.dump(scenarios(), handle)
        return
    if not args.reference:
        parser.error("--reference is required")
    started = time.perf_counter()
    trees = {"this tree": os.path.dirname(os.path.dirname(HERE)), "reference": args.reference}
    dumped: dict[str, dict[str, list[Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, tree in trees.items():
            path = os.path.join(tmp, name.replace(" ", "_"))
            subprocess.run(
                [sys.executable, HERE, "--dump", path],
                env=dict(os.environ, PYTHONPATH=tree),
                cwd=tree,
                check=True,
                timeout=1200,
            )
            with open(path, "rb") as handle:
                dumped[name] = pickle.load(handle)  # noqa: S301 (our own child wrote it)
    mine, theirs = dumped["this tree"], dumped["reference"]
    failed = False
    for scenario, updates in mine.items():
        reference = theirs[scenario]
        events = sum(len(str(u)) for u in updates)
        if updates == reference:
            print(f"{scenario}: {len(updates)} updates identical ({events:,} chars of canonical output)")
            continue
        failed = True
        if len(updates) != len(reference):
            print(f"{scenario}: {len(updates)} updates vs {len(reference)} in the reference")
        for k, (a, b) in enumerate(zip(updates, reference, strict=False)):
            if a != b:
                print(f"{scenario}: update {k} differs: {_first_difference(a, b)}")
                break
    print(f"({time.perf_counter() - started:.0f} s)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
