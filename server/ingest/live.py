"""Frame processor that turns per-camera tracks into the live state of a site, pushed through LivePublisher.

Used until/unless a fusion processor is installed: it shows each camera's confirmed tracks on the floor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from server.ingest.pipeline import CameraRuntime
from server.ingest.validation import DecodedFrame
from server.realtime.events import live_positions_event
from server.realtime.publisher import LivePublisher

UNTRUSTED_FLAGS = 1 | 2  # outside floor region | uncalibrated


class CameraTracksLive:
    def __init__(self, publisher: LivePublisher) -> None:
        self._publisher = publisher
        self._latest: dict[int, dict[int, tuple[int, list[dict[str, Any]]]]] = {}

    def process(self, camera: CameraRuntime, frame: DecodedFrame) -> None:
        keep = (frame.state <= 2) & ((frame.flags & UNTRUSTED_FLAGS) == 0)
        indices = np.flatnonzero(keep)
        xy_m = frame.floor_xy_cm[indices].astype(float) / 100.0
        persons = [
            {
                "id": f"{camera.camera_id}:{int(frame.local_ids[i])}",
                "x_m": round(float(x), 2),
                "y_m": round(float(y), 2),
                "camera_id": camera.camera_id,
            }
            for i, (x, y) in zip(indices.tolist(), xy_m.tolist(), strict=True)
        ]
        site = self._latest.setdefault(camera.site_id, {})
        site[camera.camera_id] = (frame.capture_time_us, persons)
        newest_us = max(t for t, _ in site.values())
        merged = [p for t, ps in site.values() if newest_us - t < 2_000_000 for p in ps]
        self._publisher.publish(
            camera.site_id, live_positions_event(site_id=camera.site_id, time_us=newest_us, persons=merged)
        )
