"""Reorder buffer: hands TrackFrames of several cameras to fusion in capture-time order.

Rule (exact): a frame is *released* once its capture time is at or below the watermark

    watermark = max(min(latest capture time of each live camera) - jitter, newest capture time seen - window)

where ``jitter`` lets a camera's own frames arrive slightly out of order and a camera is live while its
latest capture time is within ``camera_silence_us`` of the newest capture time. So a frame waits until every
live camera has reported a later frame, but never longer than the window. A frame whose capture time is below
the capture time of the last released frame arrives too late: it is dropped and counted.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from dataclasses import dataclass, field

from server.fusion.types import CameraObservations

logger = logging.getLogger(__name__)


@dataclass(order=True)
class _Entry:
    capture_time_us: int
    arrival: int
    observations: CameraObservations = field(compare=False)


class ReorderBuffer:
    """Capture-time ordering of the frames of one site with a bounded wait (see module docstring)."""

    def __init__(self, *, window_us: int, camera_silence_us: int, jitter_us: int = 0) -> None:
        self._window_us = window_us
        self._jitter_us = jitter_us
        self._camera_silence_us = camera_silence_us
        self._heap: list[_Entry] = []
        self._arrivals = itertools.count()
        self._latest_by_camera: dict[int, int] = {}
        self._newest_us: int | None = None
        self._released_until_us: int | None = None
        self.dropped_late_frames = 0

    @property
    def pending(self) -> int:
        """Frames waiting in the buffer."""
        return len(self._heap)

    @property
    def released_until_us(self) -> int | None:
        """Capture time of the last released frame (None before the first)."""
        return self._released_until_us

    def push(self, observations: CameraObservations) -> list[CameraObservations]:
        """Add one frame; return the frames now released, oldest first (possibly none, possibly several)."""
        time_us = observations.capture_time_us
        previous = self._latest_by_camera.get(observations.camera_id)
        if previous is None or time_us > previous:
            self._latest_by_camera[observations.camera_id] = time_us
        if self._newest_us is None or time_us > self._newest_us:
            self._newest_us = time_us
        if self._released_until_us is not None and time_us < self._released_until_us:
            self.dropped_late_frames += 1
            logger.debug(
                "dropped late frame camera=%d capture_time_us=%d released_until_us=%d",
                observations.camera_id,
                time_us,
                self._released_until_us,
            )
            return []
        heapq.heappush(self._heap, _Entry(time_us, next(self._arrivals), observations))
        return self._release(self._watermark())

    def flush(self) -> list[CameraObservations]:
        """Release every buffered frame (end of stream)."""
        if not self._heap:
            return []
        return self._release(max(entry.capture_time_us for entry in self._heap))

    def _watermark(self) -> int:
        assert self._newest_us is not None
        newest = self._newest_us
        live = [t for t in self._latest_by_camera.values() if newest - t <= self._camera_silence_us]
        return max(min(live) - self._jitter_us, newest - self._window_us)

    def _release(self, watermark_us: int) -> list[CameraObservations]:
        released: list[CameraObservations] = []
        while self._heap and self._heap[0].capture_time_us <= watermark_us:
            entry = heapq.heappop(self._heap)
            released.append(entry.observations)
            self._released_until_us = entry.capture_time_us
        return released
