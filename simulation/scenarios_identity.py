"""Scenario families that stress global identity: the cases where one real person must stay one global person.

Each family is a seeded :class:`SimulationResult` built from the ordinary simulator (people, cameras, edge
trackers) plus, where the family needs it, a post-processing of the edge frames that does what a real edge
tracker does in that situation:

``groups``
    Most visitors walk in groups of 2-3 side by side (0.8 m apart).
``doorway``
    People cross in the entrance in both directions at once: for a third of the visits, a newcomer appears at
    the door beside (0.5-0.9 m) a leaver within -0.3 .. +0.7 s of the leaver vanishing.
``single``
    Three overlapping ceiling cameras along the store, one of them alone on the entrance (the store of the
    independent test); areas near the walls are seen by one camera only.
``gaps``
    Detection gaps of 0.3-2.0 s (every camera at once: an occlusion), about one per person every 20 s. The edge
    reports the track LOST for its 1 s buffer, then removes it; a person seen again after that gets a new local
    id (tentative for its first frames).
``swaps``
    Groups, and each camera swaps the local ids of two people walking close together about every 40 s, where
    another camera sees both and has not swapped the same two within 20 s (one camera's tracker error that the
    other cameras can correct).
``skew``
    Camera clocks off by up to ±0.3 s.
``store100``
    The 100-people / 4-camera store.
``ceiling``
    Tilted ceiling cameras as real stores mount them (:func:`simulation.layout.ceiling_store`: 3 m high, 35°
    down, 90° HFOV, a row of two on the front wall facing a row of two on the back wall), with the traffic of
    ``groups`` and ``doorway`` together (most visitors in groups, a third of the single visitors arriving at
    the door beside a leaver). Far people are small in the image (a person's box ~230 px tall 4 m from the
    camera, ~80 px at 18 m; boxes under 120 px are missed more often) and the foot point's jitter,
    proportional to the box, lands on more floor per pixel the farther they are. The edge reports the bottom
    centre of the box: the nearest foot (0.12 m towards the camera) and, off the image's centre column, the
    middle of a box that leans outwards (vertical lines converge towards the nadir of a tilted camera), so
    positions are also biased sideways, away from the camera's axis (0.9 m at the image side 2 m in front of
    the camera, 0.25 m at 10 m). Seed 11: position error median 0.21 m 3-6 m from the camera, 0.39 m at
    18-21 m; two cameras' positions of one person 0.44 m apart (median; 0.21 m in ``single``).
``ceil-low``
    The same at 2.5 m, tilted 20°: flatter views, so far people are smaller (boxes ~80 px 15-18 m from the
    camera, against ~95 px in ``ceiling``), but their boxes lean less: position error median 0.29 m there
    (``ceiling`` 0.32 m).
``distorted``
    The same as ``ceiling`` through a barrel lens (k1 -0.25, k2 0.05) that the edge does not undistort: the
    installer's homography, fitted on four clicked markers, bends positions away from the markers, most near
    the image border (six cameras: the layout spaces them by the distorted view). Seed 11: position error
    median 0.4 m within 9 m of the camera, 1.6 m at 15-18 m, 4.3 m at 18-21 m.

``truth_person_ids`` stay the truth after every edit (a swapped local id follows its new person).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from simulation.layout import StoreLayout, VirtualCamera, ceiling_store, default_store, with_front_wall
from simulation.people import SimPerson
from simulation.simulator import (
    EPOCH_US,
    STATE_CONFIRMED,
    STATE_LOST,
    STATE_TENTATIVE,
    SimCameraFrame,
    SimulationConfig,
    SimulationResult,
    _camera_frames,
    _population,
    attach_appearance,
)
from simulation.walls import Wall, route_knots

FAMILIES = (
    "groups",
    "doorway",
    "single",
    "gaps",
    "swaps",
    "skew",
    "store100",
    "ceiling",
    "ceil-low",
    "distorted",
)

# The tilted ceiling families: arguments of simulation.layout.ceiling_store.
CEILING_FAMILIES: dict[str, dict[str, Any]] = {
    "ceiling": {"height_m": 3.0, "tilt_deg": 35.0},
    "ceil-low": {"height_m": 2.5, "tilt_deg": 20.0},
    "distorted": {"height_m": 3.0, "tilt_deg": 35.0, "k1": -0.25, "k2": 0.05, "distortion_corrected": False},
}

# Local ids given by the edits (a new track after a long gap) start here: never a simulator id.
_EDIT_LOCAL_BASE = 1_000_000


def three_camera_store() -> StoreLayout:
    """The default store's floor and zones seen by three ceiling cameras along its length with 3 m overlaps;
    camera 1 alone sees the entrance (x < 8 m), camera 3 alone the stock room."""
    base = default_store(2)
    cameras = (
        VirtualCamera(1, (5.5, -4.0, 6.0), (5.5, 10.0), (0.0, 0.0, 11.0, 20.0)),
        VirtualCamera(2, (15.0, 24.0, 6.0), (15.0, 10.0), (8.0, 0.0, 22.0, 20.0)),
        VirtualCamera(3, (24.5, -4.0, 6.0), (24.5, 10.0), (19.0, 0.0, 30.0, 20.0)),
    )
    return dataclasses.replace(base, cameras=cameras)


def identity_scenario(
    family: str, seed: int, *, duration_s: float = 180.0, appearance: bool = True, front_wall: bool = False
) -> SimulationResult:
    """The seeded run of scenario ``family`` (one of :data:`FAMILIES`); ``appearance``: the edges send
    appearance descriptors (False: old edges without them); ``front_wall``: the store has its front wall, people
    pass it through the door opening (:func:`simulation.layout.with_front_wall`; the door scenarios of
    :mod:`simulation.scenarios_retail`), else they walk straight to and from the entrance point."""
    walled = with_front_wall if front_wall else (lambda layout: layout)
    if family == "store100":
        config = SimulationConfig(
            seed=seed, people=100, cameras=4, duration_s=duration_s, appearance=appearance
        )
        return _run(config, walled(default_store(4)))
    if family in CEILING_FAMILIES:
        layout = walled(ceiling_store(**CEILING_FAMILIES[family]))
        config = SimulationConfig(
            seed=seed,
            people=30,
            cameras=len(layout.cameras),
            duration_s=duration_s,
            group_fraction=0.7,
            appearance=appearance,
        )
        rng = np.random.default_rng(10_000 + seed)
        return _run(config, layout, people_edit=lambda ps: _door_crossings(ps, config, rng, layout.walls))
    layout = walled(three_camera_store())
    people = 30
    if family in ("groups", "swaps"):
        config = SimulationConfig(
            seed=seed,
            people=people,
            cameras=3,
            duration_s=duration_s,
            group_fraction=0.7,
            appearance=appearance,
        )
    elif family == "skew":
        config = SimulationConfig(
            seed=seed,
            people=people,
            cameras=3,
            duration_s=duration_s,
            clock_skew_max_s=0.3,
            appearance=appearance,
        )
    elif family in ("doorway", "single", "gaps"):
        config = SimulationConfig(
            seed=seed, people=people, cameras=3, duration_s=duration_s, appearance=appearance
        )
    else:
        raise ValueError(f"unknown scenario family {family!r}; known: {', '.join(FAMILIES)}")
    edit_rng = np.random.default_rng(10_000 + seed)
    if family == "doorway":
        return _run(
            config, layout, people_edit=lambda ps: _door_crossings(ps, config, edit_rng, layout.walls)
        )
    if family == "gaps":
        return _run(config, layout, frame_edit=lambda fs, result: _gaps(fs, result, edit_rng))
    if family == "swaps":
        return _run(config, layout, frame_edit=lambda fs, result: _swaps(fs, result, edit_rng))
    return _run(config, layout)


# ---------------------------------------------------------------------------------------------------- running


def _run(
    config: SimulationConfig,
    layout: StoreLayout,
    *,
    people_edit: Callable[[list[SimPerson]], list[SimPerson]] | None = None,
    frame_edit: Callable[[list[SimCameraFrame], SimulationResult], list[SimCameraFrame]] | None = None,
) -> SimulationResult:
    """As :func:`simulation.simulator.simulate`, with the family's edits of the people and frames."""
    rng = np.random.default_rng(config.seed)
    people = _population(config, layout, rng)
    if people_edit is not None:
        people = people_edit(people)
    skews = {
        camera.camera_id: float(rng.uniform(-config.clock_skew_max_s, config.clock_skew_max_s))
        for camera in layout.cameras
    }
    frames: list[SimCameraFrame] = []
    for camera in layout.cameras:
        frames.extend(_camera_frames(config, camera, people, skews[camera.camera_id], rng))
    result = SimulationResult(config, layout, tuple(people), tuple(frames), skews)
    if frame_edit is not None:
        frames = frame_edit(frames, result)
    if config.appearance:
        frames = attach_appearance(config, people, frames)
    frames.sort(key=lambda frame: (frame.arrival_time_us, frame.camera_id))
    return SimulationResult(config, layout, tuple(people), tuple(frames), skews)


# ---------------------------------------------------------------------------------------------------- doorway


def _door_crossings(
    people: list[SimPerson],
    config: SimulationConfig,
    rng: np.random.Generator,
    walls: tuple[Wall, ...] = (),
) -> list[SimPerson]:
    """Retime a third of the visitors so that each arrives at the door beside a leaver as the leaver goes (and
    walks from there through the opening of the store's ``walls``)."""
    by_leave = sorted(range(len(people)), key=lambda i: people[i].leave_s)
    singles = [
        i for i in range(len(people)) if people[i].group_id is None and people[i].identity.employee_id is None
    ]
    rng.shuffle(singles)
    newcomers = singles[: len(people) // 3]
    leavers = [i for i in by_leave if i not in newcomers and people[i].leave_s < config.duration_s * 0.75]
    chosen: list[int] = sorted(
        int(k) for k in rng.choice(len(leavers), size=min(len(leavers), len(newcomers)), replace=False)
    )
    edited = list(people)
    for newcomer, leaver_index in zip(newcomers, chosen, strict=False):
        leaver = people[leavers[leaver_index]]
        person = people[newcomer]
        arrive_s = leaver.leave_s + float(rng.uniform(-0.3, 0.7))
        side = 1.0 if rng.random() < 0.5 else -1.0
        door = leaver.xy_m[-1] + np.array([0.0, side * float(rng.uniform(0.5, 0.9))])
        door[1] = float(np.clip(door[1], 8.3, 11.7))  # stay in the doorway
        times = person.times_s - person.times_s[0] + arrive_s
        xy = person.xy_m.copy()
        xy[0] = door
        # From the new start, through the door opening if the store has walls (the first leg keeps its time).
        times, xy = route_knots(times, xy, walls)
        edited[newcomer] = SimPerson(person.person_id, person.identity, None, times, xy)
    return edited


# ---------------------------------------------------------------------------------------------------- frame edits


@dataclasses.dataclass
class _Row:
    local_id: int
    state: int
    xy_cm: IntPair
    score: int
    truth: int
    bbox: tuple[int, int, int, int]


IntPair = tuple[int, int]


def _rows(frame: SimCameraFrame) -> list[_Row]:
    return [
        _Row(
            int(frame.local_ids[i]),
            int(frame.states[i]),
            (int(frame.floor_xy_cm[i, 0]), int(frame.floor_xy_cm[i, 1])),
            int(frame.score_permille[i]),
            int(frame.truth_person_ids[i]),
            (
                int(frame.bbox_xywh_px[i, 0]),
                int(frame.bbox_xywh_px[i, 1]),
                int(frame.bbox_xywh_px[i, 2]),
                int(frame.bbox_xywh_px[i, 3]),
            ),
        )
        for i in range(frame.local_ids.shape[0])
    ]


def _rebuild(frame: SimCameraFrame, rows: list[_Row], removed: list[int]) -> SimCameraFrame:
    rows = sorted(rows, key=lambda row: row.local_id)
    return dataclasses.replace(
        frame,
        local_ids=np.array([r.local_id for r in rows], dtype=np.int64),
        states=np.array([r.state for r in rows], dtype=np.int64),
        bbox_xywh_px=np.array([r.bbox for r in rows], dtype=np.int64).reshape(-1, 4),
        floor_xy_cm=np.array([r.xy_cm for r in rows], dtype=np.int64).reshape(-1, 2),
        score_permille=np.array([r.score for r in rows], dtype=np.int64),
        truth_person_ids=np.array([r.truth for r in rows], dtype=np.int64),
        removed_local_ids=np.array(sorted(set(removed)), dtype=np.int64),
    )


def _by_camera(frames: list[SimCameraFrame]) -> dict[int, list[SimCameraFrame]]:
    cameras: dict[int, list[SimCameraFrame]] = {}
    for frame in frames:
        cameras.setdefault(frame.camera_id, []).append(frame)
    for camera_frames in cameras.values():
        camera_frames.sort(key=lambda frame: frame.sequence)
    return cameras


def _gaps(
    frames: list[SimCameraFrame], result: SimulationResult, rng: np.random.Generator
) -> list[SimCameraFrame]:
    """Detection gaps of every camera at once (0.3-2.0 s, about one per person every 20 s of their visit)."""
    config = result.config
    gaps: dict[int, list[tuple[float, float]]] = {}
    for person in result.people:
        t = person.arrive_s + float(rng.exponential(20.0))
        while t < person.leave_s - 2.5:
            length = float(rng.uniform(0.3, 2.0))
            gaps.setdefault(person.person_id, []).append((t, t + length))
            t += length + float(rng.exponential(20.0))
    out: list[SimCameraFrame] = []
    fresh = _EDIT_LOCAL_BASE
    for camera_frames in _by_camera(frames).values():
        renamed: dict[int, int] = {}  # simulator local id -> the id after a gap that ended the edge track
        held: dict[int, tuple[int, IntPair]] = {}  # person -> (missed frames in the gap, last position)
        new_hits: dict[int, int] = {}  # renamed local id -> hits since it started
        for frame in camera_frames:
            t_s = (frame.true_time_us - EPOCH_US) / 1e6
            rows: list[_Row] = []
            removed = [renamed.get(local, local) for local in frame.removed_local_ids.tolist()]
            for row in _rows(frame):
                in_gap = row.truth > 0 and any(a <= t_s < b for a, b in gaps.get(row.truth, ()))
                if in_gap:
                    missed, last_xy = held.get(row.truth, (0, row.xy_cm))
                    if missed == 0 and row.local_id in renamed:
                        last_xy = row.xy_cm
                    missed += 1
                    held[row.truth] = (missed, last_xy)
                    local = renamed.get(row.local_id, row.local_id)
                    if missed <= config.track_buffer_frames:
                        rows.append(
                            dataclasses.replace(row, local_id=local, state=STATE_LOST, xy_cm=last_xy, score=0)
                        )
                    elif missed == config.track_buffer_frames + 1:
                        removed.append(local)
                        fresh += 1
                        renamed[row.local_id] = fresh
                        new_hits[fresh] = 0
                    continue
                if row.truth in held:
                    del held[row.truth]
                local = renamed.get(row.local_id, row.local_id)
                if local in new_hits:
                    if row.state == STATE_LOST:
                        continue  # the new edge track has not seen the person yet
                    new_hits[local] += 1
                    if new_hits[local] < config.confirm_hits:
                        row = dataclasses.replace(row, state=STATE_TENTATIVE)
                rows.append(dataclasses.replace(row, local_id=local))
            out.append(_rebuild(frame, rows, removed))
    return out


def _swaps(
    frames: list[SimCameraFrame], result: SimulationResult, rng: np.random.Generator
) -> list[SimCameraFrame]:
    """Each camera swaps the local ids of two confirmed people within 1.2 m of each other (both also seen by
    another camera) about every 40 s."""
    cameras = _by_camera(frames)
    seen_by: dict[tuple[int, int], set[int]] = {}  # (person, time bucket 100 ms) -> cameras
    for camera_id, camera_frames in cameras.items():
        for frame in camera_frames:
            bucket = frame.true_time_us // 100_000
            for pid, state in zip(frame.truth_person_ids.tolist(), frame.states.tolist(), strict=True):
                if pid > 0 and state == STATE_CONFIRMED:
                    seen_by.setdefault((pid, bucket), set()).add(camera_id)
    out: list[SimCameraFrame] = []
    swapped: list[
        tuple[frozenset[int], float]
    ] = []  # (truth pair, time): one camera's error, not every camera's
    for camera_id, camera_frames in cameras.items():
        mapping: dict[int, int] = {}  # local id -> the id it is reported as (a permutation)
        next_swap_s = float(rng.exponential(40.0))
        for frame in camera_frames:
            t_s = (frame.true_time_us - EPOCH_US) / 1e6
            rows = _rows(frame)
            if t_s >= next_swap_s:
                pair = _swap_pair(rows, frame, camera_id, seen_by)
                people = frozenset(row.truth for row in rows if pair is not None and row.local_id in pair)
                if pair is not None and not any(
                    people == done and abs(t_s - at) < 20.0 for done, at in swapped
                ):
                    swapped.append((people, t_s))
                    a, b = pair
                    ra, rb = mapping.get(a, a), mapping.get(b, b)
                    mapping[a], mapping[b] = rb, ra
                    next_swap_s = t_s + float(rng.exponential(40.0))
            for row in rows:
                row.local_id = mapping.get(row.local_id, row.local_id)
            removed = [mapping.get(local, local) for local in frame.removed_local_ids.tolist()]
            out.append(_rebuild(frame, rows, removed))
    return out


def _swap_pair(
    rows: list[_Row], frame: SimCameraFrame, camera_id: int, seen_by: dict[tuple[int, int], set[int]]
) -> tuple[int, int] | None:
    bucket = frame.true_time_us // 100_000
    candidates = [
        row
        for row in rows
        if row.truth > 0
        and row.state == STATE_CONFIRMED
        and len(seen_by.get((row.truth, bucket), set()) - {camera_id}) > 0
    ]
    best: tuple[float, int, int] | None = None
    for i, first in enumerate(candidates):
        for second in candidates[i + 1 :]:
            distance = (
                float(np.hypot(first.xy_cm[0] - second.xy_cm[0], first.xy_cm[1] - second.xy_cm[1])) / 100
            )
            if distance <= 1.2 and (best is None or distance < best[0]):
                best = (distance, first.local_id, second.local_id)
    return None if best is None else (best[1], best[2])


__all__ = ["CEILING_FAMILIES", "FAMILIES", "identity_scenario", "three_camera_store"]
