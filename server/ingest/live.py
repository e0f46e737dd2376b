"""Frame processor for ingest-only processes (INGEST_SITE_ANALYTICS=0): each camera's confirmed tracks become the
live state of the site, pushed through LivePublisher, and its positions are written to the time series at a
reduced rate. Without fusion there are no global persons: a track is identified by (camera, local id).
"""

from __future__ import annotations

import numpy as np

from server.frames import CameraRef, DecodedFrame, TrackState
from server.realtime.events import LivePerson, live_positions_event
from server.realtime.publisher import LivePublisher
from server.timeseries.measurements import PositionSampler, position_points
from server.timeseries.types import PointSink

UNTRUSTED_FLAGS = 1 | 2  # outside floor region | uncalibrated
MAX_TRACK_STATE = TrackState.CONFIRMED  # tentative or confirmed: lost and removed tracks are not shown


def camera_person_id(camera_id: int, local_id: int) -> int:
    """A site-unique integer for a camera's local track (the time series stores person ids as integers)."""
    return (camera_id << 32) | local_id


class CameraTracksLive:
    def __init__(self, publisher: LivePublisher, *, points: PointSink, positions_sample_hz: float) -> None:
        self._publisher = publisher
        self._points = points
        self._sampler = PositionSampler(1.0 / positions_sample_hz) if positions_sample_hz > 0 else None
        self._latest: dict[int, dict[int, tuple[int, list[LivePerson]]]] = {}

    def process(self, camera: CameraRef, frame: DecodedFrame) -> None:
        keep = (frame.state <= MAX_TRACK_STATE) & ((frame.flags & UNTRUSTED_FLAGS) == 0)
        indices = np.flatnonzero(keep)
        xy_m = frame.floor_xy_cm[indices].astype(float) / 100.0
        persons: list[LivePerson] = [
            {
                "id": f"{camera.camera_id}:{int(frame.local_ids[i])}",
                "x_m": round(float(x), 2),
                "y_m": round(float(y), 2),
                "camera_id": camera.camera_id,
            }
            for i, (x, y) in zip(indices.tolist(), xy_m.tolist(), strict=True)
        ]
        if (
            persons
            and self._sampler is not None
            and self._sampler.take(camera.camera_id, frame.capture_time_us * 1000)
        ):
            self._points.write(
                position_points(
                    site_id=camera.site_id,
                    time_ns=frame.capture_time_us * 1000,
                    positions=[
                        (camera_person_id(camera.camera_id, int(frame.local_ids[i])), float(x), float(y))
                        for i, (x, y) in zip(indices.tolist(), xy_m.tolist(), strict=True)
                    ],
                )
            )
        site = self._latest.setdefault(camera.site_id, {})
        site[camera.camera_id] = (frame.capture_time_us, persons)
        newest_us = max(t for t, _ in site.values())
        merged = [p for t, ps in site.values() if newest_us - t < 2_000_000 for p in ps]
        self._publisher.publish(
            camera.site_id, live_positions_event(site_id=camera.site_id, time_us=newest_us, persons=merged)
        )
