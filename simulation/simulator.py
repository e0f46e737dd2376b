"""A seeded store simulator producing both the edge messages and the exact ground truth.

People (visitors, groups walking together, employees of several security levels) walk between zones at 0.8-1.5
m/s with pauses. Each camera sees the people in its floor region at its frame rate; its "edge tracker" is
simulated directly: per-person local tracks with detection noise growing with the distance to the camera,
missed detections (lost state, then removal after a track buffer), local id switches, short false-positive
tracklets, a per-camera constant clock skew and a network latency that reorders frames (a few arrive seconds
late). Each frame carries what a TrackFrame carries (local ids, pixel boxes from projecting a person cylinder,
floor centimetres, per-mille scores, states) plus the truth person of each row for evaluation.

Cameras with a pinhole model (:func:`simulation.layout.ceiling_store`) see a person when the detector
would (in front, foot point in the image, box at least 40 px tall; small boxes are missed more often) and
report the foot point with pixel jitter proportional to the box, projected through the homography the
installer fitted from four clicked markers. Scenarios add periods when the store is empty
(``empty_periods_s``: everyone has left before one starts, nobody arrives during it), zone edits and
deletions (``zone_edits``, applied by the evaluation and the truth) and restarts: an edge box restart
(``edge_restarts``: no frames while it is down, then local ids start again at 1, as a new tracker does; a
``kill -9`` also loses the last 0.3 s it had not spooled) and a server restart (``server_restarts``, applied
by the evaluation).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import numpy as np

from server.analytics.floor_geometry import project_points
from server.analytics.geometry import FloatArray, IntArray
from server.analytics.types import PersonIdentity, Zone, ZoneKind
from server.fusion.appearance import DESCRIPTOR_BYTES
from server.fusion.types import CameraObservations, UInt8Array
from simulation.appearance import CameraAppearance, dress
from simulation.cameras import PinholeCamera
from simulation.layout import (
    CHECKOUT_ZONE_ID,
    STOCK_ROOM_LEVEL,
    STOCK_ROOM_ZONE_ID,
    StoreLayout,
    VirtualCamera,
    default_store,
)
from simulation.people import EMPLOYEE_NAMES, Reservations, SimPerson, plan_path

logger = logging.getLogger(__name__)

# TrackState values of proto/retail/v1/track.proto (kept as plain ints: no protobuf import here).
STATE_TENTATIVE = 1
STATE_CONFIRMED = 2
STATE_LOST = 3
STATE_REMOVED = 4

EPOCH_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z: simulated time 0


@dataclass(frozen=True)
class ZoneEdit:
    """At ``time_s`` an admin changes zone ``zone_id`` to ``polygon_m``, or deletes it (``polygon_m`` None)."""

    time_s: float
    zone_id: int
    polygon_m: tuple[tuple[float, float], ...] | None


@dataclass(frozen=True)
class Restart:
    """A process stops at ``time_s`` and is back ``downtime_s`` later. ``graceful``: a normal stop (state
    flushed); else ``kill -9`` (state lost). ``camera_id``: the edge box of that camera (0: the server)."""

    time_s: float
    downtime_s: float
    graceful: bool
    camera_id: int = 0


@dataclass(frozen=True)
class SimulationConfig:
    """Knobs of the simulation. Defaults: a realistic but demanding store."""

    seed: int = 1
    people: int = 30
    cameras: int = 2
    duration_s: float = 180.0
    # People arrive uniformly over the first part of the run (so most are in the store together).
    arrival_fraction: float = 0.3
    fps: float = 10.0
    employee_fraction: float = 0.15
    group_fraction: float = 0.3
    # Fraction of visitors who walk into the stock room (unauthorised entries).
    intruder_fraction: float = 0.1
    speed_range_mps: tuple[float, float] = (0.8, 1.5)
    pause_range_s: tuple[float, float] = (3.0, 20.0)
    # Detection noise on the floor: sigma = base + per_m * distance to the camera (metres).
    noise_base_m: float = 0.05
    noise_per_m: float = 0.005
    miss_rate: float = 0.05
    # False-positive tracklets started per camera frame (Poisson mean) and their mean length in frames.
    false_positive_rate: float = 0.05
    false_positive_mean_frames: float = 3.0
    # Probability per confirmed track and frame that the edge tracker switches the person to a new local id.
    id_switch_rate: float = 0.002
    confirm_hits: int = 3
    track_buffer_frames: int = 10
    # Per-camera constant clock offset drawn uniformly from [-clock_skew_max_s, +clock_skew_max_s].
    clock_skew_max_s: float = 0.15
    latency_mean_s: float = 0.05
    # Fraction of frames delivered 3 s late (beyond the reorder window: the fusion must drop them).
    late_fraction: float = 0.002
    # Pinhole cameras: foot-point jitter as a fraction of the box size, installer click error, and the extra
    # miss probability of a box at the detector's 40 px minimum (fading out at 120 px).
    jitter_fraction: float = 0.03
    click_noise_px: float = 1.5
    small_box_miss_rate: float = 0.15
    empty_periods_s: tuple[tuple[float, float], ...] = ()
    zone_edits: tuple[ZoneEdit, ...] = ()
    edge_restarts: tuple[Restart, ...] = ()
    server_restarts: tuple[Restart, ...] = ()
    # Edge boxes send layout-1 appearance descriptors (simulation.appearance); False: old edges without them.
    appearance: bool = True
    # Share of the people wearing one common uniform (the employees first): look-alikes for the colour cue.
    uniform_fraction: float = 0.15

    def open_windows_s(self) -> list[tuple[float, float]]:
        """The parts of the run when people may be in the store (between the empty periods)."""
        windows: list[tuple[float, float]] = []
        start = 0.0
        for empty_start, empty_end in sorted(self.empty_periods_s):
            if empty_start > start:
                windows.append((start, empty_start))
            start = max(start, empty_end)
        if start < self.duration_s:
            windows.append((start, self.duration_s))
        return windows


@dataclass(frozen=True)
class SimCameraFrame:
    """One simulated TrackFrame. ``truth_person_ids[i]`` is -1 for a false positive. Removed tracks are
    listed in ``removed_local_ids`` (a TrackFrame carries them as rows with state REMOVED)."""

    camera_id: int
    sequence: int
    capture_time_us: int
    true_time_us: int
    arrival_time_us: int
    local_ids: IntArray
    states: IntArray
    bbox_xywh_px: IntArray
    floor_xy_cm: IntArray
    score_permille: IntArray
    truth_person_ids: IntArray
    removed_local_ids: IntArray
    # Appearance descriptors sent with this frame (CameraObservations.appearance_rows / appearance).
    appearance_rows: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    appearance: UInt8Array = field(default_factory=lambda: np.zeros((0, DESCRIPTOR_BYTES), dtype=np.uint8))

    def to_observations(self, site_id: int) -> CameraObservations:
        """The fusion input the ingest would build from this TrackFrame."""
        return CameraObservations(
            site_id=site_id,
            camera_id=self.camera_id,
            capture_time_us=self.capture_time_us,
            local_ids=self.local_ids,
            floor_xy_m=self.floor_xy_cm.astype(np.float64) / 100.0,
            scores=(self.score_permille / 1000.0).astype(np.float32),
            confirmed=self.states == STATE_CONFIRMED,
            valid_floor=np.ones(self.local_ids.shape[0], dtype=np.bool_),
            removed_local_ids=self.removed_local_ids,
            appearance_rows=self.appearance_rows,
            appearance=self.appearance,
        )


@dataclass
class _LocalTrack:
    local_id: int
    person_id: int
    hits: int = 0
    misses: int = 0
    last_xy: FloatArray = field(default_factory=lambda: np.zeros(2))
    frames_left: int = 0  # false positives only


@dataclass(frozen=True)
class SimulationResult:
    """Everything a run produced: the store, the people (truth) and the frames in arrival order."""

    config: SimulationConfig
    layout: StoreLayout
    people: tuple[SimPerson, ...]
    frames: tuple[SimCameraFrame, ...]
    camera_skew_s: dict[int, float]

    def identities(self) -> dict[int, PersonIdentity]:
        """Truth person id -> identity."""
        return {person.person_id: person.identity for person in self.people}


def _population(config: SimulationConfig, layout: StoreLayout, rng: np.random.Generator) -> list[SimPerson]:
    interest = [z for z in layout.zones if z.kind is ZoneKind.INTEREST]
    checkout = layout.zone(CHECKOUT_ZONE_ID)
    stock_room = layout.zone(STOCK_ROOM_ZONE_ID)
    arrival_window = config.duration_s * config.arrival_fraction
    employees = max(2, round(config.people * config.employee_fraction)) if config.people >= 6 else 0
    people: list[SimPerson] = []
    next_group = 1
    reservations = Reservations()
    windows = config.open_windows_s()
    lengths = np.array([end - start for start, end in windows])

    def plan(sequence: list[Zone], footprint_m: float) -> tuple[FloatArray, FloatArray] | None:
        if not config.empty_periods_s:
            return plan_path(
                rng,
                layout,
                arrive_s=float(rng.uniform(0, arrival_window)),
                zone_sequence=sequence,
                speed_mps=float(rng.uniform(*config.speed_range_mps)),
                pause_range_s=config.pause_range_s,
                reservations=reservations,
                footprint_m=footprint_m,
            )
        # With empty periods: arrive early in an open window and be gone 1 s before it closes (fewer zones and
        # the shortest pauses when the first plans take too long).
        for attempt in range(6):
            start, end = windows[int(rng.choice(len(windows), p=lengths / lengths.sum()))]
            mark = len(reservations.spots)
            shortest = (config.pause_range_s[0], config.pause_range_s[0])
            times, xy = plan_path(
                rng,
                layout,
                arrive_s=float(rng.uniform(start, start + config.arrival_fraction * (end - start))),
                zone_sequence=sequence[: max(1, len(sequence) - attempt)],
                speed_mps=float(rng.uniform(*config.speed_range_mps)),
                pause_range_s=config.pause_range_s if attempt < 3 else shortest,
                reservations=reservations,
                footprint_m=footprint_m,
            )
            if times[-1] <= end - 1.0:
                return times, xy
            del reservations.spots[mark:]
        return None

    def add(identity: PersonIdentity, group: int | None, times: FloatArray, xy: FloatArray) -> None:
        clipped = np.clip(xy, [0.1, 0.1], [layout.width_m - 0.1, layout.height_m - 0.1])
        people.append(SimPerson(len(people) + 1, identity, group, times, clipped))

    for e in range(employees):
        kind = e % 4  # 0: level 1 no permission, 1: level 1 + permission, 2: level 2, 3: level 3
        level = 1 if kind < 2 else kind
        permitted = frozenset({STOCK_ROOM_ZONE_ID}) if kind == 1 else frozenset()
        identity = PersonIdentity(1000 + e, EMPLOYEE_NAMES[e % len(EMPLOYEE_NAMES)], level, permitted)
        sequence: list[Zone] = list(rng.choice(np.array(interest, dtype=object), size=2, replace=False))
        if rng.random() < 0.7:
            sequence.insert(1, stock_room)
        planned = plan(sequence, 0.0)
        if planned is not None:
            add(identity, None, *planned)
    failures = 0
    while len(people) < config.people and failures < 100:
        remaining = config.people - len(people)
        size = 1
        if remaining >= 2 and rng.random() < config.group_fraction:
            size = min(remaining, int(rng.integers(2, 4)))
        count = int(rng.integers(2, 5))
        sequence = list(rng.choice(np.array(interest, dtype=object), size=count, replace=False))
        if rng.random() < 0.5:
            sequence.append(checkout)
        if size == 1 and rng.random() < config.intruder_fraction:
            sequence.insert(int(rng.integers(1, len(sequence) + 1)), stock_room)
        planned = plan(sequence, 0.8 if size > 1 else 0.0)
        if planned is None:
            failures += 1
            continue
        times, xy = planned
        group = None
        if size > 1:
            group = next_group
            next_group += 1
        offsets = [(0.0, 0.0), (0.0, 0.8), (0.8, 0.0)]
        for member in range(size):
            wobble = rng.normal(0.0, 0.04, size=xy.shape) if member else 0.0
            add(PersonIdentity(), group, times, xy + np.array(offsets[member]) + wobble)
    return people


def _camera_frames(
    config: SimulationConfig,
    camera: VirtualCamera,
    people: list[SimPerson],
    skew_s: float,
    rng: np.random.Generator,
) -> list[SimCameraFrame]:
    period_s = 1.0 / config.fps
    phase_s = float(rng.uniform(0, period_s))
    frame_times = np.arange(phase_s, config.duration_s, period_s)
    all_xy = np.stack([person.positions(frame_times) for person in people], axis=1)  # (F, P, 2)
    camera_xy = np.array(camera.position_m[:2])
    x0, y0, x1, y1 = camera.floor_region_m
    tracks: dict[int, _LocalTrack] = {}  # person id (or negative for false positives) -> live local track
    next_local = 1
    next_false = -1
    frames: list[SimCameraFrame] = []
    pinhole = camera.pinhole
    homography = pinhole.installer_homography(rng, config.click_noise_px) if pinhole is not None else None
    # Edge restarts of this camera: [stop, back) with no frames; a kill -9 also loses the last 0.3 s.
    outages = [
        (r.time_s - (0.0 if r.graceful else 0.3), r.time_s + r.downtime_s)
        for r in config.edge_restarts
        if r.camera_id == camera.camera_id
    ]
    was_down = False
    for index, t_s in enumerate(frame_times.tolist()):
        if any(start <= t_s < end for start, end in outages):
            was_down = True
            continue
        if was_down:  # a new agent process: a new tracker, local ids from 1 again
            was_down = False
            tracks = {}
            next_local = 1
        xy = all_xy[index]
        visible = ~np.isnan(xy[:, 0])
        visible[visible] = camera.sees(xy[visible])
        observed: dict[int, FloatArray] = {}
        if pinhole is not None and homography is not None:
            detected, observed = _pinhole_detections(config, pinhole, homography, xy, visible, rng)
        else:
            detected = visible & (rng.random(len(people)) >= config.miss_rate)
        rows: list[tuple[int, int, FloatArray, int, int]] = []  # local id, state, xy, score, truth
        removed: list[int] = []

        # false positives: new tracklets, then the live ones
        for _ in range(int(rng.poisson(config.false_positive_rate))):
            if pinhole is not None and homography is not None:
                anchor = _pinhole_false_positive(pinhole, homography, rng)
                if anchor is None:
                    continue
            else:
                anchor = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
            length = int(rng.geometric(1.0 / config.false_positive_mean_frames))
            tracks[next_false] = _LocalTrack(next_local, -1, last_xy=anchor, frames_left=length)
            next_local += 1
            next_false -= 1
        for key in [k for k in tracks if k < 0]:
            track = tracks[key]
            if track.frames_left <= 0:
                removed.append(track.local_id)
                del tracks[key]
                continue
            track.frames_left -= 1
            track.hits += 1
            state = STATE_CONFIRMED if track.hits >= config.confirm_hits else STATE_TENTATIVE
            rows.append(
                (
                    track.local_id,
                    state,
                    track.last_xy + rng.normal(0, 0.1, 2),
                    int(rng.integers(250, 600)),
                    -1,
                )
            )

        for p, person in enumerate(people):
            pid = person.person_id
            track_or_none = tracks.get(pid)
            if detected[p]:
                if (
                    track_or_none is not None
                    and track_or_none.hits >= config.confirm_hits
                    and rng.random() < config.id_switch_rate
                ):
                    removed.append(track_or_none.local_id)
                    track_or_none = None
                if track_or_none is None:
                    track_or_none = _LocalTrack(next_local, pid)
                    next_local += 1
                    tracks[pid] = track_or_none
                track = track_or_none
                track.hits += 1
                track.misses = 0
                if pinhole is not None:
                    track.last_xy = observed[p]
                else:
                    sigma = config.noise_base_m + config.noise_per_m * float(np.hypot(*(xy[p] - camera_xy)))
                    track.last_xy = xy[p] + rng.normal(0.0, sigma, 2)
                state = STATE_CONFIRMED if track.hits >= config.confirm_hits else STATE_TENTATIVE
                rows.append((track.local_id, state, track.last_xy, int(rng.integers(550, 950)), pid))
            elif track_or_none is not None:
                track = track_or_none
                track.misses += 1
                if track.hits < config.confirm_hits or track.misses > config.track_buffer_frames:
                    removed.append(track.local_id)
                    del tracks[pid]
                else:
                    rows.append((track.local_id, STATE_LOST, track.last_xy, 0, pid))

        rows.sort(key=lambda row: row[0])
        floor_xy = np.array([row[2] for row in rows]).reshape(-1, 2)
        capture_us = EPOCH_US + round((t_s + skew_s) * 1e6)
        latency_s = 0.01 + float(rng.exponential(config.latency_mean_s))
        if rng.random() < config.late_fraction:
            latency_s += 3.0
        frames.append(
            SimCameraFrame(
                camera_id=camera.camera_id,
                sequence=index + 1,
                capture_time_us=capture_us,
                true_time_us=EPOCH_US + round(t_s * 1e6),
                arrival_time_us=EPOCH_US + round((t_s + latency_s) * 1e6),
                local_ids=np.array([row[0] for row in rows], dtype=np.int64),
                states=np.array([row[1] for row in rows], dtype=np.int64),
                bbox_xywh_px=np.round(camera.person_boxes_px(floor_xy)).astype(np.int64),
                floor_xy_cm=np.round(floor_xy * 100.0).astype(np.int64),
                score_permille=np.array([row[3] for row in rows], dtype=np.int64),
                truth_person_ids=np.array([row[4] for row in rows], dtype=np.int64),
                removed_local_ids=np.array(sorted(removed), dtype=np.int64),
            )
        )
    return frames


def _pinhole_detections(
    config: SimulationConfig,
    pinhole: PinholeCamera,
    homography: FloatArray,
    xy: FloatArray,
    visible: np.ndarray,  # type: ignore[type-arg]
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[int, FloatArray]]:  # type: ignore[type-arg]
    """Who a pinhole camera's detector finds (small boxes are missed more often) and the floor point its edge
    reports for each of them (NaN projections, beyond the fitted horizon, are dropped like the edge drops
    them)."""
    detected = np.zeros(len(xy), dtype=np.bool_)
    index = np.flatnonzero(visible)
    if index.size == 0:
        rng.random(0)
        return detected, {}
    box_height = pinhole.person_boxes_px(xy[index])[:, 3]
    miss = config.miss_rate + config.small_box_miss_rate * np.clip((120.0 - box_height) / 80.0, 0.0, 1.0)
    found = index[rng.random(index.size) >= miss]
    floor = pinhole.observe_floor_m(xy[found], homography, rng, config.jitter_fraction)
    observed: dict[int, FloatArray] = {}
    for person, point in zip(found.tolist(), floor, strict=True):
        if np.all(np.isfinite(point)):
            detected[person] = True
            observed[person] = point
    return detected, observed


def _pinhole_false_positive(
    pinhole: PinholeCamera, homography: FloatArray, rng: np.random.Generator
) -> FloatArray | None:
    """Where a false detection at a random pixel of the lower 70 % of the image lands on the floor."""
    pixel = np.array([[rng.uniform(0, pinhole.width_px), rng.uniform(0.3, 1.0) * pinhole.height_px]])
    point = project_points(homography, pixel)[0] / 100.0
    return point if np.all(np.isfinite(point)) else None


def simulate(config: SimulationConfig | None = None, layout: StoreLayout | None = None) -> SimulationResult:
    """Run the simulation; the frames come back in arrival order (as the server would receive them)."""
    config = config if config is not None else SimulationConfig()
    layout = layout if layout is not None else default_store(config.cameras)
    rng = np.random.default_rng(config.seed)
    people = _population(config, layout, rng)
    skews = {
        camera.camera_id: float(rng.uniform(-config.clock_skew_max_s, config.clock_skew_max_s))
        for camera in layout.cameras
    }
    frames: list[SimCameraFrame] = []
    for camera in layout.cameras:
        frames.extend(_camera_frames(config, camera, people, skews[camera.camera_id], rng))
    if config.appearance:
        frames = attach_appearance(config, people, frames)
    frames.sort(key=lambda frame: (frame.arrival_time_us, frame.camera_id))
    logger.info("simulated %d people, %d frames", len(people), len(frames))
    return SimulationResult(config, layout, tuple(people), tuple(frames), skews)


def attach_appearance(
    config: SimulationConfig, people: list[SimPerson], frames: list[SimCameraFrame]
) -> list[SimCameraFrame]:
    """The frames with the appearance descriptors their edge boxes would send (:mod:`simulation.appearance`):
    measured per detected row (lost rows measure nothing), sent on first sighting, on change and every 5 s."""
    clothing = dress(people, config.seed, uniform_fraction=config.uniform_fraction)
    by_camera: dict[int, list[int]] = {}
    for index, frame in enumerate(frames):
        by_camera.setdefault(frame.camera_id, []).append(index)
    out = list(frames)
    for camera_id, indices in by_camera.items():
        camera = CameraAppearance(camera_id, config.seed)
        indices.sort(key=lambda i: frames[i].sequence)
        for index in indices:
            frame = frames[index]
            detected = np.flatnonzero(frame.states != STATE_LOST)
            truth = frame.truth_person_ids[detected]
            measured = np.zeros((detected.size, 2, 16))
            real = truth > 0
            if real.any():
                shares = np.stack([clothing[int(pid)] for pid in truth[real].tolist()])
                measured[real] = camera.measure(shares, frame.bbox_xywh_px[detected[real]])
            if (~real).any():
                measured[~real] = camera.background_measurement(int((~real).sum()))
            t_s = (frame.true_time_us - EPOCH_US) / 1e6
            local_ids = frame.local_ids[detected].tolist()
            sent, descriptors = camera.send(local_ids, measured, t_s, frame.removed_local_ids.tolist())
            if sent:
                out[index] = dataclasses.replace(
                    frame, appearance_rows=detected[np.array(sent, dtype=np.int64)], appearance=descriptors
                )
    return out


__all__ = [
    "EPOCH_US",
    "STATE_CONFIRMED",
    "STATE_LOST",
    "STATE_REMOVED",
    "STATE_TENTATIVE",
    "STOCK_ROOM_LEVEL",
    "Restart",
    "SimCameraFrame",
    "SimulationConfig",
    "SimulationResult",
    "ZoneEdit",
    "attach_appearance",
    "simulate",
]
