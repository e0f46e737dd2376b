"""Real two-camera check: two overlapping crops of the sample video (the demo's cameras) each go through the real
edge detector, tracker and floor projection; the server's SiteFusion fuses them. People seen by both cameras in the
overlap must become one global person each.

    python -m benchmarks.two_camera_fusion [--frames 400] [--analysis-fps 12.5]

Measure (no internals of the fusion are read): at every fused step, the left and right cameras' confirmed tracks
whose foot points lie in the overlap strip are paired by position (Hungarian, ≤ 0.8 m: the same person seen twice).
A pair is *fused* when the nearest global person to each of the two sightings is the same one (within 0.8 m).
Reported: fused pairs / all pairs, and the duplicate count (global persons in the strip beyond the larger camera
count).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from video_assets import add_asset_arguments  # noqa: E402

from edge_agent.detection.yolox_onnx import YoloxOnnxDetector  # noqa: E402
from edge_agent.geometry import FloorProjector, homography_from_values  # noqa: E402
from edge_agent.tracking.core import ByteTracker, TrackerConfig  # noqa: E402
from server.demo.cameras import CAMERA_CROPS_PX, crop_homography  # noqa: E402
from server.fusion.site import SiteFusion  # noqa: E402
from server.fusion.types import CameraObservations, FusionConfig  # noqa: E402

SAME_PERSON_M = 0.8
STATE_CONFIRMED = 2


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=400, help="video frames to read (50 fps)")
    parser.add_argument("--analysis-fps", type=float, default=12.5)
    add_asset_arguments(parser)
    args = parser.parse_args()

    detector = YoloxOnnxDetector(args.model)
    cameras = []
    for camera_id, crop in enumerate(CAMERA_CROPS_PX, start=1):
        homography, _ = crop_homography(crop)
        projector = FloorProjector(
            homography_px_to_cm=homography_from_values(np.ravel(homography)), floor_region_cm=None
        )
        cameras.append((camera_id, crop, ByteTracker(TrackerConfig()), projector))
    # The overlap strip of the two crops, in full-frame pixels: x in [520, 760).
    overlap_x0 = CAMERA_CROPS_PX[1][0]
    overlap_x1 = CAMERA_CROPS_PX[0][0] + CAMERA_CROPS_PX[0][2]
    fusion = SiteFusion(FusionConfig(site_id=1, arrival_jitter_us=0))  # as the server runs it
    capture = cv2.VideoCapture(args.video)
    fps = capture.get(cv2.CAP_PROP_FPS) or 50.0
    step = max(1, round(fps / args.analysis_fps))
    t0_us = time.time_ns() // 1000
    pairs = fused_pairs = duplicates = strip_steps = 0
    elapsed_detect = 0.0
    for index in range(args.frames):
        ok, image = capture.read()
        if not ok:
            break
        if index % step:
            continue
        t_us = t0_us + round(index * 1e6 / fps)
        sightings: dict[int, np.ndarray] = {}
        frames = []
        for camera_id, (x0, y0, w, h), tracker, projector in cameras:
            view = np.ascontiguousarray(image[y0 : y0 + h, x0 : x0 + w], dtype=np.uint8)
            started = time.perf_counter()
            detections = detector.detect(view)
            elapsed_detect += time.perf_counter() - started
            tracks = tracker.update(detections)
            floor_cm, outside = projector.project(tracks.xyxy_px)
            confirmed = tracks.states == STATE_CONFIRMED
            foot_x_full = (tracks.xyxy_px[:, 0] + tracks.xyxy_px[:, 2]) / 2 + x0
            in_strip = confirmed & (foot_x_full >= overlap_x0) & (foot_x_full < overlap_x1)
            sightings[camera_id] = floor_cm[in_strip] / 100.0
            observations = CameraObservations(
                site_id=1,
                camera_id=camera_id,
                capture_time_us=t_us,
                local_ids=tracks.ids.astype(np.int64),
                floor_xy_m=floor_cm.astype(np.float64) / 100.0,
                scores=tracks.scores.astype(np.float32),
                confirmed=confirmed,
                valid_floor=~outside & np.isfinite(floor_cm).all(axis=1),
            )
            frames += fusion.update_frames(observations)
        if not frames:
            continue
        fused = frames[-1]
        left, right = sightings.get(1, np.zeros((0, 2))), sightings.get(2, np.zeros((0, 2)))
        if len(left) == 0 or len(right) == 0 or fused.size == 0:
            continue
        strip_steps += 1
        cost = np.linalg.norm(left[:, None, :] - right[None, :, :], axis=2)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols, strict=True):
            if cost[r, c] > SAME_PERSON_M:
                continue
            pairs += 1
            to_global_l = np.linalg.norm(fused.floor_xy_m - left[r], axis=1)
            to_global_r = np.linalg.norm(fused.floor_xy_m - right[c], axis=1)
            gl, gr = int(np.argmin(to_global_l)), int(np.argmin(to_global_r))
            if gl == gr and to_global_l[gl] <= SAME_PERSON_M and to_global_r[gr] <= SAME_PERSON_M:
                fused_pairs += 1
        strip_l = fused.floor_xy_m
        x_min = min(left[:, 0].min(), right[:, 0].min()) - 0.3
        x_max = max(left[:, 0].max(), right[:, 0].max()) + 0.3
        in_strip_globals = int(((strip_l[:, 0] >= x_min) & (strip_l[:, 0] <= x_max)).sum())
        duplicates += max(0, in_strip_globals - max(len(left), len(right)))
    analysed = strip_steps
    print(
        f"two overlapping crops of {Path(args.video).name}, analysed at {args.analysis_fps} fps, "
        f"{analysed} steps with people in the overlap"
    )
    if pairs:
        print(
            f"fusion in the overlap: {fused_pairs}/{pairs} same-person sighting pairs fused into one global person "
            f"= {fused_pairs / pairs:.1%}; surplus global persons in the strip: "
            f"{duplicates / max(analysed, 1):.2f} per step"
        )
    else:
        print("no same-person pairs found in the overlap")
    print(f"detector: {1000 * elapsed_detect / max(1, 2 * analysed):.1f} ms per crop (CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
