"""End-to-end pipeline speed on the sample video, no network: capture → detect → track → project → sink.

Prints analysed frames per second with one camera and with two cameras (two overlapping crops of the video), the
sink being either a null sink or the real on-disk spool (encoding + SQLite). Sources run "as fast as possible"
(pace fast): the reader decodes ahead and the pipeline always takes the newest frame, so the figure is the
analysis rate the box sustains. Goals on 2 cores: >= 30 fps for one camera, >= 15 fps per camera for two.

Usage: ``python benchmarks/edge_pipeline.py [--seconds 15] [--sink null|spool] [--cameras 1,2,4,8]
[--providers CUDAExecutionProvider,CPUExecutionProvider]``.
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
    parser.add_argument("--providers", default=None, help="comma-separated; default TensorRT, CUDA, CPU")
    parser.add_argument("--cameras", default="1,2", help="comma-separated camera counts to run, e.g. 1,2,4,8")
    parser.add_argument(
        "--dynamic-batch",
        action="store_true",
        help="one inference for all cameras (a dynamic-batch copy; onnx)",
    )
    parser.add_argument("--batch-buckets", choices=["auto", "on", "off"], default="auto")
    args = parser.parse_args()
    from edge_agent.detection import YoloxOptions
    from edge_agent.detection.dynamic_batch import dynamic_batch_copy

    providers = tuple(args.providers.split(",")) if args.providers else None
    model = DetectorSettings().resolved_model_path()
    scratch = tempfile.TemporaryDirectory()
    if args.dynamic_batch:
        model = dynamic_batch_copy(model, Path(scratch.name) / f"{model.stem}-dynamic-batch.onnx")
    started = time.perf_counter()
    detector = YoloxOnnxDetector(
        model,
        YoloxOptions(
            intra_op_threads=args.threads,
            providers=providers,
            batch_buckets={"auto": None, "on": True, "off": False}[args.batch_buckets],
        ),
    )
    print(
        f"detector {model.name} on {','.join(detector.providers)}, loaded in {time.perf_counter() - started:.1f} s"
    )
    video = str(sample_video_path())
    crops = ((0, 0, 760, 720), (520, 0, 760, 720))  # two overlapping views of the hall
    for count in (int(n) for n in args.cameras.split(",")):
        cameras = [
            CameraSettings(camera_id=1, source=video, pace="fast", loop=True)
            if count == 1
            else CameraSettings(
                camera_id=i + 1, source=video, pace="fast", loop=True, crop_xywh_px=crops[i % 2]
            )
            for i in range(count)
        ]
        run(cameras, args.seconds, args.sink, detector)
    print(f"batch sizes run: {sorted(detector.batch_sizes_run)}")
    scratch.cleanup()


if __name__ == "__main__":
    main()
