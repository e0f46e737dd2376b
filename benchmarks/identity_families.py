"""Global identity on the scenario families of :mod:`simulation.scenarios_identity`, per family and seed.

Families: ``groups``, ``doorway``, ``single``, ``gaps``, ``swaps``, ``skew`` (30 people, the three overhead
cameras of ``three_camera_store``), ``store100`` (100 people, 4 cameras) and, on tilted ceiling pinhole
cameras with the groups' and the doorway's traffic together, ``ceiling`` (3 m, 35°), ``ceil-low`` (2.5 m, 20°:
far people smaller and noisier) and ``distorted`` (3 m, 35°, barrel lens k1 -0.25 k2 0.05 left uncorrected).
A reference checkout without a family says so ("has no such family"): the figures are this checkout's only.

Prints per run: fusion IDF1 (motmetrics, 1 m), person-count error, global ids issued / true persons, identity
transfers (global ids that were two different truth persons, each for >= 1 s) and binding transfers (ids the
binding oracle bound to an employee, simulation.evaluation.BIND_AFTER_SAMPLES, that were somebody else for >= 1 s
after it: a badge identity carried by somebody else); then per family the
mean and worst IDF1 / count error over the seeds and the summed transfers.

Each family runs in three variants, interleaved family by family on the same seeds: ``main`` (the reference:
this script of another checkout, ``--reference``, default /work/main, run in a subprocess with its own
PYTHONPATH: its fusion and simulator on the same seeds), ``no colours`` (this checkout, edges that send no
appearance descriptors: old edges) and ``colours`` (this checkout, edges sending layout-1 descriptors of the
simulated clothing, see simulation/appearance.py). The simulated positions, detections and local ids are the
same in all three (the appearance draws from its own random stream).

The reference runs its own script with ``--reference "" --variants on`` (colours on; ``--reference-variants``):
without them it would start its own reference, and that one its own, without end.

Run: .venv/bin/python benchmarks/identity_families.py [--seeds 11-20] [--families gaps,doorway] [--duration 180]
[--reference /work/main | --reference ""] [--variants main,off,on] [--reference-variants on] [--timeout 3000]

``--cost [--rounds N]``: fusion cost instead, ms per TrackFrame (SiteFusion.update alone, one core) at 50 people
and 4 cameras (the simulator's default store, 30 s), without and with descriptors, this checkout and the reference
interleaved round by round (the reference in a child process whose PYTHONPATH puts that checkout first); best of
N rounds and the ratio to the reference without descriptors (the goal: <= 1.2).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from simulation import evaluate
from simulation.scenarios_identity import FAMILIES, identity_scenario

GOALS = "goals: IDF1 >= 0.97 and count error <= 2 % per family, binding transfers 0"


def _seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


def _run_family(family: str, seeds: list[int], duration_s: float, appearance: bool, label: str) -> str:
    idf1: list[float] = []
    count: list[float] = []
    transfers = bindings = below = 0
    for seed in seeds:
        started = time.perf_counter()
        report = evaluate(identity_scenario(family, seed, duration_s=duration_s, appearance=appearance))
        idf1.append(report.idf1)
        count.append(report.mean_count_error_ratio)
        transfers += report.identity_transfers
        bindings += report.binding_transfers
        below += report.idf1 < 0.97
        print(
            f"{family:<10}{label:<11}{seed:>5}{report.idf1:>8.4f}{100 * report.mean_count_error_ratio:>7.2f}%"
            f"{f'{report.global_ids}/{report.true_persons}':>9}{report.identity_transfers:>7}"
            f"{report.binding_transfers:>8}{report.ms_per_frame:>7.3f}   ({time.perf_counter() - started:.1f} s)",
            flush=True,
        )
    return (
        f"{family:<10}{label:<11}{len(seeds):>3} seeds: IDF1 mean {np.mean(idf1):.4f} min {np.min(idf1):.4f} "
        f"({below} < 0.97); count error mean {100 * np.mean(count):.2f} % max {100 * np.max(count):.2f} %; "
        f"identity transfers {transfers}, binding transfers {bindings}"
    )


def _reference(checkout: str, family: str, args: argparse.Namespace) -> str:
    """The same family and seeds through the reference checkout's own script (its fusion and simulator)."""
    script = Path(checkout) / "benchmarks" / "identity_families.py"
    command = [sys.executable, str(script), "--seeds", args.seeds, "--families", family]
    command += ["--duration", str(args.duration), "--reference", "", "--variants", args.reference_variants]
    environment = {**os.environ, "PYTHONPATH": checkout}
    done = subprocess.run(
        command,
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        timeout=args.timeout,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(f"{family} ") and "seeds:" in line]
    if "unknown scenario family" in done.stderr:
        return f"{family:<10}{'main':<11} has no such family (this checkout only)"
    if done.returncode != 0 or not lines:
        return f"{family:<10}{'main':<11} failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"
    for line in done.stdout.splitlines():
        if line.startswith(f"{family} ") and "seeds:" not in line:
            print(
                f"{family:<10}{'main':<11}{line[21:]}", flush=True
            )  # the reference's own variant label dropped
    return f"{family:<10}{'main':<11}{lines[-1][21:]}"


def cost_once(appearance: bool, people: int = 50, cameras: int = 4, duration_s: float = 30.0) -> float:
    """ms per TrackFrame of SiteFusion.update on a simulated store (seed 7), frames converted up front."""
    from server.fusion import FusionConfig, SiteFusion
    from simulation import SimulationConfig, simulate

    result = simulate(
        SimulationConfig(seed=7, people=people, cameras=cameras, duration_s=duration_s, appearance=appearance)
    )
    observations = [frame.to_observations(1) for frame in result.frames]
    fusion = SiteFusion(FusionConfig(site_id=1))
    started = time.perf_counter()
    for frame in observations:
        fusion.update_frames(frame)
    fusion.flush()
    return (time.perf_counter() - started) * 1e3 / max(1, len(observations))


def cost(reference: str, rounds: int) -> None:
    """Fusion cost at 50 people, this checkout and ``reference``, without and with descriptors, interleaved."""
    here = str(Path(__file__).resolve().parent.parent)
    trees = [("this", here)] + ([("main", reference)] if reference else [])
    results: dict[tuple[str, bool], list[float]] = {}
    path = str(Path(__file__).resolve())
    for _ in range(rounds):
        for name, tree in trees:
            code = (
                f"import importlib.util as u; s = u.spec_from_file_location('cost', {path!r}); "
                "m = u.module_from_spec(s); s.loader.exec_module(m); "
                "print(m.cost_once(False), m.cost_once(True))"
            )
            done = subprocess.run(
                [sys.executable, "-c", code],
                env={**os.environ, "PYTHONPATH": tree},
                cwd=tree,
                check=True,
                capture_output=True,
                text=True,
                timeout=1200,
            )
            off, on = (float(value) for value in done.stdout.split()[-2:])
            results.setdefault((name, False), []).append(off)
            results.setdefault((name, True), []).append(on)
    base = min(results[("main", False)]) if reference else min(results[("this", False)])
    print(
        f"fusion ms per TrackFrame, 50 people / 4 cameras, best of {rounds} interleaved rounds; ratio to main"
    )
    print("without colours (goal <= 1.2)")
    for (name, appearance), values in results.items():
        label = "colours" if appearance else "no colours"
        print(f"{name:<6}{label:<12}{min(values):>8.3f} ms  x{min(values) / base:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="11-20", help="seeds, e.g. 1-5 or 11-20 or 3,7")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated families")
    parser.add_argument("--duration", type=float, default=180.0, help="simulated seconds per run")
    parser.add_argument("--reference", default="/work/main", help="checkout of the reference ('' for none)")
    parser.add_argument("--variants", default="main,off,on", help="main (reference), off / on (descriptors)")
    parser.add_argument("--timeout", type=float, default=3000.0, help="seconds per reference family")
    parser.add_argument("--reference-variants", default="on", help="variants the reference runs (off / on)")
    parser.add_argument("--cost", action="store_true", help="fusion cost at 50 people instead (see above)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of --cost")
    args = parser.parse_args()
    if args.cost:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        cost(args.reference, args.rounds)
        return
    seeds = _seeds(args.seeds)
    variants = args.variants.split(",")
    print(GOALS)
    print(
        f"{'family':<10}{'variant':<11}{'seed':>5}{'IDF1':>8}{'count':>8}{'ids':>9}{'id tr':>7}{'bind tr':>8}"
        f"{'ms/fr':>7}"
    )
    summary: list[str] = []
    for family in args.families.split(","):
        if "main" in variants and args.reference:
            summary.append(_reference(args.reference, family, args))
        if "off" in variants:
            summary.append(_run_family(family, seeds, args.duration, False, "no colours"))
        if "on" in variants:
            summary.append(_run_family(family, seeds, args.duration, True, "colours"))
    print(f"per family, seeds {args.seeds}:")
    for line in summary:
        print(line)


if __name__ == "__main__":
    main()
