"""Conversions between protobuf messages and the server's domain types."""

from __future__ import annotations

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


def heartbeat_to_health(heartbeat: track_pb2.Heartbeat) -> dict[str, Any]:
    """A JSON-able health record of an edge device, as stored on EdgeDevice.health and pushed to dashboards."""
    return {
        "sent_time_us": heartbeat.sent_time_us,
        "uptime_s": heartbeat.uptime_s,
        "spool_depth_frames": heartbeat.spool_depth_frames,
        "spool_evicted_total": heartbeat.spool_evicted_total,
        "software_version": heartbeat.software_version,
        "cameras": [
            {
                "camera_id": camera.camera_id,
                "connected": camera.connected,
                "analysed_fps": camera.analysed_fps_mhz / 1000.0,
                "inference_ms": camera.inference_time_us / 1000.0,
                "dropped_frames_total": camera.dropped_frames_total,
                "reconnects_total": camera.reconnects_total,
                "last_sequence": camera.last_sequence,
                # An older agent may name its source with the login in an error: never store or show that.
                "last_error": redact_source_credentials(camera.last_error[:512]),
                "frame_width_px": camera.frame_width_px,
                "frame_height_px": camera.frame_height_px,
            }
            for camera in heartbeat.cameras
        ],
    }
