"""End-to-end pipeline speed on the sample video, no network: capture → detect → track → project → sink.

Prints analysed frames per second with one camera and with two cameras (two overlapping crops of the video), the
sink being either a null sink or the real on-disk spool (encoding + SQLite). Sources run "as fast as possible"
(pace fast): the reader decodes ahead and the pipeline always takes the newest frame, so the figure is the
analysis rate the box sustains. Goals on 2 cores: >= 30 fps for one camera, >= 15 fps per camera for two.

Usage: ``python benchmarks/edge_pipeline.py [--seconds 15] [--sink null|spool]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from edge_agent.config import AgentSettings, CameraSettings, DetectorSettings, sample_video_path
from edge_agent.detection import YoloxOnnxDetector
from edge_agent.pipeline import NullSink, Pipeline
from edge_agent.transport.sink import SpoolSink
from edge_agent.transport.spool import Spool


def run(cameras: list[CameraSettings], seconds: float, sink_kind: str, detector: YoloxOnnxDetector) -> None:
    settings = AgentSettings(cameras=cameras)
    with tempfile.TemporaryDirectory() as directory:
        spool = Spool(Path(directory) / "spool.sqlite3") if sink_kind == "spool" else None
        sink = SpoolSink(spool) if spool is not None else NullSink()
        pipeline = Pipeline(settings, detector, sink)
        pipeline.start()
        pipeline.run(max_seconds=1.0)  # warm-up: sources opened, first frames decoded
        before = pipeline.frames_analysed
        started = time.perf_counter()
        pipeline.run(max_seconds=seconds)
        elapsed = time.perf_counter() - started
        frames = pipeline.frames_analysed - before
        status = pipeline.status()
        pipeline.close()
        if spool is not None:
            spool.close()
    per_camera = frames / elapsed / len(cameras)
    drops = sum(c.dropped_frames_total for c in status.cameras)
    print(f"{len(cameras)} camera(s), {sink_kind} sink: {per_camera:6.1f} fps per camera "
          f"({frames / elapsed:6.1f} fps total, {drops} frames dropped by the latest-frame policy)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--sink", choices=["null", "spool"], default="null")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    from edge_agent.detection import YoloxOptions

    detector = YoloxOnnxDetector(
        DetectorSettings().resolved_model_path(), YoloxOptions(intra_op_threads=args.threads)
    )
    video = str(sample_video_path())
    one = [CameraSettings(camera_id=1, source=video, pace="fast", loop=True)]
    two = [
        CameraSettings(camera_id=1, source=video, pace="fast", loop=True, crop_xywh_px=(0, 0, 760, 720)),
        CameraSettings(camera_id=2, source=video, pace="fast", loop=True, crop_xywh_px=(520, 0, 760, 720)),
    ]
    run(one, args.seconds, args.sink, detector)
    run(two, args.seconds, args.sink, detector)


if __name__ == "__main__":
    main()
