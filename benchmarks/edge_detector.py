"""Detector speed: ms/frame of the agent's detector and its overhead as a ratio to a bare InferenceSession.run
on the same (already letterboxed) input. Goal: ratio <= 1.15.

On a GPU box it also answers the two questions an installer has: does the accelerator give the same people as
the CPU (``--parity N``: N real frames spread over the sample video, each detection matched to the CPU's at
IoU >= 0.9, the largest score difference printed), and how much does batching the cameras into one inference buy
(``--batch 1,2,4,8``: a dynamic-batch copy of the model, made with the ``onnx`` package, run at each batch size;
ms per frame, i.e. per camera image).

Usage: ``python benchmarks/edge_detector.py [--repeats 50] [--threads N] [--model PATH]
[--providers CUDAExecutionProvider,CPUExecutionProvider] [--parity 40] [--batch 1,2,4,8]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from edge_agent.config import DetectorSettings, sample_video_path
from edge_agent.detection import YoloxOnnxDetector, YoloxOptions
from edge_agent.detection.dynamic_batch import dynamic_batch_copy
from edge_agent.tracking.matching import iou_matrix


def median_ms(function, repeats: int) -> float:  # type: ignore[no-untyped-def]
    for _ in range(3):
        function()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000.0)
    return float(np.median(timings))


def video_frames(count: int) -> list[NDArray[np.uint8]]:
    """``count`` frames spread evenly over the sample video (its first frame included)."""
    capture = cv2.VideoCapture(str(sample_video_path()))
    total = 0
    while capture.grab():  # the container's frame count can be wrong: count what decodes
        total += 1
    capture.release()
    capture = cv2.VideoCapture(str(sample_video_path()))
    wanted = {round(i * (total - 1) / max(1, count - 1)) for i in range(count)}
    frames: list[NDArray[np.uint8]] = []
    index = 0
    while len(frames) < len(wanted):
        ok, raw = capture.read()
        if not ok:
            break
        if index in wanted:
            frames.append(np.asarray(raw, dtype=np.uint8))
        index += 1
    capture.release()
    assert frames, "cannot read the sample video"
    return frames


def parity(detector: YoloxOnnxDetector, model: Path, frames: list[NDArray[np.uint8]]) -> None:
    """The same frames through a CPU-only detector: how many detections agree, and by how much their scores do."""
    cpu = YoloxOnnxDetector(model, YoloxOptions(providers=("CPUExecutionProvider",)))
    ours_total = cpu_total = matched = 0
    worst_score = 0.0
    worst_iou = 1.0
    for frame in frames:
        ours, theirs = detector.detect(frame), cpu.detect(frame)
        ours_total += len(ours)
        cpu_total += len(theirs)
        if len(ours) == 0 or len(theirs) == 0:
            continue
        iou = iou_matrix(ours.xyxy_px, theirs.xyxy_px)
        rows, columns = np.nonzero(iou >= 0.9)
        used_rows: set[int] = set()
        used_columns: set[int] = set()
        for k in np.argsort(-iou[rows, columns]):  # greedy, best overlap first
            row, column = int(rows[k]), int(columns[k])
            if row in used_rows or column in used_columns:
                continue
            used_rows.add(row)
            used_columns.add(column)
            matched += 1
            worst_iou = min(worst_iou, float(iou[row, column]))
            worst_score = max(worst_score, abs(float(ours.scores[row]) - float(theirs.scores[column])))
    print(f"parity with CPU over {len(frames)} real frames: {ours_total} vs {cpu_total} detections, "
          f"{matched} matched at IoU >= 0.9 ({matched / max(1, cpu_total):.1%} of the CPU's); "
          f"worst matched IoU {worst_iou:.4f}, largest score difference {worst_score:.4f}")  # fmt: skip


def batching(
    model: Path, options: YoloxOptions, sizes: list[int], frames: list[NDArray[np.uint8]], repeats: int
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        dynamic = dynamic_batch_copy(model, Path(directory) / f"{model.stem}-dynamic-batch.onnx")
        detector = YoloxOnnxDetector(dynamic, dataclasses.replace(options, max_batch=max(sizes)))
        single = detector.detect_batch(frames[:1])[0].xyxy_px
        per_frame = {}
        for size in sizes:
            images = [frames[i % len(frames)] for i in range(size)]
            batch_ms = median_ms(lambda images=images: detector.detect_batch(images), repeats)
            per_frame[size] = batch_ms / size
        first = detector.detect_batch([frames[0]] * max(sizes))[0].xyxy_px
        shift = float(iou_matrix(first, single).max(axis=1).min()) if len(first) and len(single) else 0.0
    print(f"batched ({dynamic.name}, providers {','.join(detector.providers)}, run at batch sizes "
          f"{sorted(detector.batch_sizes_run)}); frame 0 in a batch vs alone: {len(first)} vs {len(single)} "
          f"people, worst IoU {shift:.4f}")  # fmt: skip
    for size in sizes:
        print(f"  batch {size:2d}: {per_frame[size]:7.2f} ms per camera image "
              f"({1000.0 / per_frame[size]:6.0f} images/s; x{per_frame[sizes[0]] / per_frame[size]:.2f} "
              f"vs batch {sizes[0]})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--providers", default=None, help="comma-separated; default TensorRT, CUDA, CPU")
    parser.add_argument("--parity", type=int, default=0, help="compare with the CPU on this many real frames")
    parser.add_argument(
        "--batch", default=None, help="comma-separated batch sizes, e.g. 1,2,4,8 (needs onnx)"
    )
    args = parser.parse_args()
    model = Path(args.model or DetectorSettings().resolved_model_path())
    providers = tuple(args.providers.split(",")) if args.providers else None
    options = YoloxOptions(intra_op_threads=args.threads, providers=providers)
    started = time.perf_counter()
    detector = YoloxOnnxDetector(model, options)
    load_s = time.perf_counter() - started
    frame = video_frames(1)[0]
    session = detector.session
    started = time.perf_counter()
    detector.detect(frame)  # fills the input buffer with this frame's letterbox; the first run also warms up
    first_ms = (time.perf_counter() - started) * 1000.0
    bare_input = detector._input[:1].copy()
    feed = {detector.input_name: bare_input}

    def bare() -> None:
        session.run([detector.output_name], feed)

    def full() -> None:
        detector.detect(frame)

    # Interleave the two measurements in rounds so that load changes on the machine hit both alike.
    bare_ms, full_ms = [], []
    for _ in range(5):
        bare_ms.append(median_ms(bare, args.repeats // 5 or 1))
        full_ms.append(median_ms(full, args.repeats // 5 or 1))
    bare_median, full_median = float(np.median(bare_ms)), float(np.median(full_ms))
    people = len(detector.detect(frame))
    print(f"model {detector.model_path.name}, input {detector.input_width_px}x{detector.input_height_px}, "
          f"providers requested {','.join(detector.requested_providers)}, "
          f"running {','.join(detector.providers)}")  # fmt: skip
    print(f"session load {load_s:.2f} s, first detection {first_ms:.1f} ms")
    print(f"bare InferenceSession.run:           {bare_median:7.2f} ms/frame")
    print(f"detector (letterbox+run+decode+NMS): {full_median:7.2f} ms/frame  ({people} people on frame 0)")
    print(f"overhead ratio: {full_median / bare_median:.3f} (goal <= 1.15)")
    if args.parity:
        parity(detector, model, video_frames(args.parity))
    if args.batch:
        sizes = [int(size) for size in args.batch.split(",")]
        batching(model, options, sizes, video_frames(max(sizes)), args.repeats)


if __name__ == "__main__":
    main()
