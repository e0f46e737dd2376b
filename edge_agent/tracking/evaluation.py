"""Tracker evaluation on MOTChallenge ground truth: noisy detections from GT, MOTA / IDF1 (py-motmetrics)
and HOTA (TrackEval's HOTA class). Development tool: needs the ``dev`` extra (motmetrics, trackeval)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
    """How GT boxes are turned into detector-like output (seeded, so runs are comparable)."""

    seed: int = 0
    position_jitter: float = 0.04  # std of centre jitter, as a fraction of box width / height
    size_jitter: float = 0.04
    miss_rate: float = 0.08
    low_score_rate: float = 0.15  # detections with a score in 0.15 .. 0.45 (occluded-looking)
    false_positives_per_frame: float = 0.6


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


def noisy_detections(gt: dict[int, GroundTruthFrame], noise: NoiseModel) -> dict[int, Detections]:
    rng = np.random.default_rng(noise.seed)
    all_boxes = np.concatenate([f.xyxy for f in gt.values()])
    extent = (all_boxes[:, [0, 1]].min(axis=0), all_boxes[:, [2, 3]].max(axis=0))
    mean_size = np.median(all_boxes[:, 2:] - all_boxes[:, :2], axis=0)
    out: dict[int, Detections] = {}
    for index, frame in gt.items():
        boxes = frame.xyxy.copy()
        keep = rng.random(len(boxes)) >= noise.miss_rate
        boxes = boxes[keep]
        size = boxes[:, 2:] - boxes[:, :2]
        centre = (boxes[:, :2] + boxes[:, 2:]) * 0.5 + rng.normal(
            0.0, noise.position_jitter, size.shape
        ) * size
        size = size * (1.0 + rng.normal(0.0, noise.size_jitter, size.shape))
        scores = rng.uniform(0.5, 0.95, len(boxes))
        low = rng.random(len(boxes)) < noise.low_score_rate
        scores[low] = rng.uniform(0.15, 0.45, int(low.sum()))
        n_fp = rng.poisson(noise.false_positives_per_frame)
        fp_size = mean_size * rng.uniform(0.6, 1.2, (n_fp, 1))
        fp_centre = rng.uniform(extent[0], extent[1], (n_fp, 2))
        centre = np.concatenate((centre, fp_centre))
        size = np.concatenate((size, fp_size))
        scores = np.concatenate((scores, rng.uniform(0.1, 0.6, n_fp)))
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
