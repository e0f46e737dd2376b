"""Conversions between protobuf messages and the server's domain types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proto.retail.v1 import edge_service_pb2, track_pb2
from server.devices.selectors import DeviceConfiguration
from server.inventory.models import redact_source_credentials


def device_config_message(config: DeviceConfiguration) -> edge_service_pb2.DeviceConfig:
    message = edge_service_pb2.DeviceConfig(
        revision=config.revision, heartbeat_interval_s=config.heartbeat_interval_s
    )
    for camera in config.cameras:
        message.cameras.append(
            edge_service_pb2.CameraConfig(
                camera_id=camera.camera_id,
                name=camera.name[:200],
                source_uri=camera.source_uri,
                analysis_rate_mhz=round(camera.analysis_rate_hz * 1000),
                homography_px_to_cm=list(camera.homography_px_to_cm),
                floor_region_cm=[round(v * 100) for point in camera.floor_region_m for v in point],
                enabled=camera.enabled,
            )
        )
    return message


INT64_MAX = 2**63 - 1
MAX_VERSION_CHARS = 64
MAX_ERROR_CHARS = 512


@dataclass(frozen=True, slots=True)
class HeartbeatReport:
    """A heartbeat bounded by the device's inventory: `health` lists each assigned camera at most once."""

    health: dict[str, Any]
    ignored_camera_ids: tuple[int, ...]  # listed but not assigned to the device (sorted, unique)
    repeated_entries: int  # entries of an assigned camera after its first (the last one is kept)


def _text(value: str, limit: int) -> str:
    # PostgreSQL's jsonb refuses U+0000; the rest of the text is kept (cut to `limit` characters).
    return value[:limit].replace("\x00", "\ufffd")


def heartbeat_to_health(heartbeat: track_pb2.Heartbeat, *, camera_ids: frozenset[int]) -> HeartbeatReport:
    """A JSON-able health record of an edge device, as stored on EdgeDevice.health and pushed to dashboards.

    Only cameras of `camera_ids` (the device's inventory) are kept, each once, so the record's size is bounded by
    the inventory, never by what the device sends; strings are cut, counters fit a signed 64-bit integer."""
    cameras: dict[int, dict[str, Any]] = {}
    ignored: set[int] = set()
    repeated = 0
    for camera in heartbeat.cameras:
        if camera.camera_id not in camera_ids:
            ignored.add(camera.camera_id)
            continue
        if camera.camera_id in cameras:
            repeated += 1
        cameras[camera.camera_id] = {
            "camera_id": camera.camera_id,
            "connected": camera.connected,
            "analysed_fps": camera.analysed_fps_mhz / 1000.0,
            "inference_ms": camera.inference_time_us / 1000.0,
            "dropped_frames_total": min(camera.dropped_frames_total, INT64_MAX),
            "reconnects_total": camera.reconnects_total,
            "last_sequence": min(camera.last_sequence, INT64_MAX),
            # An older agent may name its source with the login in an error: never store or show that.
            # Redacted before it is cut: the cut could fall within a login and leave it unrecognised.
            "last_error": _text(redact_source_credentials(camera.last_error), MAX_ERROR_CHARS),
            "frame_width_px": camera.frame_width_px,
            "frame_height_px": camera.frame_height_px,
        }
    health = {
        "sent_time_us": heartbeat.sent_time_us,
        "uptime_s": min(heartbeat.uptime_s, INT64_MAX),
        "spool_depth_frames": min(heartbeat.spool_depth_frames, INT64_MAX),
        "spool_evicted_total": min(heartbeat.spool_evicted_total, INT64_MAX),
        "software_version": _text(heartbeat.software_version, MAX_VERSION_CHARS),
        "cameras": [cameras[camera_id] for camera_id in sorted(cameras)],
    }
    return HeartbeatReport(
        health=health, ignored_camera_ids=tuple(sorted(ignored)), repeated_entries=repeated
    )
