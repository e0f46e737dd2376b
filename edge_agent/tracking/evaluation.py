"""Tracker evaluation on MOTChallenge ground truth: noisy detections from GT, MOTA / IDF1 (py-motmetrics)
and HOTA (TrackEval's HOTA class). Development tool: needs the ``dev`` extra (motmetrics, trackeval)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from edge_agent.tracking.matching import iou_matrix
from edge_agent.types import Detections

# One frame of tracker output: (ids int N, xyxy float Nx4).
FrameOutput = tuple[NDArray[np.int64], NDArray[np.float64]]


@dataclass(frozen=True, slots=True)
class GroundTruthFrame:
    ids: NDArray[np.int64]
    xyxy: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class NoiseModel:
    """How GT boxes are turned into detector-like output (seeded, so runs are comparable).

    The defaults are the team's original model (true detections score 0.5-0.95, random misses, false positives
    anywhere); ``NOISE_FAMILIES`` adds models the tracker was not designed around."""

    seed: int = 0
    position_jitter: float = 0.04  # std of centre jitter, as a fraction of box width / height
    size_jitter: float = 0.04
    miss_rate: float = 0.08
    # Extra miss probability per unit of the box's occluded fraction (covered by a person nearer the camera,
    # i.e. with a lower bottom edge): occluded people are the ones a detector misses.
    occlusion_miss: float = 0.0
    true_score_range: tuple[float, float] = (0.5, 0.95)
    occlusion_score_drop: float = 0.0  # score lowered by this times the occluded fraction
    low_score_rate: float = 0.15  # detections with a score in ``low_score_range`` (occluded-looking)
    low_score_range: tuple[float, float] = (0.15, 0.45)
    false_positives_per_frame: float = 0.6
    false_positive_near_person: float = 0.0  # fraction of false positives placed next to a true person
    false_positive_score_range: tuple[float, float] = (0.1, 0.6)


TUD_FPS = 25.0  # frame rate of the TUD sequences


@dataclass(frozen=True, slots=True)
class NoiseFamily:
    """A scene transformation of the ground truth (frame rate, density) plus a noise model."""

    name: str
    noise: NoiseModel
    frame_step: int = 1  # keep every n-th frame (TUD is 25 fps)
    mirrored_copy: bool = False  # add the sequence mirrored left-right: twice the people, walking across

    def with_seed(self, seed: int) -> NoiseModel:
        return replace(self.noise, seed=seed)

    def ground_truth(self, gt: dict[int, GroundTruthFrame]) -> dict[int, GroundTruthFrame]:
        out = gt
        if self.mirrored_copy:
            out = crowded(out)
        if self.frame_step > 1:
            out = subsampled(out, self.frame_step)
        return out

    def frame_rate(self, base_fps: float = TUD_FPS) -> float:
        return base_fps / self.frame_step


# Occlusion-driven misses, jitter proportional to box size, scores spread over 0.3-0.9, false positives next to
# people: the model the tracker was first compared with peers under (not written by the team).
_OCCLUSION = NoiseModel(
    position_jitter=0.05,
    size_jitter=0.05,
    miss_rate=0.04,
    occlusion_miss=0.8,
    true_score_range=(0.3, 0.9),
    occlusion_score_drop=0.2,
    low_score_rate=0.0,
    false_positives_per_frame=1.0,
    false_positive_near_person=0.7,
    false_positive_score_range=(0.2, 0.6),
)
NOISE_FAMILIES: tuple[NoiseFamily, ...] = (
    NoiseFamily("team", NoiseModel()),
    NoiseFamily("occlusion", _OCCLUSION),
    NoiseFamily(
        "broad-scores",
        NoiseModel(
            miss_rate=0.06,
            occlusion_miss=0.4,
            true_score_range=(0.15, 0.95),
            low_score_rate=0.0,
            false_positives_per_frame=1.5,
            false_positive_near_person=0.5,
            false_positive_score_range=(0.1, 0.7),
        ),
    ),
    NoiseFamily("crowded", _OCCLUSION, mirrored_copy=True),
    NoiseFamily("low-fps", _OCCLUSION, frame_step=3),
)


def motmetrics_data_dir() -> Path:
    import motmetrics

    return Path(motmetrics.__file__).resolve().parent / "data"


def load_mot_ground_truth(path: Path) -> dict[int, GroundTruthFrame]:
    """Read a MOTChallenge gt.txt (frame, id, x, y, w, h, ...) into per-frame arrays (frames 1 .. max)."""
    raw = np.loadtxt(path, delimiter=",", ndmin=2)
    frames: dict[int, GroundTruthFrame] = {}
    last = int(raw[:, 0].max())
    for index in range(1, last + 1):
        rows = raw[raw[:, 0] == index]
        xyxy = np.stack((rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]), axis=1)
        frames[index] = GroundTruthFrame(ids=rows[:, 1].astype(np.int64), xyxy=xyxy.reshape(-1, 4))
    return frames


def occluded_fraction(xyxy: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per box, the largest fraction of its area covered by one box nearer the camera (lower bottom edge)."""
    if len(xyxy) == 0:
        return np.zeros((0,), dtype=np.float64)
    width = np.clip(
        np.minimum(xyxy[:, None, 2], xyxy[None, :, 2]) - np.maximum(xyxy[:, None, 0], xyxy[None, :, 0]),
        0,
        None,
    )
    height = np.clip(
        np.minimum(xyxy[:, None, 3], xyxy[None, :, 3]) - np.maximum(xyxy[:, None, 1], xyxy[None, :, 1]),
        0,
        None,
    )
    area = np.maximum((xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1]), 1e-9)
    covered = width * height / area[:, None]
    nearer = xyxy[None, :, 3] > xyxy[:, None, 3]
    covered[~nearer] = 0.0
    result: NDArray[np.float64] = covered.max(axis=1)
    return result


def crowded(gt: dict[int, GroundTruthFrame]) -> dict[int, GroundTruthFrame]:
    """The sequence plus its left-right mirror image (ids offset): twice the density, people crossing."""
    all_boxes = np.concatenate([f.xyxy for f in gt.values()])
    axis = float(all_boxes[:, 0].min() + all_boxes[:, 2].max())
    offset = int(max(int(f.ids.max()) for f in gt.values() if len(f.ids)) + 1000)
    out: dict[int, GroundTruthFrame] = {}
    for index, frame in gt.items():
        mirrored = np.stack(
            (axis - frame.xyxy[:, 2], frame.xyxy[:, 1], axis - frame.xyxy[:, 0], frame.xyxy[:, 3]), axis=1
        )
        out[index] = GroundTruthFrame(
            ids=np.concatenate((frame.ids, frame.ids + offset)), xyxy=np.concatenate((frame.xyxy, mirrored))
        )
    return out


def subsampled(gt: dict[int, GroundTruthFrame], step: int) -> dict[int, GroundTruthFrame]:
    """Every ``step``-th frame, renumbered 1 .. n (a lower frame rate)."""
    kept = sorted(gt)[::step]
    return {new: gt[old] for new, old in enumerate(kept, start=1)}


def noisy_detections(gt: dict[int, GroundTruthFrame], noise: NoiseModel) -> dict[int, Detections]:
    rng = np.random.default_rng(noise.seed)
    all_boxes = np.concatenate([f.xyxy for f in gt.values()])
    extent = (all_boxes[:, [0, 1]].min(axis=0), all_boxes[:, [2, 3]].max(axis=0))
    mean_size = np.median(all_boxes[:, 2:] - all_boxes[:, :2], axis=0)
    out: dict[int, Detections] = {}
    for index, frame in gt.items():
        boxes = frame.xyxy.copy()
        occluded = occluded_fraction(boxes)
        keep = rng.random(len(boxes)) >= noise.miss_rate + noise.occlusion_miss * occluded
        boxes = boxes[keep]
        occluded = occluded[keep]
        size = boxes[:, 2:] - boxes[:, :2]
        centre = (boxes[:, :2] + boxes[:, 2:]) * 0.5 + rng.normal(
            0.0, noise.position_jitter, size.shape
        ) * size
        size = size * (1.0 + rng.normal(0.0, noise.size_jitter, size.shape))
        scores = rng.uniform(*noise.true_score_range, len(boxes))
        if noise.occlusion_score_drop:
            scores = np.clip(scores - noise.occlusion_score_drop * occluded, 0.01, 1.0)
        low = rng.random(len(boxes)) < noise.low_score_rate
        scores[low] = rng.uniform(*noise.low_score_range, int(low.sum()))
        n_fp = rng.poisson(noise.false_positives_per_frame)
        fp_size = mean_size * rng.uniform(0.6, 1.2, (n_fp, 1))
        fp_centre = rng.uniform(extent[0], extent[1], (n_fp, 2))
        if noise.false_positive_near_person and len(boxes):
            # Beside a real person (a limb, a shadow, a half-box): offset by 0.4-1 box size, the person's size.
            near = rng.random(n_fp) < noise.false_positive_near_person
            anchor = rng.integers(0, len(boxes), n_fp)
            offset = rng.uniform(0.4, 1.0, (n_fp, 2)) * rng.choice((-1.0, 1.0), (n_fp, 2)) * size[anchor]
            offset[:, 1] *= 0.3
            fp_centre[near] = ((boxes[anchor, :2] + boxes[anchor, 2:]) * 0.5 + offset)[near]
            fp_size[near] = (size[anchor] * rng.uniform(0.6, 1.1, (n_fp, 1)))[near]
        centre = np.concatenate((centre, fp_centre))
        size = np.concatenate((size, fp_size))
        scores = np.concatenate((scores, rng.uniform(*noise.false_positive_score_range, n_fp)))
        xyxy = np.concatenate((centre - size / 2, centre + size / 2), axis=1).astype(np.float32)
        order = rng.permutation(len(xyxy))
        out[index] = Detections(xyxy_px=xyxy[order], scores=scores[order].astype(np.float32))
    return out


@dataclass(frozen=True, slots=True)
class Scores:
    mota: float
    idf1: float
    hota: float
    id_switches: int
    num_frames: int


def score_sequence(gt: dict[int, GroundTruthFrame], output: dict[int, FrameOutput]) -> Scores:
    """MOTA, IDF1 and ID switches by motmetrics (IoU ≥ 0.5), HOTA by TrackEval's HOTA metric."""
    import motmetrics as mm

    accumulator = mm.MOTAccumulator(auto_id=True)
    gt_ids_t: list[NDArray[np.int64]] = []
    tr_ids_t: list[NDArray[np.int64]] = []
    similarity_t: list[NDArray[np.float64]] = []
    for index in sorted(gt):
        truth = gt[index]
        ids, boxes = output.get(index, (np.zeros((0,), np.int64), np.zeros((0, 4))))
        iou = iou_matrix(truth.xyxy, boxes)
        distance = np.where(iou >= 0.5, 1.0 - iou, np.nan)
        accumulator.update(truth.ids.tolist(), ids.tolist(), distance)
        gt_ids_t.append(truth.ids)
        tr_ids_t.append(ids)
        similarity_t.append(iou)
    host = mm.metrics.create()
    summary = host.compute(accumulator, metrics=["mota", "idf1", "num_switches"], name="seq")
    hota = _hota(gt_ids_t, tr_ids_t, similarity_t)
    return Scores(
        mota=float(summary["mota"].iloc[0]),
        idf1=float(summary["idf1"].iloc[0]),
        hota=hota,
        id_switches=int(summary["num_switches"].iloc[0]),
        num_frames=len(gt),
    )


def _relabel(per_frame: list[NDArray[np.int64]]) -> tuple[list[NDArray[np.int64]], int]:
    unique = np.unique(np.concatenate(per_frame)) if per_frame else np.zeros((0,), np.int64)
    return [np.searchsorted(unique, ids).astype(np.int64) for ids in per_frame], len(unique)


def _hota(
    gt_ids: list[NDArray[np.int64]], tr_ids: list[NDArray[np.int64]], similarity: list[NDArray[np.float64]]
) -> float:
    from trackeval.metrics import HOTA

    gt_dense, n_gt = _relabel(gt_ids)
    tr_dense, n_tr = _relabel(tr_ids)
    data = {
        "num_tracker_dets": int(sum(len(t) for t in tr_ids)),
        "num_gt_dets": int(sum(len(g) for g in gt_ids)),
        "num_gt_ids": n_gt,
        "num_tracker_ids": n_tr,
        "gt_ids": gt_dense,
        "tracker_ids": tr_dense,
        "similarity_scores": similarity,
    }
    result = HOTA().eval_sequence(data)
    return float(np.mean(result["HOTA"]))


def run_tracker(
    detections: dict[int, Detections], step: Callable[[Detections], FrameOutput]
) -> dict[int, FrameOutput]:
    return {index: step(detections[index]) for index in sorted(detections)}


def sequences() -> Iterable[tuple[str, dict[int, GroundTruthFrame]]]:
    base = motmetrics_data_dir()
    for name in ("TUD-Campus", "TUD-Stadtmitte"):
        yield name, load_mot_ground_truth(base / name / "gt.txt")
