"""Fusion + analytics against the simulator's exact truth, with thresholds (short runs of the benchmark)."""

from __future__ import annotations

import pytest

from simulation import SimulationConfig, evaluate, simulate


@pytest.mark.parametrize(
    ("people", "cameras", "seed"),
    [(20, 2, 11), (30, 2, 12), (40, 4, 13)],
)
def test_fusion_and_analytics_accuracy_on_a_simulated_store(people: int, cameras: int, seed: int) -> None:
    result = simulate(SimulationConfig(seed=seed, people=people, cameras=cameras, duration_s=60.0))
    report = evaluate(result)
    assert report.idf1 >= 0.93
    assert report.mean_count_error_ratio <= 0.04
    assert report.global_ids <= 2.5 * people
    assert report.violation_precision_band >= 0.95
    assert report.violation_recall_band >= 0.95
    assert report.alarmed_in_time == report.unauthorised_entries
    assert report.authorised_alarms == 0
    assert report.heat_conservation_error <= 0.03
    assert report.dropped_late_frames <= 0.01 * report.frames


def test_every_unauthorised_entry_alarms_within_half_a_second() -> None:
    config = SimulationConfig(
        seed=21, people=24, cameras=2, duration_s=90.0, employee_fraction=0.5, intruder_fraction=0.6
    )
    result = simulate(config)
    report = evaluate(result, compute_idf1=False)
    assert report.unauthorised_entries >= 3
    assert report.authorised_entries >= 1
    assert report.alarmed_in_time == report.unauthorised_entries, report.missed_entries
    assert report.max_alarm_latency_s <= 0.5
    assert report.authorised_alarms == 0
    # One incident per approach or entry, escalated in place: not an alert per kind, nor one per second.
    assert report.unauthorised_entries <= report.alarm_incidents <= report.alert_incidents
    assert report.alert_incidents <= 2 * report.unauthorised_entries
