"""Accuracy of fusion + analytics on the seeded store simulator, against the exact ground truth.

Prints, per scenario (30 people / 2 cameras over 10 seeds, 100 people / 4 cameras over 5): global-identity IDF1
(motmetrics, 1 m threshold), person count error, distancing violation precision/recall (strict, and with a
0.25 m / 1 s don't-care band around D and T), access control (every true unauthorised entry alarmed within
0.5 s of simulated time; alarms for authorised persons) and heat-map person-seconds conservation; then, per
scenario, the strict violation precision/recall pooled over the seeds (a 30-person run holds only 65-135
violations, so one borderline pair moves a single run's figure by up to 1.5 points).

Run: .venv/bin/python benchmarks/fusion_accuracy.py [--seeds 10] [--large-seeds 5] [--quick]
"""

from __future__ import annotations

import argparse
import time

from server.simulation import SimulationConfig, evaluate, simulate

GOALS = "goals: IDF1 >= 0.95, count error <= 2 %, violations P/R >= 0.98, alarms <= 0.5 s, heat within 1 %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10, help="seeds of the 30-person store")
    parser.add_argument("--large-seeds", type=int, default=5, help="seeds of the 100-person store")
    parser.add_argument("--quick", action="store_true", help="60 s scenarios instead of 180 s")
    args = parser.parse_args()
    duration = 60.0 if args.quick else 180.0
    print(GOALS)
    header = (
        f"{'scenario':<16}{'seed':>5}{'IDF1':>8}{'count':>8}{'ids':>9}{'viol P':>8}{'viol R':>8}"
        f"{'band P':>8}{'band R':>8}{'alarms':>9}{'lat s':>7}{'auth':>6}{'false':>6}{'incid':>8}{'heat':>8}"
        f"{'drop':>6}{'ms/fr':>7}"
    )
    print(header)
    pooled: list[str] = []
    for people, cameras, seeds in ((30, 2, args.seeds), (100, 4, args.large_seeds)):
        found = estimated = recalled = true = alarmed = entries = 0
        for seed in range(1, seeds + 1):
            started = time.perf_counter()
            result = simulate(
                SimulationConfig(seed=seed, people=people, cameras=cameras, duration_s=duration)
            )
            report = evaluate(result)
            found += round(report.violation_precision * report.estimated_violations)
            estimated += report.estimated_violations
            recalled += round(report.violation_recall * report.true_violations)
            true += report.true_violations
            alarmed += report.alarmed_in_time
            entries += report.unauthorised_entries
            print(
                f"{f'{people}p/{cameras}cam':<16}{seed:>5}{report.idf1:>8.4f}"
                f"{100 * report.mean_count_error_ratio:>7.2f}%"
                f"{f'{report.global_ids}/{report.true_persons}':>9}"
                f"{report.violation_precision:>8.3f}{report.violation_recall:>8.3f}"
                f"{report.violation_precision_band:>8.3f}{report.violation_recall_band:>8.3f}"
                f"{f'{report.alarmed_in_time}/{report.unauthorised_entries}':>9}"
                f"{report.max_alarm_latency_s:>7.2f}{report.authorised_alarms:>6}{report.false_alarms:>6}"
                f"{f'{report.alarm_incidents}/{report.alert_incidents}':>8}"
                f"{100 * report.heat_conservation_error:>7.2f}%{report.dropped_late_frames:>6}"
                f"{report.ms_per_frame:>7.3f}"
                f"   ({time.perf_counter() - started:.1f} s)"
            )
        pooled.append(
            f"{f'{people}p/{cameras}cam':<16}{seeds:>5} seeds: violations P {found / max(estimated, 1):.4f} "
            f"({found}/{estimated}) R {recalled / max(true, 1):.4f} ({recalled}/{true}); "
            f"alarms {alarmed}/{entries}"
        )
    print("pooled over the seeds (strict):")
    for line in pooled:
        print(line)
    print(
        "columns: count = mean |fused - true| persons / mean true persons over samples every 0.2 s; "
        "ids = global ids issued / true persons; band = 0.25 m / 1 s don't-care band; alarms = true "
        "unauthorised entries alarmed within [-1 s, +0.5 s] / all; lat = worst alarm latency; auth = alarms "
        "for authorised persons; false = other alarms matching no true entry; incid = alert incidents that "
        "were alarms / all (one per person and zone approach or entry); heat = |estimated - true| "
        "person-seconds / true; drop = frames that arrived beyond the reorder window (3 s late by design)"
    )


if __name__ == "__main__":
    main()
