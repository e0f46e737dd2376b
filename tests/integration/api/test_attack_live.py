"""Adversarial review of the live state's readers (badge binding, live occupancy and who is where): attacks that
found defects, kept as regression tests. Real PostgreSQL and the Redis live state."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from server.livestate import LivePerson, SiteSnapshot, live_state
from server.people.models import IdentityBinding
from tests.support.live import clear_live_state, put_positions

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _live() -> Iterator[None]:
    clear_live_state()
    yield
    clear_live_state()


def _now_us() -> int:
    return int(time.time() * 1_000_000)


def test_a_badge_read_far_in_the_future_is_a_clear_field_error(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    """A reader whose clock runs a century ahead was told 'no tracked person near the reader' (404)."""
    site = store["site"]
    put_positions(site.pk, {1: (5.0, 5.0)}, _now_us())
    future = (datetime.now(tz=UTC) + timedelta(days=365 * 75)).isoformat()
    body = {"site": site.pk, "badge_id": "B-100", "reader_x_m": 5.0, "reader_y_m": 5.0, "time": future}
    response = client_for("staff").post("/api/badge-events", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "badge_read_in_future"
    assert "time" in response.json()["extra"]["fields"]
    assert not IdentityBinding.objects.exists()
    # A reader (and edge box) a few seconds ahead still binds.
    soon = datetime.now(tz=UTC) + timedelta(seconds=5)
    put_positions(site.pk, {1: (5.0, 5.0)}, round(soon.timestamp() * 1_000_000))
    body["time"] = soon.isoformat()
    assert client_for("staff").post("/api/badge-events", body, format="json").status_code == 201


def test_who_is_where_names_need_the_people_permission(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    """A user who may read analytics but not employees (a direct permission set in the Django admin) saw every
    identified person's name and employee id in the live occupancy."""
    site, employee = store["site"], store["employee"]
    live_state().publish(
        SiteSnapshot(
            site_id=site.pk,
            time_us=_now_us(),
            persons=(
                LivePerson(1, 2.0, 2.0, zone_ids=(store["zone"].pk,), employee_id=employee.pk, name="Kim"),
                LivePerson(2, 8.0, 8.0),
            ),
            site_occupancy=2,
            zone_occupancy={store["zone"].pk: 1},
        )
    )
    assert live_state().flush()
    path = f"/api/sites/{site.pk}/analytics/occupancy"

    staff = client_for("staff").get(path).json()
    assert [p["name"] for p in staff["who_is_where"]] == ["Kim"]

    analyst = User.objects.create_user("analyst", password="correct horse battery staple")
    analyst.user_permissions.add(Permission.objects.get(codename="view_heatmaphour"))
    client = APIClient()
    client.force_authenticate(analyst)
    answer = client.get(path)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["site"] == 2
    assert body["zones"] == [{"zone_id": store["zone"].pk, "count": 1, "person_ids": [1]}]
    assert body["who_is_where"] == []
    assert "Kim" not in answer.content.decode()
