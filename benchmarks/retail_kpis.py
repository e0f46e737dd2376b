"""Retail KPIs against the simulator's exact truth: door counts per direction, visits, staff exclusion, queue
waiting time and length (simulation/scenarios_retail.py; fusion + analytics as the ingest runs them).

Per door family (groups, back-and-forth, two cameras on the door, crossings both ways at once, plain) over the
seeds: in and out counted vs true (accuracy = 1 - |counted - true| / true, summed over the seeds), visits
(visitor entries) counted vs true, staff crossings counted as visitors (goal 0). Queue family: waiting time per
served visitor matched to the truth (median absolute error / median true wait), abandonments, and the share of
the time the live queue length is within ±1 of the true length. The seeds (default 11-20) were never tuned on.

Run: .venv/bin/python -m benchmarks.retail_kpis [--seeds 11-20] [--duration 180] [--families groups,...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from server.analytics import CrossingDirection
from simulation.layout import CHECKOUT_ZONE_ID
from simulation.scenarios_retail import (
    DOOR_FAMILIES,
    TILL,
    door_scenario,
    door_truth,
    queue_scenario,
    run_retail,
)
from simulation.simulator import EPOCH_US

IN, OUT = CrossingDirection.IN, CrossingDirection.OUT


def _seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def door_family(family: str, seeds: list[int], duration_s: float) -> None:
    true_in = true_out = counted_in = counted_out = 0
    true_visits = counted_visits = staff_as_visitors = 0
    worst: list[str] = []
    started = time.perf_counter()
    for seed in seeds:
        result = door_scenario(family, seed, duration_s=duration_s)
        employees = {p.person_id for p in result.people if p.identity.employee_id is not None}
        truth = {p.person_id: door_truth(p, result.config.duration_s) for p in result.people}
        t_in = sum(c.count(IN) for c in truth.values())
        t_out = sum(c.count(OUT) for c in truth.values())
        t_visits = sum(c.count(IN) for pid, c in truth.items() if pid not in employees)
        run = run_retail(result)
        c_in = sum(1 for _, d, _, _ in run.crossings if d is IN)
        c_out = sum(1 for _, d, _, _ in run.crossings if d is OUT)
        c_visits = sum(1 for _, d, staff, _ in run.crossings if d is IN and not staff)
        staff_as_visitors += sum(
            1 for _, d, staff, person in run.crossings if d is IN and not staff and person in employees
        )
        true_in, true_out, counted_in, counted_out = (
            true_in + t_in,
            true_out + t_out,
            counted_in + c_in,
            counted_out + c_out,
        )
        true_visits, counted_visits = true_visits + t_visits, counted_visits + c_visits
        if (c_in, c_out) != (t_in, t_out):
            worst.append(f"seed {seed}: in {c_in}/{t_in}, out {c_out}/{t_out}")
    accuracy_in = 1 - abs(counted_in - true_in) / max(true_in, 1)
    accuracy_out = 1 - abs(counted_out - true_out) / max(true_out, 1)
    print(
        f"door {family:<12} in {counted_in}/{true_in} ({accuracy_in:.2%}), out {counted_out}/{true_out} "
        f"({accuracy_out:.2%}); visits {counted_visits}/{true_visits}; staff counted as visitors "
        f"{staff_as_visitors}; {time.perf_counter() - started:.0f} s"
    )
    for line in worst:
        print(f"    {line}")


def queue_family(seeds: list[int], duration_s: float) -> None:
    errors: list[float] = []
    true_waits: list[float] = []
    within = total = 0
    true_abandoned = counted_abandoned = served_true = served_counted = 0
    for seed in seeds:
        result, truths = queue_scenario(seed, duration_s=duration_s)
        run = run_retail(result, extra_zones=(TILL,))
        by_person = {t.person_id: t for t in truths}
        true_abandoned += sum(1 for t in truths if t.served_s is None)
        served_true += sum(1 for t in truths if t.served_s is not None)
        for person, _, wait_s in run.queue_visits:
            if wait_s is None:
                counted_abandoned += 1
                continue
            served_counted += 1
            truth = by_person.get(person) if person is not None else None
            if truth is None or truth.served_s is None:
                continue
            true_wait = truth.served_s - truth.joined_s
            errors.append(abs(wait_s - true_wait))
            true_waits.append(true_wait)
        # Live length vs the truth: persons whose exact path is inside the queue zone at the frame's time.
        queue = result.layout.zone(CHECKOUT_ZONE_ID)
        from server.analytics.geometry import EdgeSet

        edges = EdgeSet.from_polygons([queue.polygon_array()])
        for t_us, length in run.queue_lengths[::10]:
            t_s = (t_us - EPOCH_US) / 1e6
            xy = np.array([p.positions(np.array([t_s]))[0] for p in result.people])
            present = ~np.isnan(xy[:, 0])
            true_length = int(edges.contains(xy[present])[:, 0].sum()) if present.any() else 0
            within += abs(length - true_length) <= 1
            total += 1
    mae = float(np.median(errors)) if errors else float("nan")
    relative = mae / float(np.median(true_waits)) if true_waits else float("nan")
    print(
        f"queue: waits matched {len(errors)} (served counted {served_counted} / true {served_true}), median "
        f"|error| {mae:.2f} s = {relative:.1%} of the median true wait {np.median(true_waits):.1f} s; "
        f"abandoned counted {counted_abandoned} / true {true_abandoned}; length within ±1 "
        f"{within / max(total, 1):.1%} of {total} samples"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="11-20")
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--families", default=",".join((*DOOR_FAMILIES, "queue")))
    args = parser.parse_args()
    seeds = _seeds(args.seeds)
    print(f"seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}), {args.duration:.0f} s each")
    for family in args.families.split(","):
        if family == "queue":
            queue_family(seeds, max(args.duration, 600.0))
        else:
            door_family(family, seeds, args.duration)


if __name__ == "__main__":
    main()
