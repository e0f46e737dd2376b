"""Door counts of this code's counter and a reference's (git ref) replayed on the same cached fused frames.

``benchmarks/retail_kpis.py`` runs the simulator and the fusion for every measurement (about 10 s a seed and
family); the door counter is a small part of that. This driver runs them once per (family, seed), caches the
fused frames and the identities the ingest would have bound at each frame (``--cache``, pickles), and replays
them through :class:`SiteAnalytics` with this code's door counter and with the reference's (as
``retail_kpis --reference`` builds it), so an A/B of counters costs only the analytics. Scored per family and
seed set against the simulator's truth of the door line (``door_truth``): in and out, counted vs true, and the
visits (entries not marked staff).

Run: .venv/bin/python -m benchmarks.door_replay --seeds 11-20 [--families groups,...] [--reference main]
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from retail_kpis import _reference, _seeds  # noqa: E402

from server.analytics import AnalyticsConfig, CrossingDirection, SiteAnalytics  # noqa: E402
from simulation.scenarios_retail import DOOR, DOOR_FAMILIES, door_scenario, door_truth, run_retail  # noqa: E402

IN, OUT = CrossingDirection.IN, CrossingDirection.OUT


@dataclass
class _Cached:
    config: AnalyticsConfig
    frames: list[Any]  # FusedFrame
    identities: list[dict[int, Any] | None]  # per frame: the identities when they changed, else None
    true_in: int
    true_out: int
    true_visits: int
    employees: set[int]


class _Recorder:
    """Stands in for a SiteAnalytics variant of run_retail: keeps the frames and identities it is fed."""

    def __init__(self, config: AnalyticsConfig) -> None:
        self.config = config
        self.frames: list[Any] = []
        self.identities: list[dict[int, Any] | None] = []
        self._last: dict[int, Any] = {}

    def update(self, frame: Any, identities: dict[int, Any]) -> Any:
        self.frames.append(frame)
        changed = identities != self._last
        self.identities.append(dict(identities) if changed else None)
        if changed:
            self._last = dict(identities)
        return _NoCrossings()

    def flush(self) -> Any:
        return _NoCrossings()


@dataclass
class _NoCrossings:
    crossings: list[Any] = field(default_factory=list)


def _cached(cache: Path, family: str, seed: int, duration_s: float) -> _Cached:
    path = cache / f"{family}_{seed}_{duration_s:.0f}.pkl"
    if path.exists():
        with path.open("rb") as handle:
            loaded: _Cached = pickle.load(handle)  # noqa: S301  (this driver's own cache)
            return loaded
    result = door_scenario(family, seed, duration_s=duration_s)
    recorders: list[_Recorder] = []

    def factory(config: AnalyticsConfig) -> Any:
        recorders.append(_Recorder(config))
        return recorders[-1]

    run_retail(result, variants={"record": (DOOR, factory)})
    employees = {p.person_id for p in result.people if p.identity.employee_id is not None}
    truth = {p.person_id: door_truth(p, result.config.duration_s, DOOR) for p in result.people}
    recorder = recorders[0]
    cached = _Cached(
        recorder.config,
        recorder.frames,
        recorder.identities,
        sum(c.count(IN) for c in truth.values()),
        sum(c.count(OUT) for c in truth.values()),
        sum(c.count(IN) for pid, c in truth.items() if pid not in employees),
        employees,
    )
    cache.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        pickle.dump(cached, out)
    return cached


def replay(cached: _Cached, factory: Any) -> tuple[int, int, int]:
    """Counted in, out and visits (entries not marked staff, the mark sticky over a track)."""
    analytics = factory(cached.config)
    identities: dict[int, Any] = {}
    crossings: list[tuple[int, CrossingDirection, bool]] = []
    staff_ids: set[int] = set()
    for frame, changed in zip(cached.frames, cached.identities, strict=True):
        if changed is not None:
            identities = changed
        update = analytics.update(frame, identities)
        crossings.extend((c.global_id, c.direction, c.staff) for c in update.crossings)
        staff_ids |= set(update.staff_ids)
    update = analytics.flush()
    crossings.extend((c.global_id, c.direction, c.staff) for c in update.crossings)
    counted_in = sum(1 for _, d, _ in crossings if d is IN)
    counted_out = sum(1 for _, d, _ in crossings if d is OUT)
    visits = sum(1 for gid, d, staff in crossings if d is IN and not staff and gid not in staff_ids)
    return counted_in, counted_out, visits


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="11-20")
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--families", default=",".join(DOOR_FAMILIES))
    parser.add_argument("--reference", help="git ref whose door counter is replayed beside this one")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/door_replay_cache"))
    args = parser.parse_args()
    seeds = _seeds(args.seeds)
    factories: dict[str, Any] = {}
    if args.reference:
        factories["reference"] = _reference(args.reference, None).factory
    factories["this"] = SiteAnalytics
    print(f"seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}), {args.duration:.0f} s each")
    for family in args.families.split(","):
        started = time.perf_counter()
        totals = {name: [0, 0, 0] for name in factories}
        true = [0, 0, 0]
        worst: dict[str, list[str]] = {name: [] for name in factories}
        for seed in seeds:
            cached = _cached(args.cache, family, seed, args.duration)
            true = [
                a + b
                for a, b in zip(true, (cached.true_in, cached.true_out, cached.true_visits), strict=True)
            ]
            for name, factory in factories.items():
                counted = replay(cached, factory)
                totals[name] = [a + b for a, b in zip(totals[name], counted, strict=True)]
                if counted[:2] != (cached.true_in, cached.true_out):
                    worst[name].append(
                        f"seed {seed}: in {counted[0]}/{cached.true_in}, out {counted[1]}/{cached.true_out}"
                    )
        for name, (c_in, c_out, c_visits) in totals.items():
            accuracy_in = 1 - abs(c_in - true[0]) / max(true[0], 1)
            accuracy_out = 1 - abs(c_out - true[1]) / max(true[1], 1)
            print(
                f"door {family:<12} {name:<9} in {c_in}/{true[0]} ({accuracy_in:.2%}), out {c_out}/{true[1]} "
                f"({accuracy_out:.2%}); visits {c_visits}/{true[2]}"
            )
            for line in worst[name]:
                print(f"    {line}")
        print(f"    ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
