"""Tracker speed: ms per frame at 5, 10, 20, 50, 100 and 200 people, ours vs the reference ByteTrack on the same
detections, interleaved, in the thread's CPU time by default (``--clock wall``: wall time, which on a shared
machine mostly measures the other jobs).

Reference: roboflow ``trackers.ByteTrackTracker`` (the ByteTrack that used to ship in ``supervision``;
supervision 0.31 no longer carries one), default settings. The two run in alternating order, round after
round (ours, reference, reference, ours, ...), so a change in the machine's load hits both alike; the speed-up is
the median of the per-round ratios, and ms/frame the median over rounds. Input conversion (supervision's
``Detections``) is done before timing.

``--reference PATH`` also times the tracker of another checkout (e.g. main's) on the same detections, in the same
rounds (its speed-up over the reference ByteTrack, and ours over it).

Usage: ``python benchmarks/tracker_speed.py [--frames 300] [--rounds 6] [--reference PATH]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge_agent.tracking import ByteTracker, TrackerConfig
from edge_agent.types import Detections


def synthetic_scene(people: int, frames: int, seed: int = 0) -> list[Detections]:
    """People walking with constant velocity (bouncing off the borders) in a 1920x1080 view, jittered
    boxes."""
    rng = np.random.default_rng(seed)
    width, height = 1920.0, 1080.0
    size = np.stack((rng.uniform(30, 60, people), rng.uniform(80, 150, people)), axis=1)
    position = rng.uniform((0, 0), (width - 60, height - 150), (people, 2))
    velocity = rng.normal(0, 3, (people, 2))
    out = []
    for _ in range(frames):
        position += velocity
        bounce = (position < 0) | (position + size > (width, height))
        velocity[bounce] *= -1
        jitter = rng.normal(0, 1.5, (people, 2))
        keep = rng.random(people) > 0.05
        xy = (position + jitter)[keep]
        boxes = np.concatenate((xy, xy + size[keep]), axis=1).astype(np.float32)
        scores = rng.uniform(0.2, 0.95, int(keep.sum())).astype(np.float32)
        out.append(Detections(xyxy_px=boxes, scores=scores))
    return out


# Clocks: the thread's CPU time (default: what the tracker costs, whatever else the shared machine runs) or wall
# time.
CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}


def time_ours(
    scene: list[Detections],
    clock: Callable[[], float] = time.thread_time,
    classes: tuple[type[ByteTracker], type[TrackerConfig]] = (ByteTracker, TrackerConfig),
) -> float:
    tracker = classes[0](classes[1]())
    start = clock()
    for detections in scene:
        tracker.update(detections)
    return (clock() - start) * 1000.0 / len(scene)


def reference_timer(
    scene: list[Detections], clock: Callable[[], float] = time.thread_time
) -> Callable[[], float]:
    import supervision as sv

    inputs = [sv.Detections(xyxy=d.xyxy_px.astype(np.float64), confidence=d.scores) for d in scene]

    def run() -> float:
        from trackers import ByteTrackTracker

        tracker = ByteTrackTracker()
        start = clock()
        for detections in inputs:
            tracker.update(detections)
        return (clock() - start) * 1000.0 / len(inputs)

    return run


def interleaved(
    ours: Callable[[], float], reference: Callable[[], float], rounds: int
) -> tuple[float, float, float]:
    """(ours ms, reference ms, speed-up): medians over rounds run in alternating order."""
    ours_ms: list[float] = []
    reference_ms: list[float] = []
    for round_index in range(rounds):
        if round_index % 2:
            reference_ms.append(reference())
            ours_ms.append(ours())
        else:
            ours_ms.append(ours())
            reference_ms.append(reference())
    ratios = np.array(reference_ms) / np.array(ours_ms)
    return float(np.median(ours_ms)), float(np.median(reference_ms)), float(np.median(ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--people", type=int, nargs="*", default=[5, 10, 20, 50, 100, 200])
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="cpu", help="ms/frame by thread CPU or wall time"
    )
    parser.add_argument("--reference", type=Path, help="another checkout whose tracker is timed too")
    args = parser.parse_args()
    clock = CLOCKS[args.clock]
    theirs = None
    if args.reference is not None:
        from tracker_eval import reference_tracker

        theirs = reference_tracker(args.reference.resolve())
    header = f"{'people':>6} {'ours ms/frame':>14} {'reference ms/frame':>19} {'speed-up':>9}"
    if theirs is not None:
        header += f" {'checkout ms/frame':>18} {'its speed-up':>13} {'ours / checkout':>16}"
    print(header)
    for people in args.people:
        scene = synthetic_scene(people, args.frames)
        ours, reference, speedup = interleaved(
            partial(time_ours, scene, clock), reference_timer(scene, clock), args.rounds
        )
        line = f"{people:>6} {ours:>14.3f} {reference:>19.3f} {speedup:>8.1f}x"
        if theirs is not None:
            checkout, _, its_speedup = interleaved(
                partial(time_ours, scene, clock, theirs), reference_timer(scene, clock), args.rounds
            )
            mine, _, against = interleaved(
                partial(time_ours, scene, clock), partial(time_ours, scene, clock, theirs), args.rounds
            )
            del mine
            line += f" {checkout:>18.3f} {its_speedup:>12.1f}x {1.0 / against:>15.3f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
