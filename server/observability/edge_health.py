"""Edge boxes' heartbeats as Prometheus metrics.

An edge box reports cumulative totals since its agent started (dropped frames, spool evictions,
reconnects). They are exposed as counters, so that ``rate(retail_edge_dropped_frames_total[5m])`` works
and an agent restart reads as a counter reset. The collector keeps only the last heartbeat of each
device; `forget` removes a device (revoked, deleted) so that its series disappear.

Families (labels ``device`` and, per camera, ``camera``):

- ``retail_edge_dropped_frames_total`` counter: frames the agent dropped because analysis fell behind
- ``retail_edge_reconnects_total`` counter: times a camera source was reopened
- ``retail_edge_spool_evicted_frames_total`` counter: frames evicted from a full spool (lost data)
- ``retail_edge_spool_depth_frames`` gauge: frames waiting for an ack
- ``retail_edge_analysed_fps`` gauge: frames analysed per second
- ``retail_edge_inference_seconds`` gauge: mean detector time per frame
- ``retail_edge_camera_connected`` gauge: 1 while the source delivers frames
- ``retail_edge_uptime_seconds`` gauge: agent uptime
- ``retail_edge_last_heartbeat_timestamp_seconds`` gauge: server time of the last heartbeat
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from proto.retail.v1 import track_pb2


@dataclass(frozen=True, slots=True)
class CameraHealthSample:
    """One camera's part of a heartbeat (the fields of retail.v1.CameraHealth, in base units)."""

    camera_id: int
    connected: bool
    analysed_fps: float
    inference_time_s: float
    dropped_frames_total: int
    reconnects_total: int


@dataclass(frozen=True, slots=True)
class EdgeHeartbeatSample:
    """One heartbeat of an edge box, as the ingest server received it."""

    device_id: str
    uptime_s: float
    spool_depth_frames: int
    spool_evicted_total: int
    cameras: tuple[CameraHealthSample, ...]
    received_at_s: float


class EdgeHealthCollector(Collector):
    """Holds the last heartbeat per device and renders it at scrape time. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, EdgeHeartbeatSample] = {}

    def record(
        self,
        *,
        device_id: str | int,
        uptime_s: float,
        spool_depth_frames: int,
        spool_evicted_total: int,
        cameras: Sequence[CameraHealthSample] = (),
        received_at_s: float | None = None,
    ) -> None:
        """Store the latest heartbeat of `device_id` (replacing the previous one)."""
        sample = EdgeHeartbeatSample(
            device_id=str(device_id),
            uptime_s=float(uptime_s),
            spool_depth_frames=int(spool_depth_frames),
            spool_evicted_total=int(spool_evicted_total),
            cameras=tuple(cameras),
            received_at_s=time.time() if received_at_s is None else float(received_at_s),
        )
        with self._lock:
            self._latest[sample.device_id] = sample

    def forget(self, device_id: str | int) -> None:
        """Drop every series of `device_id` (after it is revoked or deleted)."""
        with self._lock:
            self._latest.pop(str(device_id), None)

    def clear(self) -> None:
        """Forget every device."""
        with self._lock:
            self._latest.clear()

    def devices(self) -> list[str]:
        """Device ids with a heartbeat on record."""
        with self._lock:
            return sorted(self._latest)

    def describe(self) -> Iterator[Metric]:
        return iter(self._families())

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            samples = list(self._latest.values())
        families = self._families()
        (dropped, reconnects, evicted, depth, fps, inference, connected, uptime, last_seen) = families
        for sample in samples:
            device = [sample.device_id]
            evicted.add_metric(device, sample.spool_evicted_total)
            depth.add_metric(device, sample.spool_depth_frames)
            uptime.add_metric(device, sample.uptime_s)
            last_seen.add_metric(device, sample.received_at_s)
            for camera in sample.cameras:
                labels = [sample.device_id, str(camera.camera_id)]
                dropped.add_metric(labels, camera.dropped_frames_total)
                reconnects.add_metric(labels, camera.reconnects_total)
                fps.add_metric(labels, camera.analysed_fps)
                inference.add_metric(labels, camera.inference_time_s)
                connected.add_metric(labels, 1.0 if camera.connected else 0.0)
        return iter(families)

    @staticmethod
    def _families() -> tuple[
        CounterMetricFamily,
        CounterMetricFamily,
        CounterMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
    ]:
        per_camera = ["device", "camera"]
        per_device = ["device"]
        return (
            CounterMetricFamily(
                "retail_edge_dropped_frames",
                "Frames an edge agent dropped because analysis fell behind (since the agent started).",
                labels=per_camera,
            ),
            CounterMetricFamily(
                "retail_edge_reconnects", "Times an edge camera source was reopened.", labels=per_camera
            ),
            CounterMetricFamily(
                "retail_edge_spool_evicted_frames",
                "TrackFrames evicted from a full edge spool (lost data).",
                labels=per_device,
            ),
            GaugeMetricFamily(
                "retail_edge_spool_depth_frames",
                "TrackFrames waiting in the edge spool for an ack.",
                labels=per_device,
            ),
            GaugeMetricFamily("retail_edge_analysed_fps", "Frames analysed per second.", labels=per_camera),
            GaugeMetricFamily(
                "retail_edge_inference_seconds", "Mean detector time per analysed frame.", labels=per_camera
            ),
            GaugeMetricFamily(
                "retail_edge_camera_connected",
                "1 while the camera source delivers frames.",
                labels=per_camera,
            ),
            GaugeMetricFamily("retail_edge_uptime_seconds", "Edge agent uptime.", labels=per_device),
            GaugeMetricFamily(
                "retail_edge_last_heartbeat_timestamp_seconds",
                "Server time (Unix seconds) of the last heartbeat of an edge box.",
                labels=per_device,
            ),
        )


EDGE_HEALTH = EdgeHealthCollector()
REGISTRY.register(EDGE_HEALTH)


def record_health(device_id: str | int, health: Mapping[str, Any]) -> None:
    """Record a device's health record (`server.ingest.converters.heartbeat_to_health`: already bounded by the
    device's inventory, so a device cannot create series for cameras it does not own)."""
    EDGE_HEALTH.record(
        device_id=device_id,
        uptime_s=float(health["uptime_s"]),
        spool_depth_frames=int(health["spool_depth_frames"]),
        spool_evicted_total=int(health["spool_evicted_total"]),
        cameras=[
            CameraHealthSample(
                camera_id=int(camera["camera_id"]),
                connected=bool(camera["connected"]),
                analysed_fps=float(camera["analysed_fps"]),
                inference_time_s=float(camera["inference_ms"]) / 1000.0,
                dropped_frames_total=int(camera["dropped_frames_total"]),
                reconnects_total=int(camera["reconnects_total"]),
            )
            for camera in health["cameras"]
        ],
    )


def record_heartbeat_message(device_id: str | int, heartbeat: track_pb2.Heartbeat) -> None:
    """Record a retail.v1.Heartbeat as received from `device_id` (converts milli-hertz and microseconds).
    Every listed camera is recorded: the ingest records its bounded health record instead (`record_health`)."""
    EDGE_HEALTH.record(
        device_id=device_id,
        uptime_s=float(heartbeat.uptime_s),
        spool_depth_frames=heartbeat.spool_depth_frames,
        spool_evicted_total=heartbeat.spool_evicted_total,
        cameras=[
            CameraHealthSample(
                camera_id=camera.camera_id,
                connected=camera.connected,
                analysed_fps=camera.analysed_fps_mhz / 1000.0,
                inference_time_s=camera.inference_time_us / 1_000_000.0,
                dropped_frames_total=camera.dropped_frames_total,
                reconnects_total=camera.reconnects_total,
            )
            for camera in heartbeat.cameras
        ],
    )
