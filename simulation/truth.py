"""Exact ground truth of a simulation, sampled on a fine clock from the people's true paths.

Definitions mirror :mod:`server.analytics.site` but are computed independently, per person and per pair,
from the true positions (no noise, no fusion): zone entries (with the same exit grace), distancing
violations (same D, T and gap), unauthorised entries into restricted zones, and person-seconds per
heat-map cell (each sample held for one truth period). Visits (entry to last sample inside) and flow
transitions follow the same definitions; a zone edited mid-run (``SimulationConfig.zone_edits``) has its new
polygon from the edit on, a deleted one has no visits after its deletion (an open visit ends at the last
sample inside before it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from server.analytics.geometry import EdgeSet, FloatArray, IntArray
from server.analytics.types import AnalyticsConfig, Zone, ZoneKind
from simulation.simulator import EPOCH_US, SimulationResult, ZoneEdit


@dataclass(frozen=True)
class TruthViolation:
    """A true distancing violation between two truth persons."""

    person_a: int
    person_b: int
    start_us: int
    end_us: int
    min_distance_m: float


@dataclass(frozen=True)
class TruthEntry:
    """A true zone entry (start of a visit)."""

    person_id: int
    zone_id: int
    time_us: int


@dataclass(frozen=True)
class TruthVisit:
    """A true zone visit: first to last sample inside (absences shorter than the exit grace included)."""

    person_id: int
    zone_id: int
    start_us: int
    end_us: int


@dataclass(frozen=True)
class TruthTransition:
    """A true flow transition: an entry into ``to_zone_id`` after an entry into ``from_zone_id``."""

    person_id: int
    from_zone_id: int | None
    to_zone_id: int
    time_us: int


def zone_epochs(
    zones: Sequence[Zone], edits: Sequence[ZoneEdit]
) -> list[tuple[float, tuple[Zone | None, ...]]]:
    """(start s, zones in configuration order, None where deleted) for each period between zone edits."""
    current: list[Zone | None] = list(zones)
    epochs: list[tuple[float, tuple[Zone | None, ...]]] = [(0.0, tuple(current))]
    for edit in sorted(edits, key=lambda e: e.time_s):
        index = next(i for i, zone in enumerate(zones) if zone.zone_id == edit.zone_id)
        old = current[index]
        if edit.polygon_m is None or old is None:
            current[index] = None
        else:
            current[index] = dataclasses.replace(old, polygon_m=edit.polygon_m)
        epochs.append((edit.time_s, tuple(current)))
    return epochs


@dataclass(frozen=True)
class GroundTruth:
    """Truth sampled every ``period_s``; ``positions[t, p]`` is NaN while ``person_ids[p]`` is absent."""

    period_s: float
    times_us: IntArray
    person_ids: IntArray
    positions: FloatArray
    entries: tuple[TruthEntry, ...]
    unauthorised_entries: tuple[TruthEntry, ...]
    authorised_entries: tuple[TruthEntry, ...]
    violations: tuple[TruthViolation, ...]
    cell_person_s: FloatArray
    total_person_s: float
    visits: tuple[TruthVisit, ...] = ()
    transitions: tuple[TruthTransition, ...] = ()

    def person_s_before(self, time_us: int) -> float:
        """Person-seconds spent in the store before ``time_us``."""
        samples = int(np.searchsorted(self.times_us, time_us))
        return float(np.count_nonzero(~np.isnan(self.positions[:samples, :, 0]))) * self.period_s

    def at(self, time_us: int) -> tuple[IntArray, FloatArray]:
        """Ids and positions of the persons present at the truth sample nearest to ``time_us``."""
        index = int(
            np.clip(round((time_us - self.times_us[0]) / (self.period_s * 1e6)), 0, self.times_us.size - 1)
        )
        xy = self.positions[index]
        present = ~np.isnan(xy[:, 0])
        return self.person_ids[present], xy[present]

    def count_at(self, time_us: int) -> int:
        """Persons in the store at the nearest truth sample."""
        return int(self.at(time_us)[0].shape[0])


def _episodes(mask: np.ndarray, grace_samples: int) -> list[tuple[int, int]]:  # type: ignore[type-arg]
    """(first, last) sample index of runs of True, merging runs separated by fewer than ``grace_samples``."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > grace_samples)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def compute_truth(
    result: SimulationResult, analytics: AnalyticsConfig, period_s: float = 0.05
) -> GroundTruth:
    """The exact truth of ``result`` under the thresholds of ``analytics``."""
    times_s = np.arange(0.0, result.config.duration_s, period_s)
    times_us = EPOCH_US + np.round(times_s * 1e6).astype(np.int64)
    person_ids = np.array([p.person_id for p in result.people], dtype=np.int64)
    positions = np.stack([p.positions(times_s) for p in result.people], axis=1)  # (T, P, 2)
    samples = positions.shape[0]
    present = ~np.isnan(positions[..., 0])

    # zones: per person, inside runs with the exit grace
    zones = analytics.zones
    epochs = []
    for start_s, epoch_zones in zone_epochs(zones, result.config.zone_edits):
        live: IntArray = np.array(
            [z for z, zone in enumerate(epoch_zones) if zone is not None], dtype=np.int64
        )
        polygons = [zone.polygon_array() for zone in epoch_zones if zone is not None]
        first = int(np.searchsorted(times_s, start_s - 1e-9))
        epochs.append((first, live, EdgeSet.from_polygons(polygons) if live.size else None))
    bounds = [first for first, _, _ in epochs[1:]] + [samples]
    grace = round(analytics.exit_grace_s / period_s)
    entries: list[TruthEntry] = []
    unauthorised: list[TruthEntry] = []
    authorised: list[TruthEntry] = []
    visits: list[TruthVisit] = []
    transitions: list[TruthTransition] = []
    for p, person in enumerate(result.people):
        rows = np.flatnonzero(present[:, p])
        if rows.size == 0:
            continue
        inside = np.zeros((samples, len(zones)), dtype=np.bool_)
        for (first, live, edges), end in zip(epochs, bounds, strict=True):
            epoch_rows = rows[(rows >= first) & (rows < end)]
            if edges is not None and epoch_rows.size:
                inside[np.ix_(epoch_rows, live)] = edges.contains(positions[epoch_rows, p])
        person_entries: list[tuple[int, int, int]] = []  # sample, zone index, zone id
        for z, zone in enumerate(zones):
            for first, last in _episodes(inside[:, z], grace - 1):
                visits.append(
                    TruthVisit(person.person_id, zone.zone_id, int(times_us[first]), int(times_us[last]))
                )
                person_entries.append((first, z, zone.zone_id))
                entry = TruthEntry(person.person_id, zone.zone_id, int(times_us[first]))
                entries.append(entry)
                if zone.kind is ZoneKind.RESTRICTED:
                    allowed = (
                        person.identity.level >= zone.required_level
                        or zone.zone_id in person.identity.permitted_zone_ids
                    )
                    (authorised if allowed else unauthorised).append(entry)
        previous: int | None = None
        for first, _, zone_id in sorted(person_entries):
            if zone_id != previous:
                transitions.append(TruthTransition(person.person_id, previous, zone_id, int(times_us[first])))
                previous = zone_id

    violations = truth_violations(
        positions,
        person_ids,
        times_us,
        period_s=period_s,
        distance_m=analytics.distancing_distance_m,
        min_duration_s=analytics.distancing_min_duration_s,
        gap_s=analytics.distancing_gap_s,
    )

    grid = analytics.grid
    flat = positions[present]
    cells = grid.cell_index(flat)
    cell_person_s = np.bincount(cells[cells >= 0], minlength=grid.cells).astype(np.float64) * period_s
    return GroundTruth(
        period_s=period_s,
        times_us=times_us,
        person_ids=person_ids,
        positions=positions,
        entries=tuple(entries),
        unauthorised_entries=tuple(unauthorised),
        authorised_entries=tuple(authorised),
        violations=violations,
        cell_person_s=cell_person_s.reshape(grid.ny, grid.nx),
        total_person_s=float(present.sum()) * period_s,
        visits=tuple(visits),
        transitions=tuple(transitions),
    )


def truth_violations(
    positions: FloatArray,
    person_ids: IntArray,
    times_us: IntArray,
    *,
    period_s: float,
    distance_m: float,
    min_duration_s: float,
    gap_s: float,
) -> tuple[TruthViolation, ...]:
    """Distancing violations of the true positions: per pair, runs of samples closer than ``distance_m``
    (runs separated by at most ``gap_s`` joined) lasting at least ``min_duration_s``."""
    samples = positions.shape[0]
    present = ~np.isnan(positions[..., 0])
    gap_samples = round(gap_s / period_s)
    close_by_pair: dict[tuple[int, int], list[int]] = {}
    distance_by_pair: dict[tuple[int, int], list[float]] = {}
    for t in range(samples):
        here = np.flatnonzero(present[t])
        if here.size < 2:
            continue
        xy = positions[t, here]
        delta = xy[:, None, :] - xy[None, :, :]
        distance = np.hypot(delta[..., 0], delta[..., 1])
        rows_i, cols_j = np.nonzero(np.triu(distance < distance_m, k=1))
        for i, j in zip(rows_i.tolist(), cols_j.tolist(), strict=True):
            key = (int(here[i]), int(here[j]))
            close_by_pair.setdefault(key, []).append(t)
            distance_by_pair.setdefault(key, []).append(float(distance[i, j]))
    violations: list[TruthViolation] = []
    min_samples = min_duration_s / period_s
    for (a, b), ts in close_by_pair.items():
        mask = np.zeros(samples, dtype=np.bool_)
        mask[ts] = True
        values = np.full(samples, np.inf)
        values[ts] = distance_by_pair[(a, b)]
        for first, last in _episodes(mask, gap_samples):
            if last - first >= min_samples - 1e-9:
                violations.append(
                    TruthViolation(
                        int(person_ids[a]),
                        int(person_ids[b]),
                        int(times_us[first]),
                        int(times_us[last]),
                        float(values[first : last + 1].min()),
                    )
                )
    return tuple(violations)
