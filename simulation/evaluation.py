"""Runs fusion + analytics over a simulation and scores every analytic against the ground truth.

Identity binding is an oracle standing in for badge events: a global person is bound to the employee that
the truth matches it to most often so far, once for at least 1 s (``BIND_AFTER_SAMPLES``; matches: optimal
assignment within 1 m at each evaluation sample), and stays bound, as a badge binding does.
The same matching maps global ids to truth persons when scoring violations and alarms, at the time of the
event: an alarm's person is the one its global id was matched to at the sample nearest the alarm, a
violation's persons are those each global id was matched to most often while the violation lasted. A
global id that moved from one person to another (an identity switch, which IDF1 counts) therefore does not
also turn the contacts it recorded correctly before the switch into false ones.
IDF1 uses motmetrics on the global ids against the truth ids, 1 m match threshold.

Records as the dashboard shows them are scored against the truth without any matching: visits and dwell per
zone, flow transitions per (from, to) pair, each as the sum over zones (pairs) of |estimated - true| over
the true total; the entrance dwell ratio is the mean estimated over the mean true entrance dwell. The heat
map is read right after each empty period starts (``SimulationConfig.empty_periods_s``, 2 s in: the last
person has left, the fusion has ended them): live (the sum of the heat deltas sent so far) and stored (the
buckets emitted so far) against the true person-seconds so far.

Scenario events are applied as the server applies them: a zone edit reconfigures the analytics with the new
zones at the first fused frame after it (``server.insights.processor`` ``refresh``,
``SiteAnalytics.reconfigure``: a visit of a zone that persists goes on, a deleted zone's open visits end at
the last observation inside, as the truth counts them); a server restart (``SimulationConfig
.server_restarts``) at the first frame arriving after it flushes fusion and analytics when graceful and
drops them when killed, then starts new ones (new global ids). The pure simulator has no processes to kill:
``kill -9`` is this loss of in-memory state, not a real signal.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from server.analytics.geometry import entrance_boxes_m
from server.analytics.site import SiteAnalytics
from server.analytics.types import (
    AlertKind,
    AnalyticsConfig,
    AnalyticsUpdate,
    DistancingViolation,
    IncidentPhase,
    PersonIdentity,
    ZoneKind,
)
from server.fusion.site import SiteFusion
from server.fusion.types import FusedFrame, FusionConfig
from simulation.simulator import EPOCH_US, SimulationResult
from simulation.truth import GroundTruth, TruthViolation, compute_truth, truth_violations, zone_epochs

MATCH_DISTANCE_M = 1.0
# A global id "is" a truth person once matched to them in this many evaluation samples in a row (1 s at 0.2 s).
TRANSFER_RUN_SAMPLES = 5
# Two truth persons whose centres are closer than this cannot be told apart by where they stand (two bodies keep
# ~0.3 m between their centres; a group member's pause spot and the spot of a person beside the group can
# coincide in the simulator, store100 seed 76: two persons 2 cm apart for 15 s): a sample of one while the other
# stands that close shows no binding carried by somebody else.
INDISTINCT_M = 0.25


@dataclass
class EvaluationReport:
    """Scores of one run (see the module docstring for the definitions)."""

    frames: int = 0
    fused_frames: int = 0
    dropped_late_frames: int = 0
    ms_per_frame: float = 0.0
    idf1: float = float("nan")
    idp: float = float("nan")
    idr: float = float("nan")
    mota: float = float("nan")
    id_switches: int = 0
    true_persons: int = 0
    global_ids: int = 0
    mean_count_error_ratio: float = 0.0
    true_violations: int = 0
    estimated_violations: int = 0
    violation_precision: float = float("nan")
    violation_recall: float = float("nan")
    # With a don't-care band: an estimate is right when the truth pair violated under D + band_m and
    # T - band_s; a truth violation must be found when it holds under D - band_m and T + band_s.
    violation_band_m: float = 0.25
    violation_band_s: float = 1.0
    violation_precision_band: float = float("nan")
    violation_recall_band: float = float("nan")
    unauthorised_entries: int = 0
    alarmed_in_time: int = 0
    max_alarm_latency_s: float = 0.0
    authorised_entries: int = 0
    authorised_alarms: int = 0
    false_alarms: int = 0
    # Access-control incidents opened (one per person and zone approach or entry), and those that were alarms.
    alert_incidents: int = 0
    alarm_incidents: int = 0
    heat_true_person_s: float = 0.0
    heat_estimated_person_s: float = 0.0
    heat_conservation_error: float = 0.0
    heat_cell_l1_ratio: float = 0.0
    missed_entries: list[tuple[int, int, int]] = field(default_factory=list)
    # Global ids that were matched, each time for at least TRANSFER_RUN_SAMPLES samples in a row, to two or more
    # truth persons (an identity passed to somebody else); and the global ids bound to an employee (the binding
    # oracle) that were somebody else for such a run after it (a badge binding carried by another person).
    identity_transfers: int = 0
    binding_transfers: int = 0
    true_visits: int = 0
    estimated_visits: int = 0
    visit_error: float = 0.0
    true_dwell_s: float = 0.0
    estimated_dwell_s: float = 0.0
    dwell_error: float = 0.0
    entrance_dwell_ratio: float = float("nan")
    true_transitions: int = 0
    estimated_transitions: int = 0
    flow_error: float = 0.0
    alarms_raised: int = 0
    warnings_raised: int = 0
    # Worst over the empty periods (NaN without one).
    heat_after_empty_live_error: float = float("nan")
    heat_after_empty_stored_error: float = float("nan")
    server_restarts: int = 0
    zone_edits: int = 0


# As the server runs it (server.insights.setup.build_setup).
DISTANCING_SMOOTHING_S = 0.5


def default_analytics_config(result: SimulationResult, site_id: int = 1) -> AnalyticsConfig:
    """Analytics configuration of the simulated store (0.5 m heat-map cells, SPEC defaults)."""
    return AnalyticsConfig(
        site_id=site_id,
        zones=result.layout.zones,
        grid=result.layout.grid(0.5),
        distancing_smoothing_s=DISTANCING_SMOOTHING_S,
    )


# The binding oracle (a badge read or a staff member's bind), shared by every benchmark: a fused person is bound to
# an employee once the employee is the truth person it followed most and for at least this many samples (1 s at
# 200 ms), as a badge reader or a person at the screen binds somebody standing there, not a dot that passed beside
# them; the binding then stays with the fused person, as a badge binding does. Bound at the first sample (a
# one-sample majority), a visitor born at the door beside an employee was bound to the employee by the matcher's
# first guess: 4 of 5 visits missed in the retail benchmark's plain and groups families (seeds 15-20) were that.
BIND_AFTER_SAMPLES = 5


class _Matcher:
    """Votes global id -> truth person from per-sample optimal matches."""

    def __init__(self) -> None:
        self.votes: dict[int, Counter[int]] = {}
        self.history: dict[int, tuple[list[int], list[int]]] = {}  # gid -> (sample times, truth persons)

    def match(self, truth_ids: np.ndarray, truth_xy: np.ndarray, frame: FusedFrame) -> list[tuple[int, int]]:  # type: ignore[type-arg]
        if truth_ids.size == 0 or frame.size == 0:
            return []
        delta = truth_xy[:, None, :] - frame.floor_xy_m[None, :, :]
        cost = np.hypot(delta[..., 0], delta[..., 1])
        rows, cols = linear_sum_assignment(np.where(cost <= MATCH_DISTANCE_M, cost, 1e6))
        pairs = [
            (int(frame.global_ids[c]), int(truth_ids[r]))
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
            if cost[r, c] <= MATCH_DISTANCE_M
        ]
        for gid, pid in pairs:
            self.votes.setdefault(gid, Counter())[pid] += 1
            times, persons = self.history.setdefault(gid, ([], []))
            times.append(frame.time_us)
            persons.append(pid)
        return pairs

    def person_at(self, gid: int, time_us: int) -> int | None:
        """The truth person matched to ``gid`` at the sample nearest to ``time_us``."""
        entry = self.history.get(gid)
        if entry is None:
            return None
        times, persons = entry
        index = int(np.searchsorted(times, time_us))
        candidates = [i for i in (index - 1, index) if 0 <= i < len(times)]
        best = min(candidates, key=lambda i: abs(times[i] - time_us))
        return persons[best]

    def person_during(self, gid: int, start_us: int, end_us: int) -> int | None:
        """The truth person matched to ``gid`` most often between ``start_us`` and ``end_us`` (the sample
        nearest ``start_us`` when none falls inside)."""
        entry = self.history.get(gid)
        if entry is None:
            return None
        times, persons = entry
        first = int(np.searchsorted(times, start_us))
        last = int(np.searchsorted(times, end_us, side="right"))
        if first >= last:
            return self.person_at(gid, start_us)
        return Counter(persons[first:last]).most_common(1)[0][0]

    def person_of(self, gid: int) -> int | None:
        counter = self.votes.get(gid)
        if not counter:
            return None
        return counter.most_common(1)[0][0]

    def bound_person(self, gid: int, people: Mapping[int, PersonIdentity]) -> int | None:
        """The employee (truth person) the binding oracle binds ``gid`` to now: the person it followed most, for
        at least ``BIND_AFTER_SAMPLES`` samples, when that person is an employee (None: no binding yet)."""
        owner = self.person_of(gid)
        if owner is None or self.votes[gid][owner] < BIND_AFTER_SAMPLES:
            return None
        identity = people.get(owner)
        return owner if identity is not None and identity.employee_id is not None else None


def bound_employee(
    matcher: _Matcher, gid: int, people: Mapping[int, PersonIdentity]
) -> PersonIdentity | None:
    """The employee identity the binding oracle gives fused person ``gid`` now (None: none yet)."""
    owner = matcher.bound_person(gid, people)
    return None if owner is None else people[owner]


def evaluate(
    result: SimulationResult,
    *,
    fusion_config: FusionConfig | None = None,
    analytics_config: AnalyticsConfig | None = None,
    truth: GroundTruth | None = None,
    sample_period_s: float = 0.2,
    compute_idf1: bool = True,
) -> EvaluationReport:
    """Run the pipeline on ``result`` in arrival order and score it."""
    site_id = 1
    analytics_config = analytics_config or default_analytics_config(result, site_id)
    fusion_config = fusion_config or FusionConfig(
        site_id=site_id,
        entry_regions_m=entrance_boxes_m(
            [zone.polygon_m for zone in analytics_config.zones if zone.kind is ZoneKind.ENTRANCE]
        ),
    )
    truth = truth or compute_truth(result, analytics_config)
    fusion = SiteFusion(fusion_config)
    analytics = SiteAnalytics(analytics_config)
    base_config = analytics_config
    edits = [
        (
            EPOCH_US + round(start_s * 1e6),
            dataclasses.replace(base_config, zones=tuple(zone for zone in zones if zone is not None)),
        )
        for start_s, zones in zone_epochs(base_config.zones, result.config.zone_edits)[1:]
    ]
    restarts = sorted(result.config.server_restarts, key=lambda r: r.time_s)
    heat_reads = sorted(EPOCH_US + round((start + 2.0) * 1e6) for start, _ in result.config.empty_periods_s)
    heat_read_errors: list[tuple[float, float]] = []
    live_person_s = stored_person_s = 0.0
    dropped_before = 0
    people = result.identities()
    matcher = _Matcher()
    identities: dict[int, PersonIdentity] = {}
    bound: dict[int, tuple[int, int]] = {}  # gid -> (employee truth person, time first bound)
    report = EvaluationReport(frames=len(result.frames), true_persons=len(result.people))

    accumulator = None
    if compute_idf1:
        import motmetrics as mm  # dev dependency: imported only when scoring

        accumulator = mm.MOTAccumulator(auto_id=True)
    updates: list[AnalyticsUpdate] = []
    seen_gids: set[int] = set()
    count_errors: list[float] = []
    true_counts: list[int] = []
    next_sample_us = 0
    busy_s = 0.0

    def consume(frame: FusedFrame) -> None:
        nonlocal next_sample_us, busy_s, analytics, live_person_s, stored_person_s
        while edits and frame.time_us >= edits[0][0]:
            # As the server's refresh does: the analytics go on with the new zones, recording what the edit
            # ended (the open visits of a deleted zone).
            ended = analytics.reconfigure(edits.pop(0)[1])
            updates.append(ended)
            stored_person_s += sum(float(bucket.person_s.sum()) for bucket in ended.heat_buckets)
            report.zone_edits += 1
        while heat_reads and frame.time_us > heat_reads[0]:
            true_s = truth.person_s_before(heat_reads.pop(0))
            heat_read_errors.append(
                (
                    abs(live_person_s - true_s) / max(true_s, 1e-9),
                    abs(stored_person_s - true_s) / max(true_s, 1e-9),
                )
            )
        if frame.time_us >= next_sample_us and frame.processed_frames:
            next_sample_us = frame.time_us + int(sample_period_s * 1e6)
            truth_ids, truth_xy = truth.at(frame.time_us)
            for gid, _ in matcher.match(truth_ids, truth_xy, frame):
                owner = matcher.bound_person(gid, people)
                if owner is not None:
                    identities[gid] = people[owner]
                    bound.setdefault(gid, (owner, frame.time_us))
            count_errors.append(abs(frame.size - truth_ids.size))
            true_counts.append(int(truth_ids.size))
            if accumulator is not None:
                import motmetrics as mm

                distances = mm.distances.norm2squared_matrix(
                    truth_xy, frame.floor_xy_m, max_d2=MATCH_DISTANCE_M**2
                )
                accumulator.update(truth_ids.tolist(), frame.global_ids.tolist(), distances)
        started = time.perf_counter()
        update = analytics.update(frame, identities)
        busy_s += time.perf_counter() - started
        updates.append(update)
        live_person_s += update.heat.total_person_s + update.heat.outside_person_s
        stored_person_s += sum(float(bucket.person_s.sum()) for bucket in update.heat_buckets)
        seen_gids.update(frame.global_ids.tolist())

    for sim_frame in result.frames:
        while restarts and sim_frame.arrival_time_us >= EPOCH_US + round(restarts[0].time_s * 1e6):
            restart = restarts.pop(0)
            if restart.graceful:
                for frame in fusion.flush():
                    report.fused_frames += 1
                    consume(frame)
                updates.append(analytics.flush())
            dropped_before += fusion.dropped_late_frames
            first_id = max(seen_gids, default=0) + 1000
            fusion = SiteFusion(dataclasses.replace(fusion_config, first_global_id=first_id))
            analytics = SiteAnalytics(analytics.config)
            report.server_restarts += 1
        observations = sim_frame.to_observations(site_id)
        started = time.perf_counter()
        fused = fusion.update_frames(observations)
        busy_s += time.perf_counter() - started
        for frame in fused:
            report.fused_frames += 1
            consume(frame)
    for frame in fusion.flush():
        report.fused_frames += 1
        consume(frame)
    updates.append(analytics.flush())

    report.ms_per_frame = busy_s * 1e3 / max(1, len(result.frames))
    report.dropped_late_frames = dropped_before + fusion.dropped_late_frames
    report.global_ids = len(seen_gids)
    report.mean_count_error_ratio = float(np.sum(count_errors) / max(1, np.sum(true_counts)))
    if accumulator is not None:
        import motmetrics as mm

        summary = mm.metrics.create().compute(
            accumulator, metrics=["idf1", "idp", "idr", "mota", "num_switches"], name="fusion"
        )
        report.idf1 = float(summary["idf1"].iloc[0])
        report.idp = float(summary["idp"].iloc[0])
        report.idr = float(summary["idr"].iloc[0])
        report.mota = float(summary["mota"].iloc[0])
        report.id_switches = int(summary["num_switches"].iloc[0])

    _score_transfers(report, matcher, bound, _apart_in(truth))
    _score_violations(report, updates, truth, matcher, analytics_config)
    _score_access(report, updates, truth, matcher, result, analytics_config)
    _score_heat(report, updates, truth, analytics_config)
    _score_records(report, updates, truth, base_config)
    if heat_read_errors:
        report.heat_after_empty_live_error = max(live for live, _ in heat_read_errors)
        report.heat_after_empty_stored_error = max(stored for _, stored in heat_read_errors)
    return report


def _apart_in(truth: GroundTruth) -> Callable[[int, int, int], bool]:
    """Whether two truth persons stood at least INDISTINCT_M apart (or one was absent) at a time."""
    column = {int(pid): k for k, pid in enumerate(truth.person_ids.tolist())}
    start_us, period_us, last = int(truth.times_us[0]), truth.period_s * 1e6, truth.times_us.size - 1

    def apart(first: int, second: int, time_us: int) -> bool:
        index = int(np.clip(round((time_us - start_us) / period_us), 0, last))
        a, b = column.get(first), column.get(second)
        if a is None or b is None:
            return True
        distance = float(np.hypot(*(truth.positions[index, a] - truth.positions[index, b])))
        return not distance < INDISTINCT_M  # NaN (one absent): apart

    return apart


def _score_transfers(
    report: EvaluationReport,
    matcher: _Matcher,
    bound: Mapping[int, tuple[int, int]],
    apart: Callable[[int, int, int], bool] | None = None,
) -> None:
    """Identity and binding transfers (see :class:`EvaluationReport`): per global id, the truth persons of its
    runs of at least TRANSFER_RUN_SAMPLES consecutive matched samples; a global id the binding oracle bound to an
    employee (``bound``: the employee and when) that has such a run of somebody else after it was bound carried
    the binding to them (``apart``: whether two persons could be told apart at a time; a sample of somebody who
    could not breaks such a run)."""
    for gid, (times, persons) in matcher.history.items():
        owners: list[int] = []
        run_person, run_length = -1, 0
        for pid in persons:
            run_person, run_length = (pid, run_length + 1) if pid == run_person else (pid, 1)
            if run_length == TRANSFER_RUN_SAMPLES and (not owners or owners[-1] != pid):
                owners.append(pid)
        if len(set(owners)) > 1:
            report.identity_transfers += 1
        if gid in bound and _carried_by_another(times, persons, *bound[gid], apart):
            report.binding_transfers += 1


def _carried_by_another(
    times: list[int],
    persons: list[int],
    employee: int,
    bound_us: int,
    apart: Callable[[int, int, int], bool] | None = None,
) -> bool:
    """Whether, after ``bound_us``, the samples hold a run of at least TRANSFER_RUN_SAMPLES of one person other
    than ``employee`` (and, with ``apart``, told apart from them)."""
    run_person, run_length = -1, 0
    for time_us, pid in zip(times, persons, strict=True):
        if time_us < bound_us or pid == employee or (apart is not None and not apart(employee, pid, time_us)):
            run_person, run_length = -1, 0
            continue
        run_person, run_length = (pid, run_length + 1) if pid == run_person else (pid, 1)
        if run_length >= TRANSFER_RUN_SAMPLES:
            return True
    return False


def _score_records(
    report: EvaluationReport, updates: list[AnalyticsUpdate], truth: GroundTruth, config: AnalyticsConfig
) -> None:
    """Visits, dwell and flow as the dashboard counts them, and alert counts (module docstring)."""
    entries = [entry for update in updates for entry in update.entries]
    dwell = [record for update in updates for record in update.dwell]
    transitions = [transition for update in updates for transition in update.transitions]
    true_visits = Counter(visit.zone_id for visit in truth.visits)
    estimated_visits = Counter(entry.zone_id for entry in entries)
    report.true_visits, report.estimated_visits = len(truth.visits), len(entries)
    zones = set(true_visits) | set(estimated_visits)
    report.visit_error = sum(abs(estimated_visits[z] - true_visits[z]) for z in zones) / max(
        1, len(truth.visits)
    )
    true_dwell: dict[int, float] = {}
    for visit in truth.visits:
        true_dwell[visit.zone_id] = true_dwell.get(visit.zone_id, 0.0) + (visit.end_us - visit.start_us) / 1e6
    estimated_dwell: dict[int, float] = {}
    for record in dwell:
        estimated_dwell[record.zone_id] = estimated_dwell.get(record.zone_id, 0.0) + record.dwell_s
    report.true_dwell_s, report.estimated_dwell_s = sum(true_dwell.values()), sum(estimated_dwell.values())
    zones = set(true_dwell) | set(estimated_dwell)
    report.dwell_error = sum(abs(estimated_dwell.get(z, 0.0) - true_dwell.get(z, 0.0)) for z in zones) / max(
        report.true_dwell_s, 1e-9
    )
    entrance = {zone.zone_id for zone in config.zones if zone.kind is ZoneKind.ENTRANCE}
    true_entrance = [(v.end_us - v.start_us) / 1e6 for v in truth.visits if v.zone_id in entrance]
    estimated_entrance = [record.dwell_s for record in dwell if record.zone_id in entrance]
    if true_entrance and estimated_entrance:
        report.entrance_dwell_ratio = float(np.mean(estimated_entrance)) / max(
            float(np.mean(true_entrance)), 1e-9
        )
    true_flow = Counter((t.from_zone_id, t.to_zone_id) for t in truth.transitions)
    estimated_flow = Counter((t.from_zone_id, t.to_zone_id) for t in transitions)
    report.true_transitions, report.estimated_transitions = len(truth.transitions), len(transitions)
    pairs = set(true_flow) | set(estimated_flow)
    report.flow_error = sum(abs(estimated_flow[p] - true_flow[p]) for p in pairs) / max(
        1, len(truth.transitions)
    )
    alerts = [alert for update in updates for alert in update.alerts]
    report.alarms_raised = sum(1 for alert in alerts if alert.kind is AlertKind.ALARM)
    report.warnings_raised = sum(1 for alert in alerts if alert.kind is AlertKind.WARNING)


def _score_violations(
    report: EvaluationReport,
    updates: list[AnalyticsUpdate],
    truth: GroundTruth,
    matcher: _Matcher,
    config: AnalyticsConfig,
) -> None:
    estimated = [v for update in updates for v in update.violations_ended]
    report.estimated_violations = len(estimated)
    report.true_violations = len(truth.violations)
    precision, recall = _match_violations(estimated, truth.violations, truth.violations, matcher)
    report.violation_precision, report.violation_recall = precision, recall

    def relaxed(distance_m: float, duration_s: float) -> tuple[TruthViolation, ...]:
        return truth_violations(
            truth.positions,
            truth.person_ids,
            truth.times_us,
            period_s=truth.period_s,
            distance_m=distance_m,
            min_duration_s=max(duration_s, 0.0),
            gap_s=config.distancing_gap_s,
        )

    loose = relaxed(
        config.distancing_distance_m + report.violation_band_m,
        config.distancing_min_duration_s - report.violation_band_s,
    )
    tight = relaxed(
        config.distancing_distance_m - report.violation_band_m,
        config.distancing_min_duration_s + report.violation_band_s,
    )
    report.violation_precision_band, _ = _match_violations(estimated, loose, tight, matcher)
    _, report.violation_recall_band = _match_violations(estimated, loose, tight, matcher)


def _match_violations(
    estimated: list[DistancingViolation],
    for_precision: tuple[TruthViolation, ...],
    for_recall: tuple[TruthViolation, ...],
    matcher: _Matcher,
) -> tuple[float, float]:
    """Precision of ``estimated`` against ``for_precision``, recall of ``for_recall`` by ``estimated``.

    Match: same truth pair (each global id's truth person during the estimated violation) and intervals
    overlapping within 1 s."""
    tolerance_us = 1_000_000

    def index(violations: tuple[TruthViolation, ...]) -> dict[tuple[int, int], list[tuple[int, int]]]:
        by_pair: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for v in violations:
            by_pair.setdefault((min(v.person_a, v.person_b), max(v.person_a, v.person_b)), []).append(
                (v.start_us, v.end_us)
            )
        return by_pair

    precision_pairs = index(for_precision)
    recall_pairs = index(for_recall)
    recalled: set[tuple[int, int, int]] = set()
    true_positive = 0
    for v in estimated:
        end = v.end_us if v.end_us is not None else v.last_close_us
        a = matcher.person_during(v.person_a, v.start_us, end)
        b = matcher.person_during(v.person_b, v.start_us, end)
        if a is None or b is None or a == b:
            continue
        key = (min(a, b), max(a, b))
        true_positive += any(
            v.start_us <= end_us + tolerance_us and end >= start_us - tolerance_us
            for start_us, end_us in precision_pairs.get(key, [])
        )
        for start_us, end_us in recall_pairs.get(key, []):
            if v.start_us <= end_us + tolerance_us and end >= start_us - tolerance_us:
                recalled.add((key[0], key[1], start_us))
    precision = true_positive / len(estimated) if estimated else 1.0
    recall = len(recalled) / len(for_recall) if for_recall else 1.0
    return precision, recall


def _score_access(
    report: EvaluationReport,
    updates: list[AnalyticsUpdate],
    truth: GroundTruth,
    matcher: _Matcher,
    result: SimulationResult,
    config: AnalyticsConfig,
) -> None:
    events = [alert for update in updates for alert in update.alerts]
    closed_us = {
        (a.first_global_id, a.zone_id, a.opened_us): a.closed_us
        for a in events
        if a.phase is IncidentPhase.CLOSED
    }
    report.alert_incidents = sum(a.phase is IncidentPhase.OPENED for a in events)
    # Each person an incident was an alarm for (a person the fusion found again under a new id continues the
    # incident): who they were when first seen in it as an alarm, its zone, then, and when it closed.
    alarms: list[tuple[int | None, int, int, int | None]] = []
    alarmed: set[tuple[int, int, int, int]] = set()
    for a in events:
        key = (a.first_global_id, a.zone_id, a.opened_us)
        if a.kind is not AlertKind.ALARM or a.phase is IncidentPhase.CLOSED or (*key, a.global_id) in alarmed:
            continue
        alarmed.add((*key, a.global_id))
        alarms.append((matcher.person_at(a.global_id, a.time_us), a.zone_id, a.time_us, closed_us.get(key)))
    report.alarm_incidents = len({key[:3] for key in alarmed})
    report.unauthorised_entries = len(truth.unauthorised_entries)
    report.authorised_entries = len(truth.authorised_entries)
    used: set[int] = set()
    latencies: list[float] = []
    for entry in truth.unauthorised_entries:
        best: float | None = None
        for k, (pid, zone_id, at_us, until_us) in enumerate(alarms):
            if pid != entry.person_id or zone_id != entry.zone_id:
                continue
            if entry.time_us - 1_000_000 <= at_us <= entry.time_us + 500_000:
                latency = (at_us - entry.time_us) / 1e6
                best = latency if best is None else min(best, latency)
                used.add(k)
            elif at_us < entry.time_us and (until_us is None or until_us + 500_000 >= entry.time_us):
                best = 0.0 if best is None else best  # an alarm incident still open: alarmed before
                used.add(k)
        if best is None:
            report.missed_entries.append((entry.person_id, entry.zone_id, entry.time_us))
        else:
            report.alarmed_in_time += 1
            latencies.append(best)
    report.max_alarm_latency_s = max(latencies) if latencies else 0.0
    identities = result.identities()
    for k, (pid, zone_id, _, _) in enumerate(alarms):
        zone = config.zone(zone_id)
        identity = identities.get(pid) if pid is not None else None
        if identity is not None and (
            identity.level >= zone.required_level or zone_id in identity.permitted_zone_ids
        ):
            report.authorised_alarms += 1
        elif k not in used:
            report.false_alarms += 1


def _score_heat(
    report: EvaluationReport, updates: list[AnalyticsUpdate], truth: GroundTruth, config: AnalyticsConfig
) -> None:
    grid = config.grid
    cells = np.concatenate([u.heat.cell_index for u in updates]) if updates else np.zeros(0, dtype=np.int64)
    seconds = np.concatenate([u.heat.person_s for u in updates]) if updates else np.zeros(0)
    estimated_grid = np.bincount(cells, weights=seconds, minlength=grid.cells).reshape(grid.ny, grid.nx)
    outside = sum(u.heat.outside_person_s for u in updates)
    report.heat_true_person_s = truth.total_person_s
    report.heat_estimated_person_s = float(estimated_grid.sum() + outside)
    report.heat_conservation_error = abs(report.heat_estimated_person_s - truth.total_person_s) / max(
        truth.total_person_s, 1e-9
    )
    report.heat_cell_l1_ratio = float(np.abs(estimated_grid - truth.cell_person_s).sum()) / max(
        float(truth.cell_person_s.sum()), 1e-9
    )
