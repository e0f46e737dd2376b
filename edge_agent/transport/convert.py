"""Conversions between protobuf messages and the agent's plain types (only transport imports protobuf)."""

from __future__ import annotations

import math
import time

from edge_agent.types import AgentStatus, RemoteCameraConfig, RemoteDeviceConfig
from proto.retail.v1 import edge_service_pb2, track_pb2


def device_config_from_proto(message: edge_service_pb2.DeviceConfig) -> RemoteDeviceConfig:
    cameras = []
    for camera in message.cameras:
        homography = tuple(camera.homography_px_to_cm)
        valid_homography = len(homography) == 9 and all(math.isfinite(v) for v in homography)
        region_values = list(camera.floor_region_cm)
        region = (
            tuple(
                (float(region_values[i]), float(region_values[i + 1]))
                for i in range(0, len(region_values) - 1, 2)
            )
            if len(region_values) >= 6
            else None
        )
        cameras.append(
            RemoteCameraConfig(
                camera_id=camera.camera_id,
                name=camera.name,
                source_uri=camera.source_uri,
                analysis_fps=camera.analysis_rate_mhz / 1000.0,
                homography_px_to_cm=homography if valid_homography else None,
                floor_region_cm=region,
                min_score=camera.min_score_permille / 1000.0,
                enabled=camera.enabled,
            )
        )
    return RemoteDeviceConfig(
        revision=message.revision,
        cameras=tuple(cameras),
        heartbeat_interval_s=float(message.heartbeat_interval_s),
    )


def heartbeat_to_proto(status: AgentStatus) -> track_pb2.Heartbeat:
    return track_pb2.Heartbeat(
        sent_time_us=time.time_ns() // 1000,
        uptime_s=int(status.uptime_s),
        spool_depth_frames=status.spool_depth_frames,
        spool_evicted_total=status.spool_evicted_total,
        software_version=status.software_version,
        cameras=[
            track_pb2.CameraHealth(
                camera_id=c.camera_id,
                connected=c.connected,
                analysed_fps_mhz=max(0, round(c.analysed_fps * 1000.0)),
                inference_time_us=max(0, min(2**32 - 1, c.inference_time_us)),
                dropped_frames_total=c.dropped_frames_total,
                reconnects_total=min(2**32 - 1, c.reconnects_total),
                last_sequence=c.last_sequence,
                last_error=c.last_error.encode("utf-8")[:512].decode("utf-8", "ignore"),
                frame_width_px=c.frame_width_px,
                frame_height_px=c.frame_height_px,
            )
            for c in status.cameras
        ],
    )
