"""Wires capture → detect → track → project → sink for every camera of the box.

One detector session serves all cameras: each step takes the newest frame of every camera that has one and
runs them as one batch. Tracking, projection and flags are per camera. The sink (the spool in production, a
null sink in benchmarks) assigns sequence numbers. Configuration from the server is applied without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from edge_agent import __version__
from edge_agent.appearance import AppearanceSender, SenderConfig, describe
from edge_agent.capture import CameraReader, FrameSource, LatestFrameSlot, open_source, redact_source
from edge_agent.capture.sources import is_file
from edge_agent.config import AgentSettings, AppearanceSettings, CameraSettings, TrackerSettings
from edge_agent.detection.base import Detector
from edge_agent.errors import SpoolError
from edge_agent.geometry import FloorProjector, homography_from_values
from edge_agent.tracking import ByteTracker, TrackerConfig
from edge_agent.types import (
    MAX_TRACKS_PER_FRAME,
    AgentStatus,
    CameraHealthStatus,
    Frame,
    RemoteCameraConfig,
    RemoteDeviceConfig,
    TrackFlag,
    Tracks,
    TrackState,
)

logger = logging.getLogger(__name__)

_DEFAULT_RATE_FPS = 30.0
# The achieved analysis rate is measured over this window of a camera's analysed frames...
RATE_WINDOW_S = 5.0
_RATE_MIN_FRAMES = 6
# ... and the tracker resized when it departs from the rate it is sized for by more than this fraction.
RATE_RESIZE_TOLERANCE = 0.2
# Snapshots: at most this many pixels on the long side and this many bytes (the server accepts up to 4 MiB).
SNAPSHOT_MAX_SIDE_PX = 1920
SNAPSHOT_MAX_BYTES = 1024 * 1024
_SNAPSHOT_QUALITIES = (85, 70, 55, 40)
_RESTART_FIELDS = ("source", "crop_xywh_px", "analysis_fps", "loop", "pace", "enabled")


class FrameSink(Protocol):
    def emit(self, camera_id: int, capture_time_us: int, tracks: Tracks) -> int:
        """Hand over one analysed frame; returns its sequence number."""
        ...

    def last_sequence(self, camera_id: int) -> int: ...


class NullSink:
    """Counts frames and numbers them, stores nothing (benchmarks, dry runs)."""

    def __init__(self) -> None:
        self.frames = 0
        self.tracks = 0
        self._sequences: dict[int, int] = {}

    def emit(self, camera_id: int, capture_time_us: int, tracks: Tracks) -> int:
        self.frames += 1
        self.tracks += len(tracks)
        sequence = self._sequences.get(camera_id, 0) + 1
        self._sequences[camera_id] = sequence
        return sequence

    def last_sequence(self, camera_id: int) -> int:
        return self._sequences.get(camera_id, 0)


def encode_snapshot(
    image: np.ndarray, max_side_px: int = SNAPSHOT_MAX_SIDE_PX, max_bytes: int = SNAPSHOT_MAX_BYTES
) -> bytes | None:
    """JPEG of `image` within the bounds: downscaled to `max_side_px`, then lower quality, then halved until it
    fits in `max_bytes`; None when even a small one does not (or encoding fails)."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side_px / max(height, width, 1))
    while True:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        scaled = image if scale == 1.0 else cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        for quality in _SNAPSHOT_QUALITIES:
            ok, jpeg = cv2.imencode(".jpg", scaled, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok and len(jpeg) <= max_bytes:
                return bytes(jpeg.tobytes())
        if min(size) <= 16:
            logger.warning("snapshot does not fit in %d bytes even at %dx%d px", max_bytes, *size)
            return None
        scale /= 2


def tracker_config(settings: TrackerSettings, analysis_fps: float) -> TrackerConfig:
    rate = analysis_fps if analysis_fps > 0 else _DEFAULT_RATE_FPS
    return TrackerConfig(
        high_score_threshold=settings.high_score_threshold,
        low_score_threshold=settings.low_score_threshold,
        new_track_threshold=settings.new_track_threshold,
        min_hits_to_confirm=settings.min_hits_to_confirm,
        lost_track_buffer_frames=max(1, round(settings.lost_track_buffer_s * rate)),
        report_lost=settings.report_lost,
        report_detection_boxes=settings.report_detection_boxes,
    ).with_gates_for_rate(rate)


class RateMeter:
    """A camera's achieved analysis rate: one over the median interval between its analysed frames' capture
    times over the last ``window_s`` (the median, so that one reconnect gap does not read as a slow rate);
    None until the window holds ``min_frames`` frames spread over half of it."""

    def __init__(self, window_s: float = RATE_WINDOW_S, min_frames: int = _RATE_MIN_FRAMES) -> None:
        self.window_us = window_s * 1e6
        self.min_frames = min_frames
        self._times_us: deque[int] = deque()

    def add(self, capture_time_us: int) -> None:
        times = self._times_us
        if times and capture_time_us <= times[-1]:
            return  # a clock step back: keep the window monotonic
        times.append(capture_time_us)
        while capture_time_us - times[0] > self.window_us:
            times.popleft()

    def rate_fps(self) -> float | None:
        times = self._times_us
        if len(times) < self.min_frames or times[-1] - times[0] < self.window_us / 2:
            return None
        return 1e6 / float(np.median(np.diff(np.fromiter(times, dtype=np.float64, count=len(times)))))


def adapted_rate(configured_fps: float, achieved_fps: float | None, sized_fps: float) -> float | None:
    """The rate to resize a camera's tracker for, or None to keep ``sized_fps``: the achieved rate (never above
    a configured one: that is the reader's own limit, so above it is measurement noise), once it departs from
    ``sized_fps`` by more than ``RATE_RESIZE_TOLERANCE``."""
    if achieved_fps is None or achieved_fps <= 0:
        return None
    target = min(achieved_fps, configured_fps) if configured_fps > 0 else achieved_fps
    if abs(target - sized_fps) <= RATE_RESIZE_TOLERANCE * sized_fps:
        return None
    return target


def appearance_sender(settings: AppearanceSettings) -> AppearanceSender | None:
    """The camera's send-on-change state, or None when the appearance cue is off."""
    if not settings.enabled:
        return None
    return AppearanceSender(
        SenderConfig(change_threshold=settings.change_threshold, refresh_s=settings.refresh_s)
    )


def select_appearance(sender: AppearanceSender, tracks: Tracks, capture_time_us: int) -> None:
    """Set ``tracks.appearance``: the descriptors this frame carries (changed or new ones only). A track the
    frame leaves out (beyond the ``MAX_TRACKS_PER_FRAME`` lowest ids the encoder sends) counts as not sent: the
    sender forgets it, and sends its descriptor in the first frame that carries the track."""
    if tracks.appearance_shares is None:
        return
    forget = tracks.states == TrackState.REMOVED
    if tracks.ids.shape[0] > MAX_TRACKS_PER_FRAME:
        left_out = np.ones(tracks.ids.shape[0], dtype=np.bool_)
        left_out[np.argsort(tracks.ids, kind="stable")[:MAX_TRACKS_PER_FRAME]] = False
        forget |= left_out
    tracks.appearance = sender.select(tracks.ids, tracks.appearance_shares, capture_time_us, forget)


def projector_for(camera: CameraSettings) -> FloorProjector:
    homography = (
        homography_from_values(camera.homography_px_to_cm) if camera.homography_px_to_cm is not None else None
    )
    region = np.asarray(camera.floor_region_cm, dtype=np.float64) if camera.floor_region_cm else None
    return FloorProjector(homography_px_to_cm=homography, floor_region_cm=region)


def merge_camera(local: CameraSettings | None, remote: RemoteCameraConfig) -> CameraSettings | None:
    """The server's view of a camera wins field by field; empty server fields keep the local value."""
    if local is None:
        if not remote.source_uri:
            return None
        local = CameraSettings(camera_id=remote.camera_id, source=remote.source_uri)
    update: dict[str, object] = {"enabled": remote.enabled, "analysis_fps": min(120.0, remote.analysis_fps)}
    if remote.name:
        update["name"] = remote.name
    if remote.source_uri:
        update["source"] = remote.source_uri
    if remote.homography_px_to_cm is not None:
        update["homography_px_to_cm"] = list(remote.homography_px_to_cm)
    if remote.floor_region_cm is not None:
        update["floor_region_cm"] = list(remote.floor_region_cm)
    if remote.min_score > 0:
        update["min_score"] = remote.min_score
    return CameraSettings.model_validate({**local.model_dump(), **update})


@dataclass(slots=True)
class _CameraRuntime:
    settings: CameraSettings
    reader: CameraReader
    slot: LatestFrameSlot
    tracker: ByteTracker
    projector: FloorProjector
    appearance: AppearanceSender | None = None
    frames_analysed: int = 0
    inference_time_us: float = 0.0
    rate_mark: tuple[float, int] = field(default_factory=lambda: (time.monotonic(), 0))
    # The rate the tracker is sized for (the configured one to begin with), and the meter of the achieved one;
    # None for a file played in lockstep ("fast"), whose scene time advances one analysis period per frame
    # however slowly the box analyses.
    sized_fps: float = _DEFAULT_RATE_FPS
    rate_meter: RateMeter | None = None

    def adapt_rate(self, capture_time_us: int, tracker_settings: TrackerSettings) -> None:
        """Resize the tracker's gates and buffers for the rate this camera achieves (a slow CPU analyses fewer
        frames than configured: people move further between them, and a lost track's buffer in frames spans
        more seconds)."""
        if self.rate_meter is None:
            return
        self.rate_meter.add(capture_time_us)
        target = adapted_rate(self.settings.analysis_fps, self.rate_meter.rate_fps(), self.sized_fps)
        if target is None:
            return
        self.tracker.retune(tracker_config(tracker_settings, target), velocity_scale=self.sized_fps / target)
        logger.info(
            "camera %d analyses %.1f fps: tracker resized for it (was %.1f fps)",
            self.settings.camera_id,
            target,
            self.sized_fps,
        )
        self.sized_fps = target


class Pipeline:
    """Runs until ``stop`` (or a limit) in the thread that calls ``run``; other threads call the control
    methods."""

    def __init__(
        self,
        settings: AgentSettings,
        detector: Detector,
        sink: FrameSink,
        opener: Callable[[str], FrameSource] = open_source,
    ) -> None:
        self.settings = settings
        self.detector = detector
        self.sink = sink
        self._opener = opener
        self._local_cameras = {c.camera_id: c for c in settings.cameras}
        self._desired: dict[int, CameraSettings] = dict(self._local_cameras)
        self._cameras: dict[int, _CameraRuntime] = {}
        self._retired: list[CameraReader] = []
        self._lock = threading.RLock()
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._started_at = time.monotonic()
        self.frames_analysed = 0
        self.frames_lost = 0
        self.last_error = ""

    # ---- camera set
    # -------------------------------------------------------------------------------------------

    def _start_camera(self, camera: CameraSettings, first_id: int = 1) -> None:
        slot = LatestFrameSlot(self._wakeup)
        reader = CameraReader(camera, slot, opener=self._opener)
        runtime = _CameraRuntime(
            settings=camera,
            reader=reader,
            slot=slot,
            tracker=ByteTracker(
                tracker_config(self.settings.tracker, camera.analysis_fps), first_id=first_id
            ),
            projector=projector_for(camera),
            appearance=appearance_sender(self.settings.appearance),
            sized_fps=camera.analysis_fps if camera.analysis_fps > 0 else _DEFAULT_RATE_FPS,
            rate_meter=None if is_file(camera.source) and camera.pace == "fast" else RateMeter(),
        )
        self._cameras[camera.camera_id] = runtime
        reader.start()
        logger.info(
            "camera %d (%s) started: %s",
            camera.camera_id,
            camera.name or "unnamed",
            redact_source(camera.source),
        )

    def _stop_camera(self, camera_id: int) -> int:
        runtime = self._cameras.pop(camera_id)
        runtime.reader.stop()
        self._retired = [r for r in self._retired if r.is_alive()] + [runtime.reader]
        return runtime.tracker.next_id

    def _reconcile(self) -> None:
        with self._lock:
            for camera_id in list(self._cameras):
                wanted = self._desired.get(camera_id)
                current = self._cameras[camera_id].settings
                if wanted is None or not wanted.enabled:
                    self._stop_camera(camera_id)
                    logger.info("camera %d stopped", camera_id)
                elif any(getattr(wanted, f) != getattr(current, f) for f in _RESTART_FIELDS):
                    next_id = self._stop_camera(camera_id)
                    self._start_camera(wanted, first_id=next_id)
                elif wanted != current:
                    runtime = self._cameras[camera_id]
                    runtime.projector = projector_for(wanted)
                    runtime.settings = wanted
                    logger.info("camera %d: calibration / settings updated in place", camera_id)
            for camera_id, wanted in self._desired.items():
                if camera_id not in self._cameras and wanted.enabled:
                    self._start_camera(wanted)

    def apply_device_config(self, config: RemoteDeviceConfig) -> None:
        """Server cameras override local ones by id and add new ones; local (CLI / file) cameras stay."""
        desired = dict(self._local_cameras)
        for remote in config.cameras:
            try:
                merged = merge_camera(desired.get(remote.camera_id), remote)
            except ValueError as err:
                logger.error(
                    "camera %d: invalid configuration from the server ignored: %s", remote.camera_id, err
                )
                continue
            if merged is not None:
                desired[remote.camera_id] = merged
        with self._lock:
            self._desired = desired
        self._reconcile()

    def restart_pipeline(self) -> None:
        """Reopen every source and reset trackers (ids keep increasing); the spool is untouched."""
        with self._lock:
            next_ids = {camera_id: self._stop_camera(camera_id) for camera_id in list(self._cameras)}
            for camera_id, wanted in self._desired.items():
                if wanted.enabled:
                    self._start_camera(wanted, first_id=next_ids.get(camera_id, 1))

    @property
    def camera_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._cameras)

    # ---- main loop
    # --------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._started_at = time.monotonic()
        self._reconcile()

    def stop(self) -> None:
        self._stop.set()
        self._wakeup.set()

    def close(self, join_timeout_s: float = 5.0) -> None:
        """Stop every camera and wait for the reader threads (a thread still inside a decoder at interpreter
        exit can abort the process)."""
        with self._lock:
            runtimes = list(self._cameras.values())
            for camera_id in list(self._cameras):
                self._stop_camera(camera_id)
        deadline = time.monotonic() + join_timeout_s
        for reader in [r.reader for r in runtimes] + self._retired:
            if reader.is_alive():
                reader.join(timeout=max(0.0, deadline - time.monotonic()))
        self._retired.clear()

    def run(self, max_seconds: float | None = None, max_frames: int | None = None) -> None:
        """Analyse until ``stop``, a limit, or every camera's (non-looping) file has ended."""
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        while not self._stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            if max_frames is not None and self.frames_analysed >= max_frames:
                break
            if not self.step(wait_s=0.05):
                with self._lock:
                    runtimes = list(self._cameras.values())
                if runtimes and all(r.reader.stats.ended and r.slot.take() is None for r in runtimes):
                    logger.info("every source has ended")
                    break

    def step(self, wait_s: float = 0.0) -> int:
        """Analyse the newest frame of every camera that has one; returns how many frames were analysed."""
        if wait_s > 0:
            self._wakeup.wait(wait_s)
        self._wakeup.clear()
        with self._lock:
            runtimes = list(self._cameras.values())
        batch: list[tuple[_CameraRuntime, Frame]] = []
        for runtime in runtimes:
            frame = runtime.slot.take()
            if frame is not None:
                batch.append((runtime, frame))
        if not batch:
            return 0
        started = time.perf_counter()
        detections = self.detector.detect_batch([frame.image for _, frame in batch])
        per_frame_us = (time.perf_counter() - started) * 1e6 / len(batch)
        for (runtime, frame), found in zip(batch, detections, strict=True):
            threshold = runtime.settings.min_score
            if threshold > 0:
                keep = found.scores >= threshold
                found.xyxy_px, found.scores = found.xyxy_px[keep], found.scores[keep]
            if runtime.appearance is not None:
                found.appearance = describe(frame.image, found.xyxy_px)
            runtime.adapt_rate(frame.capture_time_us, self.settings.tracker)
            tracks = runtime.tracker.update(found)
            self._project(runtime.projector, tracks, frame.width_px, frame.height_px)
            if runtime.appearance is not None:
                select_appearance(runtime.appearance, tracks, frame.capture_time_us)
            try:
                self.sink.emit(frame.camera_id, frame.capture_time_us, tracks)
            except SpoolError as err:  # disk full or damaged: this frame is lost, the box keeps running
                self.frames_lost += 1
                if runtime.appearance is not None and tracks.appearance is not None:
                    runtime.appearance.forget(tracks.ids[np.any(tracks.appearance, axis=1)])
                self.last_error = str(err)
                if self.frames_lost in (1, 10, 100) or self.frames_lost % 1000 == 0:
                    logger.error(
                        "frame of camera %d lost (%d so far): %s", frame.camera_id, self.frames_lost, err
                    )
            runtime.frames_analysed += 1
            runtime.inference_time_us = (
                per_frame_us
                if runtime.frames_analysed == 1
                else 0.9 * runtime.inference_time_us + 0.1 * per_frame_us
            )
        self.frames_analysed += len(batch)
        return len(batch)

    @staticmethod
    def _project(projector: FloorProjector, tracks: Tracks, width_px: int, height_px: int) -> None:
        floor, outside = projector.project(tracks.xyxy_px, (width_px, height_px))
        tracks.floor_xy_cm = floor
        flags = np.zeros(len(tracks), dtype=np.uint32)
        if projector.homography_px_to_cm is None:
            flags |= np.uint32(TrackFlag.UNCALIBRATED)
        flags[outside] |= np.uint32(TrackFlag.OUTSIDE_FLOOR_REGION)
        tracks.flags = flags

    # ---- reporting
    # --------------------------------------------------------------------------------------------

    def status(self) -> AgentStatus:
        now = time.monotonic()
        cameras = []
        with self._lock:
            runtimes = list(self._cameras.values())
        for runtime in runtimes:
            mark_time, mark_frames = runtime.rate_mark
            elapsed = now - mark_time
            fps = (runtime.frames_analysed - mark_frames) / elapsed if elapsed > 0 else 0.0
            if elapsed >= 1.0:
                runtime.rate_mark = (now, runtime.frames_analysed)
            stats = runtime.reader.stats
            cameras.append(
                CameraHealthStatus(
                    camera_id=runtime.settings.camera_id,
                    connected=stats.connected,
                    analysed_fps=fps,
                    inference_time_us=int(runtime.inference_time_us),
                    dropped_frames_total=stats.dropped_frames,
                    reconnects_total=stats.reconnects,
                    last_sequence=self.sink.last_sequence(runtime.settings.camera_id),
                    last_error=stats.last_error,
                    frame_width_px=stats.frame_width_px,
                    frame_height_px=stats.frame_height_px,
                )
            )
        return AgentStatus(uptime_s=now - self._started_at, software_version=__version__, cameras=cameras)

    def snapshots(self, camera_id: int) -> list[tuple[int, int, bytes]]:
        """(camera_id, capture_time_us, jpeg) of the newest frame of the camera (0 = every camera): the only
        image that ever leaves the box, sent when an installer asks for it."""
        with self._lock:
            runtimes = [r for cid, r in self._cameras.items() if camera_id in (0, cid)]
        out = []
        for runtime in runtimes:
            still = runtime.reader.latest_still()
            if still is None:
                logger.warning(
                    "snapshot of camera %d asked for before its first frame", runtime.settings.camera_id
                )
                continue
            jpeg = encode_snapshot(still[0])
            if jpeg is not None:
                out.append((runtime.settings.camera_id, still[1], jpeg))
        return out

    def reader_stats(self) -> dict[int, object]:
        with self._lock:
            return {cid: r.reader.stats for cid, r in self._cameras.items()}
