"""List endpoints stay fast: the number of queries does not grow with the number of rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User

from server.alerts.services import alert_raise
from server.audit.services import audit_record
from server.devices.models import EdgeDevice
from server.inventory.models import Camera
from server.people.models import Employee, IdentityBinding

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ROWS = 25


@pytest.fixture
def many(store: dict[str, Any]) -> None:
    site = store["site"]
    for index in range(ROWS):
        device = EdgeDevice.objects.create(site=site, name=f"box-{index + 10}")
        Camera.objects.create(site=site, device=device, name=f"cam-{index + 10}")
        employee = Employee.objects.create(name=f"E{index}", level=store["level"], badge_id=f"X-{index}")
        IdentityBinding.objects.create(
            site=site,
            person_id=100 + index,
            employee=employee,
            source="manual",
            bound_at="2026-01-01T00:00:00Z",
        )
        alert_raise(
            site_id=site.pk, zone_id=store["restricted"].pk, kind="alarm", person_id=index, message="m"
        )
        user = User.objects.create_user(username=f"user-{index}", password="x")
        audit_record(actor=user, action="create", instance=employee)


@pytest.mark.parametrize(
    ("url", "role"),
    [
        ("/api/cameras", "installer"),
        ("/api/devices", "installer"),
        ("/api/employees", "admin"),
        ("/api/identity-bindings", "staff"),
        ("/api/alerts", "staff"),
        ("/api/users", "admin"),
        ("/api/audit-log", "admin"),
        ("/api/zones", "staff"),
    ],
)
def test_list_queries_are_bounded(
    url: str, role: str, many: None, client_for: Callable[[str], Any], django_assert_max_num_queries: Any
) -> None:
    client = client_for(role)
    assert client.get(url).status_code == 200  # warms the permission cache of the user
    with django_assert_max_num_queries(6):
        response = client.get(url, {"limit": 100})
    assert response.status_code == 200
    assert len(response.json()["results"]) >= 1
