"""Reads about edge devices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet

from server.devices.models import EdgeDevice
from server.inventory.models import Camera

HEARTBEAT_INTERVAL_S = 10
# A box is online while it is not revoked and its last heartbeat is younger than three heartbeat intervals.
ONLINE_WITHIN = timedelta(seconds=3 * HEARTBEAT_INTERVAL_S)


@dataclass(frozen=True, slots=True)
class CameraConfiguration:
    camera_id: int
    name: str
    source_uri: str  # includes the source's user:password@ (never log it)
    analysis_rate_hz: float
    homography_px_to_cm: tuple[float, ...]
    floor_region_m: tuple[tuple[float, float], ...]
    enabled: bool


@dataclass(frozen=True, slots=True)
class DeviceConfiguration:
    device_id: int
    revision: int
    heartbeat_interval_s: int
    cameras: tuple[CameraConfiguration, ...]


def device_configuration(*, device_id: int) -> DeviceConfiguration:
    device = EdgeDevice.objects.get(pk=device_id)
    cameras = tuple(
        CameraConfiguration(
            camera_id=camera.pk,
            name=camera.name,
            source_uri=camera.source_uri_for_device(),  # with the source's login: for the edge box only
            analysis_rate_hz=camera.analysis_rate_hz,
            homography_px_to_cm=tuple(float(v) for row in (camera.homography or []) for v in row),
            floor_region_m=tuple((float(x), float(y)) for x, y in (camera.floor_region or [])),
            enabled=camera.enabled,
        )
        for camera in Camera.objects.filter(device=device).order_by("id")
    )
    return DeviceConfiguration(
        device_id=device.pk,
        revision=device.config_revision,
        heartbeat_interval_s=HEARTBEAT_INTERVAL_S,
        cameras=cameras,
    )


def device_list() -> QuerySet[EdgeDevice]:
    return EdgeDevice.objects.select_related("site").prefetch_related("cameras")


def device_is_online(device: EdgeDevice, *, now: datetime) -> bool:
    return device.is_active and device.last_seen_at is not None and now - device.last_seen_at < ONLINE_WITHIN


def device_connected_camera_ids(device: EdgeDevice, *, now: datetime) -> list[int]:
    """Cameras of the device whose source delivers frames: its last heartbeat says so and the box is online (a
    revoked or silent box's last report no longer holds)."""
    if not device_is_online(device, now=now):
        return []
    health: dict[str, Any] = device.health or {}
    reported = {
        c.get("camera_id") for c in health.get("cameras", []) if isinstance(c, dict) and c.get("connected")
    }
    return sorted(camera.pk for camera in device.cameras.all() if camera.pk in reported)
