"""Wire cost and compute cost of the appearance cue on the sample video, with real YOLOX-Nano detections.

The sample video as the demo's two cameras, played once (``benchmarks/tracker_video.py``'s cached detections,
kept at the agent's detector threshold), at each analysis rate: every frame goes through what the agent runs —
colour descriptors of the kept detections on the crop's pixels (``edge_agent.appearance.describe``, timed), the
tracker with them, send on change (``AppearanceSender`` at the agent's defaults) — and each resulting frame is
encoded twice, in the same loop: with its descriptors and without them (the same tracks). Reported:

- bytes per person-update on the socket (serialized EdgeMessage{frame} + 5-byte gRPC prefix + 9-byte HTTP/2 DATA
  frame header, as ``benchmarks/wire_size.py`` counts them), with and without descriptors, and the difference;
  a person-update is one track row of one frame (the goal: <= 24 B with the descriptors, on average);
- how often descriptors travel: share of person-updates that carry one, descriptors per track per second;
- the descriptor's cost: ms per person per frame (median over frames of describe's time / detections), and per
  frame; the tracker's ms per frame with the descriptors and, on the same detections in the same loop, without.

    python benchmarks/appearance_wire.py [--analysis-fps 12.5 25] [--min-score 0.3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from tracker_video import cached_detections  # noqa: E402
from video_assets import add_asset_arguments  # noqa: E402

from edge_agent.appearance import AppearanceSender, SenderConfig, describe  # noqa: E402
from edge_agent.config import AppearanceSettings, DetectorSettings, TrackerSettings  # noqa: E402
from edge_agent.pipeline import select_appearance, tracker_config  # noqa: E402
from edge_agent.tracking import ByteTracker  # noqa: E402
from edge_agent.transport.encoder import encode_track_frame, frame_message_bytes  # noqa: E402
from edge_agent.types import Detections  # noqa: E402
from server.demo.cameras import CAMERA_CROPS_PX  # noqa: E402

GRPC_PREFIX_BYTES = 5
HTTP2_FRAME_HEADER_BYTES = 9
GOAL_BYTES_PER_PERSON = 24.0


def socket_bytes(message: bytes) -> int:
    return len(frame_message_bytes(message)) + GRPC_PREFIX_BYTES + HTTP2_FRAME_HEADER_BYTES


def run(video: Path, model: Path, analysis_fps: float, min_score: float) -> dict[str, float]:
    import cv2

    video_fps, detections = cached_detections(video, model)
    step_frames = max(1, round(video_fps / analysis_fps))
    rate = video_fps / step_frames
    settings = AppearanceSettings()
    cameras = [
        (
            ByteTracker(tracker_config(TrackerSettings(), rate)),
            AppearanceSender(SenderConfig(settings.change_threshold, settings.refresh_s)),
        )
        for _ in CAMERA_CROPS_PX
    ]
    boxes_only = [ByteTracker(tracker_config(TrackerSettings(), rate)) for _ in CAMERA_CROPS_PX]
    tracker_ms: list[float] = []
    boxes_only_ms: list[float] = []
    capture = cv2.VideoCapture(str(video))
    with_bytes = without_bytes = updates = carried = 0
    describe_ms_per_person: list[float] = []
    describe_ms_per_frame: list[float] = []
    track_seconds: dict[tuple[int, int], int] = {}
    t0_us = 1_764_000_000_000_000
    for index in range(len(detections)):
        ok, image = capture.read()
        if not ok:
            break
        if index % step_frames:
            continue
        capture_time_us = t0_us + round(index * 1e6 / video_fps)
        for camera, ((x0, y0, w, h), (tracker, sender)) in enumerate(
            zip(CAMERA_CROPS_PX, cameras, strict=True)
        ):
            found = detections[index][camera]
            keep = found.scores >= min_score
            boxes = found.xyxy_px[keep]
            crop = np.ascontiguousarray(image[y0 : y0 + h, x0 : x0 + w], dtype=np.uint8)
            started = time.perf_counter()
            shares = describe(crop, boxes)
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            if boxes.shape[0]:
                describe_ms_per_person.append(elapsed_ms / boxes.shape[0])
                describe_ms_per_frame.append(elapsed_ms)
            started = time.perf_counter()
            tracks = tracker.update(Detections(xyxy_px=boxes, scores=found.scores[keep], appearance=shares))
            tracker_ms.append((time.perf_counter() - started) * 1000.0)
            plain_detections = Detections(xyxy_px=boxes, scores=found.scores[keep])
            started = time.perf_counter()
            boxes_only[camera].update(plain_detections)
            boxes_only_ms.append((time.perf_counter() - started) * 1000.0)
            select_appearance(sender, tracks, capture_time_us)
            sequence = index + 1
            message = encode_track_frame(camera + 1, sequence, capture_time_us, tracks, 1)
            with_bytes += socket_bytes(message.SerializeToString())
            tracks.appearance = None
            plain = encode_track_frame(camera + 1, sequence, capture_time_us, tracks, 1)
            without_bytes += socket_bytes(plain.SerializeToString())
            updates += len(tracks)
            carried += len(message.appearance_rows)
            for local_id in tracks.ids.tolist():
                track_seconds[(camera, local_id)] = track_seconds.get((camera, local_id), 0) + 1
    capture.release()
    track_s = sum(track_seconds.values()) / rate
    return {
        "rate": rate,
        "updates": float(updates),
        "with": with_bytes / max(1, updates),
        "without": without_bytes / max(1, updates),
        "carried": carried / max(1, updates),
        "per_track_s": carried / max(track_s, 1e-9),
        "ms_person": float(np.median(describe_ms_per_person)) if describe_ms_per_person else 0.0,
        "ms_frame": float(np.median(describe_ms_per_frame)) if describe_ms_per_frame else 0.0,
        "people": updates / max(1, len(describe_ms_per_frame)),
        "tracker_ms": float(np.median(tracker_ms)),
        "boxes_only_ms": float(np.median(boxes_only_ms)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--analysis-fps", type=float, nargs="*", default=[12.5, 25.0])
    parser.add_argument("--min-score", type=float, default=DetectorSettings().score_threshold)
    add_asset_arguments(parser)
    args = parser.parse_args()
    print(f"{args.video.name}, two cameras {CAMERA_CROPS_PX}, played once; detections >= {args.min_score:g}")
    print(f"{'rate':>5} {'updates':>8} {'B/upd with':>11} {'B/upd without':>14} {'+B':>6} {'carrying':>9} "
          f"{'desc/track/s':>13} {'ms/person':>10} {'ms/frame':>9} {'people/frame':>13} {'tracker ms':>11} "
          f"{'w/o app ms':>11}")  # fmt: skip
    ok = True
    for fps in args.analysis_fps:
        r = run(args.video, args.model, fps, args.min_score)
        ok &= r["with"] <= GOAL_BYTES_PER_PERSON
        print(f"{r['rate']:>5.1f} {r['updates']:>8.0f} {r['with']:>11.2f} {r['without']:>14.2f} "
              f"{r['with'] - r['without']:>6.2f} {r['carried']:>9.1%} {r['per_track_s']:>13.2f} "
              f"{r['ms_person']:>10.3f} {r['ms_frame']:>9.2f} {r['people']:>13.1f} {r['tracker_ms']:>11.3f} "
              f"{r['boxes_only_ms']:>11.3f}")  # fmt: skip
    print(f"goal: <= {GOAL_BYTES_PER_PERSON:g} bytes per person per update with the descriptors: "
          f"{'met' if ok else 'NOT met'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
