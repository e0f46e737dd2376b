"""One reader thread per camera: open (with back-off), read, pace, crop, rate-limit, publish to a
latest-frame slot.

Frame policy: the slot holds one frame; a new frame replaces an unconsumed one (counted as a drop), so when
inference falls behind the agent analyses the newest frame and memory stays flat.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from edge_agent.backoff import Backoff
from edge_agent.capture.sources import FrameSource, is_file, open_source, redact_source, validate_image
from edge_agent.config import CameraSettings
from edge_agent.errors import SourceError
from edge_agent.types import Frame

logger = logging.getLogger(__name__)

_FAILED = "failed"
_LOOP = "loop"
_ENDED = "ended"


@dataclass(slots=True)
class CameraStats:
    """Counters of one camera (written by its reader thread, read by heartbeats)."""

    connected: bool = False
    frames_read: int = 0
    frames_published: int = 0
    dropped_frames: int = 0
    garbage_frames: int = 0
    reconnects: int = 0
    last_error: str = ""
    frame_width_px: int = 0
    frame_height_px: int = 0
    ended: bool = False


class LatestFrameSlot:
    """Single-frame mailbox: ``put`` replaces (and counts as dropped) a frame nobody took yet."""

    def __init__(self, wakeup: threading.Event | None = None) -> None:
        self._lock = threading.Lock()
        self._taken = threading.Condition(self._lock)
        self._frame: Frame | None = None
        self._wakeup = wakeup

    def put(self, frame: Frame) -> bool:
        """Store the frame; True when an unconsumed frame was replaced (dropped)."""
        with self._lock:
            dropped = self._frame is not None
            self._frame = frame
        if self._wakeup is not None:
            self._wakeup.set()
        return dropped

    def take(self) -> Frame | None:
        with self._lock:
            frame, self._frame = self._frame, None
            self._taken.notify_all()
        return frame

    def wait_until_taken(self, timeout_s: float) -> bool:
        """Block until the slot is empty (the pipeline took the frame); False on timeout."""
        with self._lock:
            return self._taken.wait_for(lambda: self._frame is None, timeout=timeout_s)


def _now_us() -> int:
    return time.time_ns() // 1000


class CameraReader(threading.Thread):
    """Reads one camera forever (until ``stop``), never raising: failures are logged, counted and retried."""

    def __init__(
        self,
        settings: CameraSettings,
        slot: LatestFrameSlot,
        opener: Callable[[str], FrameSource] = open_source,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(name=f"camera-{settings.camera_id}", daemon=True)
        self.settings = settings
        self.slot = slot
        self.stats = CameraStats()
        self._opener = opener
        self._backoff = backoff or Backoff(initial_s=0.5, max_s=30.0)
        self._stop_event = threading.Event()
        self._index = 0
        self._last_image: NDArray[np.uint8] | None = None
        self._last_capture_time_us = 0
        self._image_lock = threading.Lock()

    @property
    def camera_id(self) -> int:
        return self.settings.camera_id

    def stop(self) -> None:
        self._stop_event.set()

    def latest_image(self) -> NDArray[np.uint8] | None:
        """A copy of the last analysed-size image (for snapshots)."""
        still = self.latest_still()
        return None if still is None else still[0]

    def latest_still(self) -> tuple[NDArray[np.uint8], int] | None:
        """The last analysed-size image and its capture time (µs since the epoch), or None before the first."""
        with self._image_lock:
            if self._last_image is None:
                return None
            return self._last_image.copy(), self._last_capture_time_us

    def run(self) -> None:
        source_is_file = is_file(self.settings.source)
        first_open = True
        looping = False
        while not self._stop_event.is_set():
            try:
                capture = self._opener(self.settings.source)
            except SourceError as err:
                looping = False
                self._fail(str(err))
                continue
            except Exception as err:  # a third-party backend may raise anything; the camera must survive it
                looping = False
                self._fail(f"opening {redact_source(self.settings.source)} failed: {err!r}")
                continue
            if not first_open and not looping:
                self.stats.reconnects += 1
            first_open = False
            self.stats.connected = True
            try:
                outcome = self._read_loop(capture, source_is_file)
            finally:
                capture.release()
            looping = outcome == _LOOP
            if outcome == _ENDED:
                self.stats.connected = False
                self.stats.ended = True
                if not self._stop_event.is_set():
                    logger.info("camera %d: end of %s", self.camera_id, redact_source(self.settings.source))
                return

    def _fail(self, message: str) -> None:
        self.stats.connected = False
        self.stats.last_error = message[:512]
        delay_s = self._backoff.next_delay_s()
        logger.warning("camera %d: %s; retrying in %.1f s", self.camera_id, message, delay_s)
        self._stop_event.wait(delay_s)

    def _read_loop(self, capture: FrameSource, source_is_file: bool) -> str:
        """Read until the source fails (_FAILED), a looping file ends (_LOOP) or a file ends (_ENDED)."""
        native_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        if not 1.0 <= native_fps <= 1000.0:
            native_fps = 25.0
        pace = source_is_file and self.settings.pace == "native"
        lockstep = source_is_file and self.settings.pace == "fast"
        analysis_period_s = 1.0 / self.settings.analysis_fps if self.settings.analysis_fps > 0 else 0.0
        media_period_s = 1.0 / native_fps
        start_wall = time.monotonic()
        media_time_s = 0.0
        next_analysis_s = 0.0
        consecutive_garbage = 0
        frames_this_open = 0
        while not self._stop_event.is_set():
            try:
                ok, raw = capture.read()
            except Exception as err:  # backend failure mid-stream: reopen
                self._fail(f"reading {redact_source(self.settings.source)} failed: {err!r}")
                return _FAILED
            if not ok:
                if source_is_file:
                    if frames_this_open == 0:
                        self._fail(f"video file {redact_source(self.settings.source)} delivered no frames")
                        return _FAILED
                    return _LOOP if self.settings.loop else _ENDED
                self._fail(f"stream {redact_source(self.settings.source)} stopped delivering frames")
                return _FAILED
            self.stats.frames_read += 1
            frames_this_open += 1
            frame_time_s = media_time_s
            media_time_s += media_period_s
            if pace:
                ahead_s = media_time_s - (time.monotonic() - start_wall)
                if ahead_s > 0:
                    self._stop_event.wait(ahead_s)
                elif ahead_s < -1.0:  # far behind (slow disk, paused machine): resynchronise
                    start_wall = time.monotonic() - media_time_s
            image = validate_image(raw)
            if image is None:
                self.stats.garbage_frames += 1
                consecutive_garbage += 1
                if consecutive_garbage in (1, 100) or consecutive_garbage % 1000 == 0:
                    logger.warning(
                        "camera %d: garbage frame skipped (%d in a row)", self.camera_id, consecutive_garbage
                    )
                if consecutive_garbage >= 1000 and not source_is_file:
                    self._fail("source delivers only garbage frames")
                    return _FAILED
                continue
            consecutive_garbage = 0
            if analysis_period_s:
                now_s = frame_time_s if source_is_file else time.monotonic() - start_wall
                if now_s + 1e-9 < next_analysis_s:
                    continue
                next_analysis_s = max(next_analysis_s + analysis_period_s, now_s)
            if lockstep:
                # A file played "as fast as possible" has no real time to keep up with: decoding frames only to
                # drop them would steal CPU from inference, so wait for the pipeline instead.
                while not self.slot.wait_until_taken(0.1):
                    if self._stop_event.is_set():
                        return _ENDED
            self._publish(image)
            self.stats.last_error = ""
            self._backoff.reset()
        return _ENDED

    def _publish(self, image: NDArray[np.uint8]) -> None:
        crop = self.settings.crop_xywh_px
        if crop is not None:
            x, y, w, h = crop
            image = image[y : y + h, x : x + w]
            if image.shape[0] < 8 or image.shape[1] < 8:
                self.stats.garbage_frames += 1
                self.stats.last_error = (
                    f"crop {crop} lies outside the {redact_source(self.settings.source)} image"
                )
                return
        self.stats.frame_width_px = int(image.shape[1])
        self.stats.frame_height_px = int(image.shape[0])
        self._index += 1
        frame = Frame(camera_id=self.camera_id, image=image, capture_time_us=_now_us(), index=self._index)
        with self._image_lock:
            self._last_image = image
            self._last_capture_time_us = frame.capture_time_us
        if self.slot.put(frame):
            self.stats.dropped_frames += 1
        self.stats.frames_published += 1
