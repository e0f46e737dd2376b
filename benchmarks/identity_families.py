"""Global identity on the scenario families of :mod:`simulation.scenarios_identity`, per family and seed.

Prints per run: fusion IDF1 (motmetrics, 1 m), person-count error, global ids issued / true persons, identity
transfers (global ids that were two different truth persons, each for >= 1 s) and binding transfers (of them,
ids bound to an employee when first matched: a badge identity carried by somebody else); then per family the
mean and worst IDF1 / count error over the seeds and the summed transfers.

Run: .venv/bin/python benchmarks/identity_families.py [--seeds 11-20] [--families gaps,doorway] [--duration 180]
"""

from __future__ import annotations

import argparse
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="11-20", help="seeds, e.g. 1-5 or 11-20 or 3,7")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated families")
    parser.add_argument("--duration", type=float, default=180.0, help="simulated seconds per run")
    args = parser.parse_args()
    seeds = _seeds(args.seeds)
    print(GOALS)
    print(f"{'family':<10}{'seed':>5}{'IDF1':>8}{'count':>8}{'ids':>9}{'id tr':>7}{'bind tr':>8}{'ms/fr':>7}")
    summary: list[str] = []
    for family in args.families.split(","):
        idf1: list[float] = []
        count: list[float] = []
        transfers = bindings = 0
        for seed in seeds:
            started = time.perf_counter()
            report = evaluate(identity_scenario(family, seed, duration_s=args.duration))
            idf1.append(report.idf1)
            count.append(report.mean_count_error_ratio)
            transfers += report.identity_transfers
            bindings += report.binding_transfers
            print(
                f"{family:<10}{seed:>5}{report.idf1:>8.4f}{100 * report.mean_count_error_ratio:>7.2f}%"
                f"{f'{report.global_ids}/{report.true_persons}':>9}{report.identity_transfers:>7}"
                f"{report.binding_transfers:>8}{report.ms_per_frame:>7.3f}   ({time.perf_counter() - started:.1f} s)",
                flush=True,
            )
        summary.append(
            f"{family:<10}{len(seeds):>3} seeds: IDF1 mean {np.mean(idf1):.4f} min {np.min(idf1):.4f}; count error "
            f"mean {100 * np.mean(count):.2f} % max {100 * np.max(count):.2f} %; identity transfers {transfers}, "
            f"binding transfers {bindings}"
        )
    print(f"per family, seeds {args.seeds}:")
    for line in summary:
        print(line)


if __name__ == "__main__":
    main()
