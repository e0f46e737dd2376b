"""Retail KPI scenarios with their exact truth: door counting (groups, back-and-forth, two cameras on the door,
people crossing both ways at once) and a checkout queue (arrivals, FIFO service at one till, abandonments).

Every family is the ordinary simulator (people walking a piecewise-linear path, camera models, edge trackers)
with, where the family needs it, an edit of the people's paths; the truth is computed from those exact paths.
:func:`run_retail` runs the server's fusion + analytics on the frames as the ingest does (badge binding emulated
as :func:`simulation.evaluation.evaluate` does it: an employee matched to a fused person is bound to it).

The door is a counting line across the store's entrance: from (2, 13) to (2, 7), its in side towards +x (the
store); people appear and leave at the entrance point (0.4, 10), 1.6 m outside it. The store's front wall runs
along the line (x = 2) with the door opening at y 8..12 (:func:`simulation.layout.with_front_wall`): people come
in and go out through the opening, never through the wall beside it (before it, about 5 % of the exits walked
from the checkout straight through the wall at y ~ 6.4-7.5, round the line's end).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from server.analytics import (
    AnalyticsConfig,
    CountingLine,
    CrossingDirection,
    PersonIdentity,
    SiteAnalytics,
    Zone,
    ZoneKind,
)
from server.analytics.geometry import EdgeSet, entrance_boxes_m
from server.fusion import FusionConfig, SiteFusion
from server.fusion.types import FusedFrame
from simulation.evaluation import _Matcher, bound_employee, default_analytics_config
from simulation.layout import (
    CHECKOUT_ZONE_ID,
    DOOR_OPENING_Y_M,
    StoreLayout,
    default_store,
    with_front_wall,
)
from simulation.people import SimPerson
from simulation.scenarios_identity import identity_scenario
from simulation.simulator import EPOCH_US, SimulationConfig, SimulationResult, _camera_frames, _population
from simulation.truth import compute_truth
from simulation.walls import JAMB_CLEARANCE_M, path_length_m, route, route_knots

DOOR_FAMILIES = ("groups", "back_forth", "two_cameras", "doorway", "plain")
DOOR_LINE_ID = 100
DOOR = CountingLine(DOOR_LINE_ID, "Entrance door", ((2.0, 13.0), (2.0, 7.0)), entrance=True)
DOOR_X_M = 2.0
TILL_ZONE_ID = 101
# The till: a service zone at the head of the store's checkout queue (3..9 x 0.5..3.5).
TILL = Zone(TILL_ZONE_ID, "Till", ZoneKind.SERVICE, ((9.0, 0.5), (10.5, 0.5), (10.5, 3.5), (9.0, 3.5)))
QUEUE_HEAD_XY = (8.6, 2.0)
QUEUE_SPACING_M = 0.7


# ------------------------------------------------------------------------------------------------ door families


def door_scenario(family: str, seed: int, *, duration_s: float = 180.0) -> SimulationResult:
    """The seeded run of door family ``family`` (one of :data:`DOOR_FAMILIES`)."""
    if family == "doorway":  # newcomers beside leavers at the door, both ways at once (three cameras)
        return identity_scenario("doorway", seed, duration_s=duration_s, front_wall=True)
    cameras = 4 if family == "two_cameras" else 2  # four: cameras 1 and 3 overlap over the door (y 8..12)
    config = SimulationConfig(
        seed=seed,
        people=40,
        cameras=cameras,
        duration_s=duration_s,
        group_fraction=0.7 if family == "groups" else 0.3,
    )
    layout = with_front_wall(default_store(cameras))
    rng = np.random.default_rng(config.seed)
    people = _population(config, layout, rng)
    if family == "back_forth":
        people = _back_and_forth(people, np.random.default_rng(20_000 + seed))
    elif family != "plain" and family not in ("groups", "two_cameras"):
        raise ValueError(f"unknown door family {family!r}; known: {', '.join(DOOR_FAMILIES)}")
    return _frames(config, layout, people, rng)


def _back_and_forth(people: list[SimPerson], rng: np.random.Generator) -> list[SimPerson]:
    """A third of the visitors hesitate at the door (a step 0.15 m past the line, a stop, back out, then in); a
    sixth go in 1.5 m, stop, turn back out to the entrance and come in again (in, out, in). They do it in the door
    opening, clear of its jambs (a group's member who arrived beside its edge steps in nearer its middle)."""
    low, high = DOOR_OPENING_Y_M
    edited = list(people)
    for index, person in enumerate(people):
        if person.identity.employee_id is not None:
            continue
        draw = rng.random()
        if draw > 0.5:
            continue
        start = person.xy_m[0]
        y = float(np.clip(start[1], low + JAMB_CLEARANCE_M, high - JAMB_CLEARANCE_M))
        # Walking at about 1.2 m/s, with a 1 s stop where they turn (people stop when they hesitate).
        if draw < 1 / 3:
            knots = [(DOOR_X_M + 0.15, y, 1.5), (DOOR_X_M + 0.15, y, 1.0), (1.0, y, 1.0)]  # inside the band
        else:
            knots = [(DOOR_X_M + 1.5, y, 2.6), (DOOR_X_M + 1.5, y, 1.0), (0.6, y, 2.4), (0.6, y, 1.0)]
        times = [person.times_s[0]]
        xy = [start]
        for x_m, y_m, after_s in knots:
            times.append(times[-1] + after_s)
            xy.append(np.array([x_m, y_m]))
        shift = times[-1] + 0.8 - person.times_s[0]
        rest_t = person.times_s + shift
        edited[index] = dataclasses.replace(
            person,
            times_s=np.concatenate([np.array(times), rest_t]),
            xy_m=np.vstack([np.array(xy), person.xy_m]),
        )
    return edited


def _frames(
    config: SimulationConfig, layout: StoreLayout, people: list[SimPerson], rng: np.random.Generator
) -> SimulationResult:
    skews = {
        camera.camera_id: float(rng.uniform(-config.clock_skew_max_s, config.clock_skew_max_s))
        for camera in layout.cameras
    }
    frames = []
    for camera in layout.cameras:
        frames.extend(_camera_frames(config, camera, people, skews[camera.camera_id], rng))
    frames.sort(key=lambda frame: (frame.arrival_time_us, frame.camera_id))
    return SimulationResult(config, layout, tuple(people), tuple(frames), skews)


def door_truth(
    person: SimPerson, end_s: float, line: CountingLine = DOOR, step_s: float = 0.01
) -> list[CrossingDirection]:
    """The person's crossings of the vertical door line by its definition on their exact path up to `end_s` (the
    end of the run): a side is committed once ``hysteresis_m`` from the line for ``commit_s``, a crossing is a
    committed side change that passed through the line's span; a person who leaves the floor (or is there when the
    run ends, and the analytics are flushed) on the far side of a passage before committing counts it then
    (docs/kpis.md)."""
    times = np.arange(person.times_s[0], min(person.times_s[-1], end_s), step_s)
    if times.size == 0:
        return []
    xy = person.positions(times)
    ys = [p[1] for p in line.points_m]
    low, high = min(ys), max(ys)
    side = 0
    passed = 0
    beyond, since_s = 0, 0.0
    result: list[CrossingDirection] = []
    previous_x = float(xy[0, 0])
    for t, (x, y) in zip(times.tolist(), xy.tolist(), strict=True):
        if (previous_x - DOOR_X_M) * (x - DOOR_X_M) < 0 and low <= y <= high:
            passed += 1 if x > DOOR_X_M else -1
        previous_x = x
        offset = x - DOOR_X_M
        now_beyond = (1 if offset > 0 else -1) if abs(offset) >= line.hysteresis_m else 0
        if now_beyond != beyond:
            beyond, since_s = now_beyond, t
        if beyond and t - since_s >= line.commit_s - 1e-9:
            if beyond != side and passed * beyond > 0:
                result.append(CrossingDirection.IN if beyond > 0 else CrossingDirection.OUT)
            side, passed = beyond, 0
    # Leaving the floor (or still there when the run ends: the analytics are flushed) before committing: the
    # crossing the passages point to counts when the person is on that side of the line.
    last = float(xy[-1, 0]) - DOOR_X_M
    direction = (passed > 0) - (passed < 0)
    if passed and direction == ((last > 0) - (last < 0)) and direction != side:
        result.append(CrossingDirection.IN if direction > 0 else CrossingDirection.OUT)
    return result


# ------------------------------------------------------------------------------------------------ queue family


@dataclass(frozen=True)
class TruthWait:
    person_id: int
    joined_s: float
    served_s: float | None  # None: abandoned


def queue_scenario(seed: int, *, duration_s: float = 600.0) -> tuple[SimulationResult, list[TruthWait]]:
    """A checkout queue at one till: visitors arrive (Poisson, one every 22 s on average), walk to the back of
    the queue, move up as the queue advances, are served FIFO (service 10-30 s at the till) or give up after their
    patience (exponential, mean 150 s) and walk out. The exact truth: when each joined the queue zone and
    reached the till (their service start), or abandoned."""
    rng = np.random.default_rng(30_000 + seed)
    config = SimulationConfig(seed=seed, people=0, cameras=2, duration_s=duration_s, employee_fraction=0.0)
    base = with_front_wall(default_store(2))
    layout = dataclasses.replace(base, zones=(*base.zones, TILL))
    entrance = np.array(base.entrance_xy_m)
    walk_mps = 1.2
    arrivals = np.cumsum(rng.exponential(22.0, size=int(duration_s / 22.0 * 1.5)))
    arrivals = arrivals[arrivals < duration_s - 120.0]
    head = np.array(QUEUE_HEAD_XY)
    till_xy = np.array([9.75, 2.0])
    till_free_s = 0.0
    people: list[SimPerson] = []
    truths: list[TruthWait] = []
    plans: list[dict[str, object]] = []
    for k, arrive_s in enumerate(arrivals.tolist()):
        plans.append(
            {
                "id": k + 1,
                "arrive": arrive_s,
                "patience": float(rng.exponential(150.0)),
                "service": float(rng.uniform(10.0, 30.0)),
            }
        )
    # FIFO: service starts in arrival order, skipping those whose patience runs out first.
    queue_join: dict[int, float] = {}
    for plan in plans:
        arrive_s = float(plan["arrive"])  # type: ignore[arg-type]
        join_s = arrive_s + float(np.hypot(*(head - entrance))) / walk_mps
        queue_join[int(plan["id"])] = join_s  # type: ignore[call-overload]
        start_s = max(join_s + 1.0, till_free_s)
        if start_s - join_s > float(plan["patience"]):  # type: ignore[arg-type]
            plan["abandon"] = join_s + float(plan["patience"])  # type: ignore[arg-type]
            continue
        till_free_s = start_s + float(plan["service"])  # type: ignore[arg-type]
        plan["start"] = start_s
    # Each person's place in line over time: the number of people ahead (joined earlier, not yet left the line).
    leave_line: dict[int, float] = {}
    for plan in plans:
        pid = int(plan["id"])  # type: ignore[call-overload]
        leave_line[pid] = float(plan.get("start", plan.get("abandon", 0.0)))  # type: ignore[arg-type]
    for plan in plans:
        pid = int(plan["id"])  # type: ignore[call-overload]
        join_s = queue_join[pid]
        leave_s = leave_line[pid]
        events = sorted(
            t
            for other, t in leave_line.items()
            if other != pid and queue_join[other] < join_s and join_s < t < leave_s
        )
        ahead = sum(
            1 for other in leave_line if other != pid and queue_join[other] < join_s < leave_line[other]
        )
        times = [float(plan["arrive"])]  # type: ignore[arg-type]
        xy = [entrance]
        spot = head - np.array([QUEUE_SPACING_M * ahead, 0.0])
        times.append(join_s)
        xy.append(spot)
        for t in events:  # move up one place, 1 s after the one ahead left the line
            times.append(t)
            xy.append(spot)
            ahead -= 1
            spot = head - np.array([QUEUE_SPACING_M * ahead, 0.0])
            times.append(t + 1.0)
            xy.append(spot)
        if "start" in plan:
            start_s = float(plan["start"])  # type: ignore[arg-type]
            times.append(max(start_s - 0.9, times[-1] + 0.01))
            xy.append(head)
            times.append(start_s + 0.6)  # crossing into the till zone at start_s (0.5 m at ~0.33 m/s)
            xy.append(till_xy)
            times.append(start_s + 0.6 + float(plan["service"]))  # type: ignore[arg-type]
            xy.append(till_xy)
            served_s: float | None = start_s
        else:
            times.append(max(leave_s, times[-1] + 0.01))
            xy.append(spot)
            served_s = None
        exit_xy = np.array([xy[-1][0], 5.0])
        times.append(times[-1] + 3.0 / walk_mps)
        xy.append(exit_xy)
        out_m = path_length_m([exit_xy, *route(exit_xy, entrance, layout.walls), entrance])
        times.append(times[-1] + out_m / walk_mps)
        xy.append(entrance)
        # Through the door opening both ways: the walk in keeps the time the queue plan gave it, the walk out
        # its length at walking speed.
        knot_times, knot_xy = route_knots(np.array(times), np.array(xy), layout.walls)
        person = SimPerson(pid, PersonIdentity(), None, knot_times, knot_xy)
        people.append(person)
        truths.append(_wait_truth(person, layout.zone(CHECKOUT_ZONE_ID), served_s is not None))
    return _frames(config, layout, people, rng), truths


def _wait_truth(person: SimPerson, queue: Zone, served: bool) -> TruthWait:
    """When the exact path first enters the queue zone, and (served) the till zone."""
    times = np.arange(person.times_s[0], person.times_s[-1], 0.01)
    xy = person.positions(times)
    in_queue = EdgeSet.from_polygons([queue.polygon_array()]).contains(xy)[:, 0]
    at_till = EdgeSet.from_polygons([TILL.polygon_array()]).contains(xy)[:, 0]
    joined_s = float(times[np.argmax(in_queue)])
    served_s = float(times[np.argmax(at_till)]) if served and at_till.any() else None
    return TruthWait(person.person_id, joined_s, served_s)


# ------------------------------------------------------------------------------------------------ running


AnalyticsFactory = Callable[[AnalyticsConfig], SiteAnalytics]
_CROSSER_WINDOW_US = 1_000_000


@dataclass
class RetailRun:
    crossings: list[tuple[int, CrossingDirection, bool, int | None]] = field(default_factory=list)
    queue_visits: list[tuple[int | None, float, float | None]] = field(
        default_factory=list
    )  # person, join, wait
    queue_lengths: list[tuple[int, int]] = field(default_factory=list)  # (time µs, length)
    staff_ids: set[int] = field(default_factory=set)
    # Per crossing fused person: the truth person it followed most over its life (whom it was, where the
    # crossing's own truth person, over the second around it, can be a neighbour it swapped with for a moment).
    owners: dict[int, int | None] = field(default_factory=dict)
    # Per variant name (run_retail's `variants`): the crossings it counted on the same fused frames.
    variants: dict[str, RetailRun] = field(default_factory=dict)


def run_retail(
    result: SimulationResult,
    *,
    extra_zones: tuple[Zone, ...] = (),
    variants: Mapping[str, tuple[CountingLine, AnalyticsFactory]] | None = None,
) -> RetailRun:
    """Fusion + analytics on `result` with the door line (and `extra_zones`) configured; what they counted, each
    fused person matched to the truth person they followed. `variants` (name: door line, analytics factory) are
    fed the same fused frames and identities (a reference measured in the same run); their crossings are in
    ``RetailRun.variants``."""
    base = default_analytics_config(result, 1)
    zones = (
        tuple(z for z in base.zones if z.zone_id not in {zone.zone_id for zone in extra_zones}) + extra_zones
    )
    config: AnalyticsConfig = dataclasses.replace(
        base, zones=zones, lines=(DOOR,), distancing_smoothing_s=0.5
    )
    fusion = SiteFusion(
        FusionConfig(
            site_id=1,
            entry_regions_m=entrance_boxes_m(
                [z.polygon_m for z in config.zones if z.kind is ZoneKind.ENTRANCE]
            ),
        )
    )
    analytics = SiteAnalytics(config)
    others = {
        name: factory(dataclasses.replace(config, lines=(line,)))
        for name, (line, factory) in (variants or {}).items()
    }
    other_raw: dict[str, list[tuple[int, CrossingDirection, bool, int]]] = {name: [] for name in others}
    truth = compute_truth(result, config)
    people = result.identities()
    matcher = _Matcher()
    identities: dict[int, object] = {}
    run = RetailRun()
    raw: list[tuple[int, CrossingDirection, bool, int]] = []
    waits: list[tuple[int, int, int | None]] = []
    next_sample_us = 0

    def consume(frame: FusedFrame) -> None:
        nonlocal next_sample_us
        if frame.time_us >= next_sample_us and frame.processed_frames:
            next_sample_us = frame.time_us + 200_000
            truth_ids, truth_xy = truth.at(frame.time_us)
            for gid, _ in matcher.match(truth_ids, truth_xy, frame):
                identity = bound_employee(matcher, gid, people)
                if identity is not None:
                    identities[gid] = identity
        update = analytics.update(frame, identities)  # type: ignore[arg-type]
        _take(update)
        for name, other in others.items():
            for crossing in other.update(frame, identities).crossings:  # type: ignore[arg-type]
                other_raw[name].append(
                    (crossing.global_id, crossing.direction, crossing.staff, crossing.time_us)
                )

    def _take(update: object) -> None:
        for crossing in update.crossings:  # type: ignore[attr-defined]
            raw.append((crossing.global_id, crossing.direction, crossing.staff, crossing.time_us))
        for visit in update.queue_visits:  # type: ignore[attr-defined]
            waits.append((visit.global_id, visit.joined_us, visit.service_us))
        for status in update.queues:  # type: ignore[attr-defined]
            if status.zone_id == CHECKOUT_ZONE_ID:
                run.queue_lengths.append((update.time_us, status.length))  # type: ignore[attr-defined]
        run.staff_ids |= set(update.staff_ids)  # type: ignore[attr-defined]

    for sim_frame in result.frames:
        for frame in fusion.update_frames(sim_frame.to_observations(1)):
            consume(frame)
    for frame in fusion.flush():
        consume(frame)
    _take(analytics.flush())
    for name, other in others.items():
        for crossing in other.flush().crossings:
            other_raw[name].append((crossing.global_id, crossing.direction, crossing.staff, crossing.time_us))

    def crosser(gid: int, t_us: int) -> int | None:
        # The truth person the fused person followed over the second around the crossing (the sample nearest
        # to it alone can be a neighbour of a group walking through the door together).
        return matcher.person_during(gid, t_us - _CROSSER_WINDOW_US, t_us + _CROSSER_WINDOW_US)

    for gid, direction, staff, t_us in raw:
        # Staff is sticky over a track: a crossing before the binding is re-marked (the recorder does the same).
        run.crossings.append((gid, direction, staff or gid in run.staff_ids, crosser(gid, t_us)))
        run.owners[gid] = matcher.person_of(gid)
    for name, crossings in other_raw.items():
        run.variants[name] = RetailRun(
            crossings=[
                (gid, direction, staff or gid in run.staff_ids, crosser(gid, t_us))
                for gid, direction, staff, t_us in crossings
            ],
            owners={gid: matcher.person_of(gid) for gid, _, _, _ in crossings},
        )
    for gid, joined_us, service_us in waits:
        person = matcher.person_during(gid, joined_us, service_us or joined_us)
        wait_s = None if service_us is None else (service_us - joined_us) / 1e6
        run.queue_visits.append((person, (joined_us - EPOCH_US) / 1e6, wait_s))
    return run
