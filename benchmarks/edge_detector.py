"""Detector speed: ms/frame of the agent's detector and its overhead as a ratio to a bare InferenceSession.run
on the same (already letterboxed) input. Goal: ratio <= 1.15.

Usage: ``python benchmarks/edge_detector.py [--repeats 50] [--threads N] [--model PATH]``.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from edge_agent.config import DetectorSettings, sample_video_path
from edge_agent.detection import YoloxOnnxDetector, YoloxOptions


def median_ms(function, repeats: int) -> float:  # type: ignore[no-untyped-def]
    for _ in range(3):
        function()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000.0)
    return float(np.median(timings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    model = args.model or DetectorSettings().resolved_model_path()
    detector = YoloxOnnxDetector(model, YoloxOptions(intra_op_threads=args.threads))
    capture = cv2.VideoCapture(str(sample_video_path()))
    ok, raw = capture.read()
    capture.release()
    assert ok, "cannot read the sample video"
    frame = np.asarray(raw, dtype=np.uint8)
    session = detector.session
    detector.detect(frame)  # fills the input buffer with this frame's letterbox
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
          f"providers {','.join(detector.providers)}")  # fmt: skip
    print(f"bare InferenceSession.run:           {bare_median:7.2f} ms/frame")
    print(f"detector (letterbox+run+decode+NMS): {full_median:7.2f} ms/frame  ({people} people on frame 0)")
    print(f"overhead ratio: {full_median / bare_median:.3f} (goal <= 1.15)")


if __name__ == "__main__":
    main()
