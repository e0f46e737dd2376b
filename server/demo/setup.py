"""The demo store: one site whose two cameras are overlapping crops of the sample video (a real hall seen from
above), calibrated to a 30 m × 20 m floor, with zones, levels, employees and an admin, a staff and an installer user.

Idempotent: running it again updates the same objects. The device's secret is fixed per installation (stored in the
data dir, mode 0600) so that the launcher can start the edge agent without an enrollment round-trip; the agent reads
it from that file (`--device-secret-file`), never from its command line.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from server.demo.cameras import ANALYSIS_RATE_HZ, CAMERA_CROPS_PX, crop_homography
from server.demo.layout import DEMO_ZONES
from server.demo.users import DEMO_USERS
from server.devices.models import EdgeDevice
from server.devices.services import device_set_credentials
from server.inventory.models import Camera, FloorPlan, Site, Zone, ZoneKind

logger = logging.getLogger(__name__)

DEVICE_SECRET_FILENAME = "demo-device.secret"  # noqa: S105 (a file name, not a secret)


@dataclass(frozen=True)
class DemoSetup:
    site_id: int
    device_id: int
    device_secret: str
    device_secret_file: Path
    camera_ids: tuple[int, ...]
    crops_px: tuple[tuple[int, int, int, int], ...]
    homographies: tuple[tuple[float, ...], ...]
    analysis_fps: float = ANALYSIS_RATE_HZ  # each camera's analysis rate
    created_users: tuple[str, ...] = ()  # the demo users this run created (with the passwords it was given)


def _device_secret() -> str:
    path = Path(settings.DATA_DIR) / DEVICE_SECRET_FILENAME
    if path.exists():
        path.chmod(0o600)
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = os.open(
        path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600
    )  # never readable by others, not even briefly
    with os.fdopen(fd, "w") as file:
        file.write(secret)
    return secret


@transaction.atomic
def setup_demo(*, video_path: str, passwords: Mapping[str, str] | None = None) -> DemoSetup:
    """`passwords`: of the demo users created now (default: `DEMO_USERS`); existing users keep theirs."""
    site, _ = Site.objects.get_or_create(name="Demo store")
    FloorPlan.objects.update_or_create(
        site=site,
        defaults={"width_m": 30.0, "height_m": 20.0, "metres_per_pixel": 0.025, "heatmap_cell_m": 0.5},
    )
    device, _ = EdgeDevice.objects.get_or_create(site=site, name="Demo edge box")
    secret = _device_secret()
    device_set_credentials(device=device, secret=secret)
    camera_ids: list[int] = []
    homographies: list[tuple[float, ...]] = []
    for index, crop in enumerate(CAMERA_CROPS_PX):
        homography, points = crop_homography(crop)
        camera, _ = Camera.objects.update_or_create(
            site=site,
            name=f"Hall {'left' if index == 0 else 'right'}",
            defaults={
                "device": device,
                "source_uri": video_path,
                "homography": homography,
                "calibration_points": points,
                "reprojection_error_cm": 0.0,
                "floor_region": [],
                "analysis_rate_hz": ANALYSIS_RATE_HZ,
                "enabled": True,
            },
        )
        camera_ids.append(camera.pk)
        homographies.append(tuple(v for row in homography for v in row))
    for zone in DEMO_ZONES:
        Zone.objects.update_or_create(
            site=site,
            name=zone.name,
            defaults={
                "kind": ZoneKind(zone.kind),
                "polygon": [list(corner) for corner in zone.polygon_m],
                "required_level": zone.required_level,
                "warning_distance_m": zone.warning_distance_m,
            },
        )
    _demo_people()
    from server.accounts.roles import ensure_roles

    ensure_roles()
    user_model = get_user_model()
    created_users: list[str] = []
    for username, default_password in DEMO_USERS:
        user, created = user_model.objects.get_or_create(username=username)
        if created:
            user.set_password((passwords or {}).get(username, default_password))
            created_users.append(username)
        user.is_staff = username == "admin"
        user.is_superuser = username == "admin"
        user.save()
        _assign_role(user, username)
    return DemoSetup(
        site_id=site.pk,
        device_id=device.pk,
        device_secret=secret,
        device_secret_file=Path(settings.DATA_DIR) / DEVICE_SECRET_FILENAME,
        camera_ids=tuple(camera_ids),
        crops_px=CAMERA_CROPS_PX,
        homographies=tuple(homographies),
        created_users=tuple(created_users),
    )


def _demo_people() -> None:
    """Security levels and a few employees (the stock room needs level 2: Kim has 1, Alex has 3)."""
    from server.people.models import Employee, SecurityLevel

    levels = {}
    for rank, name in ((1, "Staff"), (2, "Supervisor"), (3, "Security")):
        levels[rank], _ = SecurityLevel.objects.get_or_create(name=name, defaults={"rank": rank})
    for name, rank, badge in (("Kim", 1, "B-1001"), ("Alex", 3, "B-1002"), ("Sam", 2, "B-1003")):
        Employee.objects.get_or_create(badge_id=badge, defaults={"name": name, "level": levels[rank]})


def _assign_role(user: object, role: str) -> None:
    from django.contrib.auth.models import Group

    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)  # type: ignore[attr-defined]
