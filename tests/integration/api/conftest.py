"""Fixtures of the REST API tests: one user per role, clients logged in as them, and a small store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from server.devices.models import EdgeDevice
from server.devices.services import device_set_credentials
from server.inventory.models import Camera, FloorPlan, Site, Zone, ZoneKind
from server.people.models import Employee, SecurityLevel
from tests.support.django_system import clear_login_limits

ROLES = ("admin", "installer", "staff")

SQUARE_POINTS = [
    {"image_px": [100.0, 100.0], "floor_m": [0.0, 0.0]},
    {"image_px": [500.0, 100.0], "floor_m": [4.0, 0.0]},
    {"image_px": [500.0, 500.0], "floor_m": [4.0, 4.0]},
    {"image_px": [100.0, 500.0], "floor_m": [0.0, 4.0]},
]


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _fresh_login_limits() -> None:
    """Login limits and DRF throttles count in the shared cache (Redis): each test starts from zero."""
    clear_login_limits()


def make_user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password="correct horse battery staple")
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def users(db: None) -> dict[str, User]:
    return {role: make_user(f"{role}-user", role) for role in ROLES}


@pytest.fixture
def client_for(users: dict[str, User]) -> Callable[[str], APIClient]:
    def build(role: str) -> APIClient:
        client = APIClient()
        if role != "anonymous":
            client.force_authenticate(users[role])
        return client

    return build


@pytest.fixture
def store(db: None) -> dict[str, Any]:
    """One site with a floor plan, an enrolled device with a calibrated camera, zones, a level and an employee."""
    site = Site.objects.create(name="Store A")
    other_site = Site.objects.create(name="Store B")
    plan = FloorPlan.objects.create(site=site, width_m=30.0, height_m=20.0)
    device = EdgeDevice.objects.create(site=site, name="box-1")
    device_set_credentials(device=device, secret="s3cret-for-tests")
    other_device = EdgeDevice.objects.create(site=other_site, name="box-b")
    camera = Camera.objects.create(site=site, device=device, name="cam-1", calibration_points=SQUARE_POINTS)
    zone = Zone.objects.create(site=site, name="Promo", polygon=[[0, 0], [4, 0], [4, 4], [0, 4]])
    restricted = Zone.objects.create(
        site=site,
        name="Stock room",
        kind=ZoneKind.RESTRICTED,
        polygon=[[10, 10], [14, 10], [14, 14], [10, 14]],
        required_level=2,
        warning_distance_m=1.5,
    )
    level = SecurityLevel.objects.create(name="Clerk", rank=1)
    manager = SecurityLevel.objects.create(name="Manager", rank=2)
    employee = Employee.objects.create(name="Kim", level=level, badge_id="B-100")
    return {
        "site": site,
        "other_site": other_site,
        "plan": plan,
        "device": device,
        "other_device": other_device,
        "camera": camera,
        "zone": zone,
        "restricted": restricted,
        "level": level,
        "manager": manager,
        "employee": employee,
    }
