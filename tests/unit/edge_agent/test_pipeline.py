"""Pipeline wiring with a stub detector: per-camera isolation, projection flags, live configuration changes."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.config import AgentSettings, CameraSettings
from edge_agent.pipeline import (
    SNAPSHOT_MAX_BYTES,
    SNAPSHOT_MAX_SIDE_PX,
    NullSink,
    Pipeline,
    RateMeter,
    adapted_rate,
    encode_snapshot,
    merge_camera,
    tracker_config,
)
from edge_agent.types import Detections, RemoteCameraConfig, RemoteDeviceConfig, TrackFlag, Tracks

pytestmark = pytest.mark.timeout(60)


class StubDetector:
    name = "stub"

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        boxes = np.array([[10, 10, 30, 60], [40, 5, 60, 45]], dtype=np.float32)
        return [Detections(xyxy_px=boxes.copy(), scores=np.array([0.9, 0.8], np.float32)) for _ in images]


class RecordingSink(NullSink):
    def __init__(self) -> None:
        super().__init__()
        self.last: dict[int, Tracks] = {}

    def emit(self, camera_id: int, capture_time_us: int, tracks: Tracks) -> int:
        self.last[camera_id] = tracks
        return super().emit(camera_id, capture_time_us, tracks)


def write_video(path: Path, frames: int = 30) -> str:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (96, 72))
    for i in range(frames):
        writer.write(np.full((72, 96, 3), i, np.uint8))
    writer.release()
    return str(path)


def camera(camera_id: int, source: str, **extra: object) -> CameraSettings:
    return CameraSettings.model_validate({"camera_id": camera_id, "source": source, "pace": "fast", **extra})


def run_until(pipeline: Pipeline, predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        pipeline.step(wait_s=0.02)


def test_a_missing_camera_never_stops_the_others(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi")
    settings = AgentSettings(cameras=[camera(1, str(tmp_path / "missing.avi")), camera(2, video)])
    sink = RecordingSink()
    pipeline = Pipeline(settings, StubDetector(), sink)
    pipeline.start()
    try:
        run_until(pipeline, lambda: sink.last_sequence(2) >= 20)
        status = {c.camera_id: c for c in pipeline.status().cameras}
        assert "not found" in status[1].last_error
        assert not status[1].connected
        assert sink.last_sequence(1) == 0
        assert status[2].last_sequence >= 20
    finally:
        pipeline.close()


def test_tracks_are_projected_and_flagged(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi")
    settings = AgentSettings(
        cameras=[
            camera(1, video, homography_px_to_cm=[10, 0, 0, 0, 10, 0, 0, 0, 1],
                   floor_region_cm=[(0, 0), (450, 0), (450, 1000), (0, 1000)]),
            camera(2, video),
        ]
    )  # fmt: skip
    sink = RecordingSink()
    pipeline = Pipeline(settings, StubDetector(), sink)
    pipeline.start()
    try:
        run_until(pipeline, lambda: sink.last_sequence(1) >= 3 and sink.last_sequence(2) >= 3)
    finally:
        pipeline.close()
    calibrated = sink.last[1]
    assert len(calibrated) == 2
    order = np.argsort(calibrated.xyxy_px[:, 0])
    assert np.allclose(calibrated.floor_xy_cm[order], [[200, 600], [500, 450]], atol=1.0)
    assert calibrated.flags[order].tolist() == [0, int(TrackFlag.OUTSIDE_FLOOR_REGION)]
    assert set(sink.last[2].flags.tolist()) == {int(TrackFlag.UNCALIBRATED)}


def test_a_homography_of_either_sign_projects_onto_the_floor(tmp_path: Path) -> None:
    """A homography is defined up to sign (a ceiling camera's fit can come out with w < 0 over the floor): the
    pipeline orients it by the first frame instead of dropping every point as beyond the horizon."""
    video = write_video(tmp_path / "v.avi")
    settings = AgentSettings(cameras=[camera(1, video, homography_px_to_cm=[-10, 0, 0, 0, -10, 0, 0, 0, -1])])
    sink = RecordingSink()
    pipeline = Pipeline(settings, StubDetector(), sink)
    pipeline.start()
    try:
        run_until(pipeline, lambda: sink.last_sequence(1) >= 3)
    finally:
        pipeline.close()
    tracks = sink.last[1]
    order = np.argsort(tracks.xyxy_px[:, 0])
    assert np.allclose(tracks.floor_xy_cm[order], [[200, 600], [500, 450]], atol=1.0)
    assert tracks.flags.tolist() == [0, 0]


def remote(camera_id: int, **fields: object) -> RemoteCameraConfig:
    base: dict[str, object] = {
        "camera_id": camera_id,
        "name": "",
        "source_uri": "",
        "analysis_fps": 0.0,
        "homography_px_to_cm": None,
        "floor_region_cm": None,
        "min_score": 0.0,
        "enabled": True,
    }
    base.update(fields)
    return RemoteCameraConfig(**base)  # type: ignore[arg-type]


def test_server_config_adds_removes_and_recalibrates_without_restart(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi")
    other = write_video(tmp_path / "w.avi")
    sink = RecordingSink()
    pipeline = Pipeline(AgentSettings(cameras=[camera(1, video)]), StubDetector(), sink)
    pipeline.start()
    try:
        reader = pipeline._cameras[1].reader
        homography = (2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0)
        pipeline.apply_device_config(
            RemoteDeviceConfig(
                revision=2,
                cameras=(
                    remote(1, name="Entrance", homography_px_to_cm=homography),
                    remote(5, source_uri=other),
                ),
                heartbeat_interval_s=10,
            )
        )
        assert pipeline.camera_ids == [1, 5]
        assert pipeline._cameras[1].reader is reader  # calibration changed in place: no reopen
        run_until(pipeline, lambda: sink.last_sequence(5) >= 3 and sink.last_sequence(1) >= 3)
        run_until(pipeline, lambda: 1 in sink.last and not sink.last[1].flags.any())
        pipeline.apply_device_config(RemoteDeviceConfig(revision=3, cameras=(remote(1, enabled=False),),
                                                        heartbeat_interval_s=10))  # fmt: skip
        assert pipeline.camera_ids == []  # camera 5 gone with the config, camera 1 disabled
        pipeline.apply_device_config(RemoteDeviceConfig(revision=4, cameras=(), heartbeat_interval_s=10))
        assert pipeline.camera_ids == [1]  # back to the command-line camera
        next_id = pipeline._cameras[1].tracker.next_id
        pipeline.restart_pipeline()
        assert pipeline._cameras[1].tracker.next_id == next_id  # ids keep increasing across restarts
        run_until(pipeline, lambda: len(pipeline.snapshots(0)) == 1)
        assert pipeline.snapshots(1)[0][2].startswith(b"\xff\xd8")
    finally:
        pipeline.close()


def test_merge_keeps_local_values_where_the_server_is_silent() -> None:
    local = camera(1, "/v.avi", homography_px_to_cm=[1, 0, 0, 0, 1, 0, 0, 0, 1], min_score=0.4)
    merged = merge_camera(local, remote(1, name="Door", analysis_fps=5.0))
    assert merged is not None
    assert (merged.source, merged.name, merged.analysis_fps, merged.min_score) == ("/v.avi", "Door", 5.0, 0.4)
    assert merged.homography_px_to_cm == [1, 0, 0, 0, 1, 0, 0, 0, 1]
    assert merge_camera(None, remote(9)) is None  # a server camera without a source cannot run here
    replaced = merge_camera(local, remote(1, source_uri="rtsp://cam/1"))
    assert replaced is not None
    assert replaced.source == "rtsp://cam/1"


class FailingSink(NullSink):
    def emit(self, camera_id: int, capture_time_us: int, tracks: Tracks) -> int:
        from edge_agent.errors import SpoolError

        raise SpoolError("cannot write to spool /var/edge/spool.sqlite3: database or disk is full")


def test_a_failing_spool_loses_frames_but_keeps_the_pipeline_running(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi")
    pipeline = Pipeline(AgentSettings(cameras=[camera(1, video)]), StubDetector(), FailingSink())
    pipeline.start()
    try:
        run_until(pipeline, lambda: pipeline.frames_lost >= 5)
    finally:
        pipeline.close()
    assert "disk is full" in pipeline.last_error
    assert pipeline.frames_analysed >= 5


def test_a_snapshot_stays_within_its_size_bound() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (3000, 4000, 3), dtype=np.uint8)  # JPEG's worst case
    jpeg = encode_snapshot(noise)
    assert jpeg is not None
    assert len(jpeg) <= SNAPSHOT_MAX_BYTES
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert max(image.shape[:2]) <= SNAPSHOT_MAX_SIDE_PX
    assert image.shape[1] / image.shape[0] == pytest.approx(4 / 3, rel=0.01)  # downscaled, not distorted
    assert encode_snapshot(noise, max_bytes=100) is None  # cannot fit: nothing rather than a broken still


class SlowDetector(StubDetector):
    """A box whose CPU reaches about 4 fps whatever the camera's configured rate."""

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        time.sleep(0.25)
        return super().detect_batch(images)


def test_a_camera_s_tracker_is_sized_for_the_rate_the_box_achieves_not_the_configured_one(
    tmp_path: Path,
) -> None:
    # Configured for 10 fps, the box reaches ~4: at 10-fps sizing the lost-track buffer (10 frames) would hold a
    # lost person 2.5 s instead of 1 s, and the gates would be those of people moving 2.5 times less per frame.
    video = write_video(tmp_path / "v.avi")
    settings = AgentSettings(cameras=[camera(1, video, pace="native", analysis_fps=10.0)])
    sink = RecordingSink()
    pipeline = Pipeline(settings, SlowDetector(), sink)
    pipeline.start()
    try:
        runtime = pipeline._cameras[1]
        at_10 = tracker_config(settings.tracker, 10.0)
        assert runtime.tracker.config == at_10
        started = time.monotonic()
        run_until(
            pipeline,
            lambda: runtime.tracker.config != at_10 or time.monotonic() - started > 15.0,
            timeout_s=20.0,
        )
    finally:
        pipeline.close()
    config = runtime.tracker.config
    assert 1 <= config.lost_track_buffer_frames <= 6  # 1 s at ~4 fps (or less on a loaded machine), not 10
    assert config.first_match_max_cost > at_10.first_match_max_cost
    assert config == tracker_config(settings.tracker, runtime.sized_fps)


def test_a_file_played_in_lockstep_keeps_its_configured_sizing(tmp_path: Path) -> None:
    # "fast": the file's time advances one analysis period per analysed frame, however slowly the box runs.
    video = write_video(tmp_path / "v.avi")
    settings = AgentSettings(cameras=[camera(1, video, analysis_fps=10.0)])
    pipeline = Pipeline(settings, SlowDetector(), RecordingSink())
    pipeline.start()
    try:
        runtime = pipeline._cameras[1]
        assert runtime.rate_meter is None
        run_until(pipeline, lambda: runtime.frames_analysed >= 3)
    finally:
        pipeline.close()
    assert runtime.tracker.config == tracker_config(settings.tracker, 10.0)


def test_the_achieved_rate_is_the_median_interval_over_the_window() -> None:
    meter = RateMeter(window_s=5.0, min_frames=6)
    for i in range(8):  # 3 fps for 2.3 s: not yet half the window
        meter.add(i * 333_333)
    assert meter.rate_fps() is None
    for i in range(8, 14):  # then a 2 s stall (a reconnect), then 3 fps again
        meter.add(2_000_000 + i * 333_333)
    assert meter.rate_fps() == pytest.approx(3.0, rel=0.01)
    for i in range(14, 60):  # 20 s later only the last 5 s count: 6 fps
        meter.add(6_000_000 + i * 166_667)
    assert meter.rate_fps() == pytest.approx(6.0, rel=0.01)


def test_a_tracker_is_resized_only_when_the_rate_departs_from_its_sizing() -> None:
    assert adapted_rate(10.0, 3.1, 10.0) == pytest.approx(3.1)
    assert adapted_rate(10.0, 9.0, 10.0) is None  # within the tolerance: no resize on jitter
    assert adapted_rate(10.0, 3.3, 3.1) is None
    assert adapted_rate(10.0, 12.0, 5.0) == 10.0  # never above the configured rate
    assert adapted_rate(0.0, 14.0, 30.0) == 14.0  # "as fast as possible": the rate reached
    assert adapted_rate(10.0, None, 10.0) is None
