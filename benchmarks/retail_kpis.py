"""Retail KPIs against the simulator's exact truth: door counts per direction, visits, staff exclusion, queue
waiting time and length (simulation/scenarios_retail.py; fusion + analytics as the ingest runs them).

Per door family (groups, back-and-forth, two cameras on the door, crossings both ways at once, plain) over the
seeds: in and out counted vs true (accuracy = 1 - |counted - true| / true, summed over the seeds), visits
(visitor entries) counted vs true, staff crossings counted as visitors (entries counted as a visitor's by a fused
person that followed an employee over most of its life; goal 0). Employees are bound as a badge reader or a
staff member binds them: once a fused person followed the employee for 1 s (`bound_employee`). Queue family:
waiting time per served visitor matched to the truth (median absolute error / median true wait), abandonments,
and the share of the time the live queue length is within ±1 of the true length. The seeds (default 11-20) were
never tuned on. The simulated store has its front wall along the door line with a 4 m door opening: people come
in and leave through it (docs/kpis.md, "Proof against the simulator").

With ``--reference REF`` the door counter of git REF runs beside this one on the same fused frames (same run, same
fusion), its line holding ``--reference-commit-s``; each is scored against the truth of its own line definition.

Run: .venv/bin/python -m benchmarks.retail_kpis [--seeds 11-20] [--duration 180] [--families groups,...]
[--reference main]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import inspect
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from server.analytics import AnalyticsConfig, CountingLine, CrossingDirection, SiteAnalytics
from simulation.layout import CHECKOUT_ZONE_ID
from simulation.scenarios_retail import (
    DOOR,
    DOOR_FAMILIES,
    TILL,
    AnalyticsFactory,
    RetailRun,
    door_scenario,
    door_truth,
    queue_scenario,
    run_retail,
)
from simulation.simulator import EPOCH_US, SimulationResult

IN, OUT = CrossingDirection.IN, CrossingDirection.OUT


def _seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


@dataclass
class _Tally:
    true_in: int = 0
    true_out: int = 0
    counted_in: int = 0
    counted_out: int = 0
    true_visits: int = 0
    counted_visits: int = 0
    staff_as_visitors: int = 0
    worst: list[str] = field(default_factory=list)

    def add(self, seed: int, line: CountingLine, result: SimulationResult, run: RetailRun) -> None:
        employees = {p.person_id for p in result.people if p.identity.employee_id is not None}
        truth = {p.person_id: door_truth(p, result.config.duration_s, line) for p in result.people}
        t_in = sum(c.count(IN) for c in truth.values())
        t_out = sum(c.count(OUT) for c in truth.values())
        c_in = sum(1 for _, d, _, _ in run.crossings if d is IN)
        c_out = sum(1 for _, d, _, _ in run.crossings if d is OUT)
        self.true_in, self.true_out = self.true_in + t_in, self.true_out + t_out
        self.counted_in, self.counted_out = self.counted_in + c_in, self.counted_out + c_out
        self.true_visits += sum(c.count(IN) for pid, c in truth.items() if pid not in employees)
        self.counted_visits += sum(1 for _, d, staff, _ in run.crossings if d is IN and not staff)
        # A fused person counted as a visitor who was an employee (over its life: in a moment's swap at the door
        # the crossing's own truth person can be the employee walking beside it, counted as staff themselves).
        self.staff_as_visitors += sum(
            1
            for gid, d, staff, _ in run.crossings
            if d is IN and not staff and run.owners.get(gid) in employees
        )
        if (c_in, c_out) != (t_in, t_out):
            self.worst.append(f"seed {seed}: in {c_in}/{t_in}, out {c_out}/{t_out}")

    def line(self, family: str, name: str) -> str:
        accuracy_in = 1 - abs(self.counted_in - self.true_in) / max(self.true_in, 1)
        accuracy_out = 1 - abs(self.counted_out - self.true_out) / max(self.true_out, 1)
        return (
            f"door {family:<12} {name:<9} in {self.counted_in}/{self.true_in} ({accuracy_in:.2%}), out "
            f"{self.counted_out}/{self.true_out} ({accuracy_out:.2%}); visits {self.counted_visits}/"
            f"{self.true_visits}; staff counted as visitors {self.staff_as_visitors}"
        )


def door_family(family: str, seeds: list[int], duration_s: float, reference: _Reference | None) -> None:
    """This code's counts, and the reference's (when given) on the same fused frames."""
    started = time.perf_counter()
    tallies = {"this": _Tally()}
    variants = {}
    if reference is not None:
        variants["reference"] = (reference.line, reference.factory)
        tallies["reference"] = _Tally()
    for seed in seeds:
        result = door_scenario(family, seed, duration_s=duration_s)
        run = run_retail(result, variants=variants)
        tallies["this"].add(seed, DOOR, result, run)
        if reference is not None:
            tallies["reference"].add(seed, reference.line, result, run.variants["reference"])
    for name in ("reference", "this"):
        if name in tallies:
            print(tallies[name].line(family, name))
            for line in tallies[name].worst:
                print(f"    {line}")
    print(f"    ({time.perf_counter() - started:.0f} s)")


@dataclass(frozen=True)
class _Reference:
    line: CountingLine
    factory: AnalyticsFactory


def _reference(ref: str, commit_s: float | None) -> _Reference:
    """The door counter of git `ref` (its server/analytics/doors.py) in this code's SiteAnalytics, its line
    holding `commit_s` (None: this code's door line as it is)."""
    source = subprocess.run(
        ["git", "show", f"{ref}:server/analytics/doors.py"], check=True, capture_output=True, text=True
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix="_doors.py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("reference_doors", handle.name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    # This code's SiteAnalytics may pass the counter more than the reference's update takes (first_seen_us).
    takes = len(inspect.signature(module.DoorCounter.update).parameters) - 1
    # ... and tell it the stream stopped (close_rows(..., stopped=True), from SiteAnalytics.flush), which a
    # reference before that keyword does not take.
    knows_stopped = "stopped" in inspect.signature(module.DoorCounter.close_rows).parameters

    class Counter(module.DoorCounter):  # type: ignore[misc,name-defined]
        def update(self, *args: Any) -> None:
            super().update(*args[:takes])

        def close_rows(self, *args: Any, stopped: bool = False) -> None:
            if knows_stopped:
                super().close_rows(*args, stopped=stopped)
            else:
                super().close_rows(*args)

    def factory(config: AnalyticsConfig) -> SiteAnalytics:
        analytics = SiteAnalytics(config)
        counter = Counter(config)
        counter.grow(analytics._rows.capacity)
        columns = analytics._rows._columns
        columns[columns.index(analytics._doors)] = counter
        analytics._doors = counter
        return analytics

    line = DOOR if commit_s is None else dataclasses.replace(DOOR, commit_s=commit_s)
    return _Reference(line, factory)


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
    parser.add_argument(
        "--reference",
        help="git ref whose door counter runs beside this one on the same fused frames (e.g. main)",
    )
    parser.add_argument(
        "--reference-commit-s",
        type=float,
        help="the reference's door line hold (default: this code's door line, 0.5 s; 0.3 for refs before bbab5b4)",
    )
    args = parser.parse_args()
    seeds = _seeds(args.seeds)
    reference = _reference(args.reference, args.reference_commit_s) if args.reference else None
    print(f"seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}), {args.duration:.0f} s each")
    for family in args.families.split(","):
        if family == "queue":
            queue_family(seeds, max(args.duration, 600.0))
        else:
            door_family(family, seeds, args.duration, reference)


if __name__ == "__main__":
    main()
