"""Same outputs check for the tracker: this tree's ``ByteTracker`` and a reference checkout's, frame by frame.

Both trackers (the reference imported from its own checkout, as ``tracker_eval --reference`` does) get the very
same detections and must report the very same tracks, bit for bit: ids, states, boxes, scores and, where the
detections carry colour descriptors, the tracks' smoothed colour shares. Inputs:

- every noise family of ``edge_agent.tracking.evaluation`` on both TUD sequences (``--seeds``, default the
  held-out 2000-2019), at the defaults sized for the family's frame rate;
- the TUD ground truth itself as detections (score 0.9);
- the occlusion and crowded families with synthetic colour descriptors (per true person, with noise; false
  positives random), so the appearance veto and the wider re-acquisition run;
- ``tracker_speed``'s synthetic scenes at 5-200 people (the solver's path for big conflicts);
- a few non-default configs (score fusion, tentative tracks reported, no lost ones, one hit to confirm, no
  lost-track buffer, a gate above 1).

Usage: ``python benchmarks/tracker_identical.py --reference /path/to/main [--seeds 2000 2001 ...]``. Exit
status 1 when any frame differs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker_eval import reference_tracker
from tracker_speed import synthetic_scene

from edge_agent.tracking import ByteTracker, TrackerConfig
from edge_agent.tracking.evaluation import NOISE_FAMILIES, GroundTruthFrame, noisy_detections, sequences
from edge_agent.types import Detections, Tracks

Case = tuple[str, float, dict[str, object], list[Detections]]


def with_appearance(
    detections: dict[int, Detections], gt: dict[int, GroundTruthFrame], seed: int
) -> list[Detections]:
    """The detections with colour descriptors: a detection overlapping a true person (IoU >= 0.5) gets that
    person's colours plus noise, any other one random colours; a tenth have an unmeasurable lower part."""
    rng = np.random.default_rng(seed)
    palette: dict[int, np.ndarray] = {}
    out = []
    for index in sorted(detections):
        found = detections[index]
        truth = gt[index]
        shares = rng.dirichlet(np.full(16, 0.3), (len(found), 2))
        if len(truth.ids) and len(found):
            from edge_agent.tracking.matching import iou_matrix

            iou = iou_matrix(found.xyxy_px.astype(np.float64), truth.xyxy)
            best = iou.argmax(axis=1)
            for k in range(len(found)):
                if iou[k, best[k]] >= 0.5:
                    person = int(truth.ids[best[k]])
                    if person not in palette:
                        palette[person] = rng.dirichlet(np.full(16, 0.3), 2)
                    noisy = palette[person] + rng.normal(0.0, 0.005, (2, 16))
                    noisy = np.clip(noisy, 0.0, None)
                    shares[k] = noisy / noisy.sum(axis=1, keepdims=True)
        shares[rng.random(len(found)) < 0.1, 1] = 0.0
        out.append(Detections(found.xyxy_px, found.scores, shares.astype(np.float32)))
    return out


def cases(seeds: list[int]) -> Iterator[Case]:
    tud = list(sequences())
    for family in NOISE_FAMILIES:
        fps = family.frame_rate()
        for name, raw in tud:
            gt = family.ground_truth(raw)
            for seed in seeds:
                found = noisy_detections(gt, family.with_seed(seed))
                yield f"{family.name} {name} seed {seed}", fps, {}, [found[i] for i in sorted(found)]
                if family.name in ("occlusion", "crowded"):
                    yield (
                        f"{family.name}+appearance {name} seed {seed}",
                        fps,
                        {},
                        with_appearance(found, gt, seed),
                    )
    for name, raw in tud:
        clean = [
            Detections(raw[i].xyxy.astype(np.float32), np.full(len(raw[i].ids), 0.9, dtype=np.float32))
            for i in sorted(raw)
        ]
        yield f"TUD ground truth {name}", 25.0, {}, clean
    for people in (5, 10, 20, 50, 100, 200):
        yield f"synthetic {people} people", 30.0, {}, synthetic_scene(people, 150, seed=people)
    occlusion = NOISE_FAMILIES[1]
    name, raw = tud[1]
    found = noisy_detections(occlusion.ground_truth(raw), occlusion.with_seed(seeds[0]))
    frames = [found[i] for i in sorted(found)]
    configs: list[dict[str, object]] = [
        {"fuse_score": True},
        {"report_tentative": True},
        {"report_lost": False},
        {"report_lost": False, "report_tentative": True},
        {"min_hits_to_confirm": 1},
        {"lost_track_buffer_frames": 0},
        {"report_detection_boxes": False},
        {"lost_match_max_cost": 0.5},
        {"tentative_match_max_cost": 1.0, "high_score_threshold": 0.5, "new_track_threshold": 0.4},
    ]
    for overrides in configs:
        yield f"occlusion {name} seed {seeds[0]} {overrides}", 25.0, overrides, frames


def outputs(
    tracker_class: type[ByteTracker],
    config_class: type[TrackerConfig],
    fps: float,
    overrides: dict[str, object],
    frames: list[Detections],
) -> list[Tracks]:
    config = config_class(**overrides).scaled_to_rate(fps)  # type: ignore[arg-type]
    tracker = tracker_class(config)
    return [tracker.update(found) for found in frames]


def difference(a: Tracks, b: Tracks) -> str | None:
    fields: dict[str, Callable[[Tracks], object]] = {
        "ids": lambda t: t.ids,
        "states": lambda t: t.states,
        "xyxy_px": lambda t: t.xyxy_px,
        "scores": lambda t: t.scores,
        "floor_xy_cm": lambda t: t.floor_xy_cm,
        "flags": lambda t: t.flags,
        "appearance_shares": lambda t: t.appearance_shares,
    }
    for field, get in fields.items():
        x, y = get(a), get(b)
        if x is None or y is None:
            if x is not y:
                return f"{field}: {x is None} vs {y is None} (None)"
            continue
        assert isinstance(x, np.ndarray)
        assert isinstance(y, np.ndarray)
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            return f"{field}: {x!r} vs {y!r}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference", type=Path, required=True, help="checkout to compare with")
    parser.add_argument("--seeds", type=int, nargs="*", default=list(range(2000, 2020)))
    args = parser.parse_args()
    theirs = reference_tracker(args.reference.resolve())
    differing = 0
    total_frames = 0
    count = 0
    for name, fps, overrides, frames in cases(args.seeds):
        mine = outputs(ByteTracker, TrackerConfig, fps, overrides, frames)
        reference = outputs(theirs[0], theirs[1], fps, overrides, frames)
        count += 1
        total_frames += len(frames)
        for index, (a, b) in enumerate(zip(mine, reference, strict=True)):
            why = difference(a, b)
            if why is not None:
                differing += 1
                print(f"DIFFERENT {name}, frame {index + 1}: {why}")
                break
    print(f"{count} runs, {total_frames} frames: {count - differing} identical, {differing} different")
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
