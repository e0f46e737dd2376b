"""Identity binding: badge events bind the nearest tracked person, staff bind and unbind by hand, and the
analytics read who each person is."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.people.models import Employee, IdentityBinding, ZonePermission
from server.people.selectors import identities_for_site, live_persons_near
from tests.support.live import clear_live_state, put_positions

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _registry() -> Iterator[None]:
    clear_live_state()
    yield
    clear_live_state()


def _now_us() -> int:
    return int(time.time() * 1_000_000)


def _badge(client: Any, site_id: int, badge_id: str, x_m: float, y_m: float, **extra: Any) -> Any:
    body = {"site": site_id, "badge_id": badge_id, "reader_x_m": x_m, "reader_y_m": y_m, **extra}
    return client.post("/api/badge-events", body, format="json")


def test_badge_event_binds_the_nearest_person(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    site = store["site"]
    put_positions(site.pk, {1: (2.0, 2.0), 2: (5.2, 5.1), 3: (6.0, 5.0)}, _now_us())
    response = _badge(client_for("staff"), site.pk, "B-100", 5.0, 5.0)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["binding"]["person_id"] == 2
    assert body["binding"]["employee"] == store["employee"].pk
    assert body["binding"]["source"] == "badge"
    assert body["distance_m"] == pytest.approx(0.2236, abs=1e-3)
    assert body["candidates"] == 2
    identities = identities_for_site(site.pk)
    assert identities == {
        2: {
            "employee_id": store["employee"].pk,
            "name": "Kim",
            "level_rank": 1,
            "permitted_zone_ids": frozenset(),
        }
    }


def test_badge_event_uses_the_positions_of_its_own_time(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    site = store["site"]
    now_us = _now_us()
    put_positions(site.pk, {1: (5.0, 5.0), 2: (20.0, 5.0)}, now_us - 3_000_000)
    put_positions(site.pk, {1: (20.0, 5.0), 2: (5.0, 5.0)}, now_us)
    moment = datetime.fromtimestamp((now_us - 3_000_000) / 1e6, tz=UTC)
    response = _badge(client_for("staff"), site.pk, "B-100", 5.0, 5.0, time=moment.isoformat())
    assert response.status_code == 201, response.content
    assert response.json()["binding"]["person_id"] == 1
    assert [pid for pid, _ in live_persons_near(site.pk, 5.0, 5.0, now_us)] == [2, 1]


def test_badge_event_without_anyone_near_is_refused(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    site = store["site"]
    put_positions(site.pk, {1: (15.0, 15.0)}, _now_us())
    response = _badge(client_for("staff"), site.pk, "B-100", 0.0, 0.0)
    assert response.status_code == 404
    assert response.json()["code"] == "no_person_near_reader"
    # No positions within the time tolerance of the read.
    earlier = (datetime.now(tz=UTC) - timedelta(seconds=8)).isoformat()
    assert _badge(client_for("staff"), site.pk, "B-100", 15.0, 15.0, time=earlier).status_code == 404
    assert not IdentityBinding.objects.exists()


def test_badge_read_delivered_12_s_late_binds_against_the_positions_of_its_time(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    site = store["site"]
    now_us = _now_us()
    # Person 1 stands at the reader when the badge is read; 12 s later person 2 does, and 1 has walked away.
    for step in range(0, 13):
        at_reader, away = (1, 2) if step == 0 else (2, 1)
        put_positions(
            site.pk, {at_reader: (5.0, 5.0), away: (5.0 + 1.2 * step, 12.0)}, now_us - (12 - step) * 10**6
        )
    moment = datetime.fromtimestamp((now_us - 12 * 10**6) / 1e6, tz=UTC)
    response = _badge(client_for("staff"), site.pk, "B-100", 5.0, 5.0, time=moment.isoformat())
    assert response.status_code == 201, response.content
    assert response.json()["binding"]["person_id"] == 1
    assert response.json()["binding"]["bound_at"].startswith(moment.isoformat()[:19])


def test_badge_read_older_than_the_configured_delay_is_a_clear_error(
    store: dict[str, Any], client_for: Callable[[str], Any], settings: Any
) -> None:
    site = store["site"]
    now_us = _now_us()
    put_positions(site.pk, {1: (5.0, 5.0)}, now_us - 12 * 10**6)
    put_positions(site.pk, {1: (5.0, 5.0)}, now_us)
    settings.BADGE_MAX_DELAY_S = 10
    late = datetime.fromtimestamp((now_us - 12 * 10**6) / 1e6, tz=UTC).isoformat()
    response = _badge(client_for("staff"), site.pk, "B-100", 5.0, 5.0, time=late)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "badge_read_too_old"
    assert "time" in response.json()["extra"]["fields"]
    assert not IdentityBinding.objects.exists()


def test_unknown_or_inactive_badge_is_a_field_error(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    site = store["site"]
    put_positions(site.pk, {1: (1.0, 1.0)}, _now_us())
    response = _badge(client_for("staff"), site.pk, "NOPE", 1.0, 1.0)
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_badge"
    assert "badge_id" in response.json()["extra"]["fields"]
    Employee.objects.filter(pk=store["employee"].pk).update(active=False)
    response = _badge(client_for("staff"), site.pk, "B-100", 1.0, 1.0)
    assert response.status_code == 400
    assert response.json()["code"] == "inactive_employee"
    assert not IdentityBinding.objects.exists()


def test_rebinding_supersedes_and_unbind_ends(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    client = client_for("staff")
    site, kim = store["site"], store["employee"]
    lee = Employee.objects.create(name="Lee", level=store["manager"], badge_id="B-200")
    ZonePermission.objects.create(employee=lee, zone=store["restricted"])
    first = client.post(
        "/api/identity-bindings", {"site": site.pk, "person_id": 5, "employee": kim.pk}, format="json"
    )
    assert first.status_code == 201
    # Kim is now person 6: her binding to person 5 ends.
    second = client.post(
        "/api/identity-bindings", {"site": site.pk, "person_id": 6, "employee": kim.pk}, format="json"
    )
    assert second.status_code == 201
    # Lee takes person 6: Kim's binding to 6 ends.
    third = client.post(
        "/api/identity-bindings", {"site": site.pk, "person_id": 6, "employee": lee.pk}, format="json"
    )
    assert third.status_code == 201
    active = client.get("/api/identity-bindings", {"active": "true"}).json()["results"]
    assert [(row["person_id"], row["employee"]) for row in active] == [(6, lee.pk)]
    assert identities_for_site(site.pk) == {
        6: {
            "employee_id": lee.pk,
            "name": "Lee",
            "level_rank": 2,
            "permitted_zone_ids": frozenset({store["restricted"].pk}),
        }
    }
    unbind = client.post(f"/api/identity-bindings/{third.json()['id']}/unbind")
    assert unbind.status_code == 200
    assert unbind.json()["active"] is False
    assert identities_for_site(site.pk) == {}
    again = client.post(f"/api/identity-bindings/{third.json()['id']}/unbind")
    assert again.status_code == 409
    assert again.json()["code"] == "already_unbound"
    assert IdentityBinding.objects.filter(unbound_at__isnull=True).count() == 0
    assert IdentityBinding.objects.count() == 3


def test_deactivating_an_employee_ends_their_binding(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    site, kim = store["site"], store["employee"]
    client_for("staff").post(
        "/api/identity-bindings", {"site": site.pk, "person_id": 9, "employee": kim.pk}, format="json"
    )
    assert 9 in identities_for_site(site.pk)
    assert (
        client_for("admin").patch(f"/api/employees/{kim.pk}", {"active": False}, format="json").status_code
        == 200
    )
    assert identities_for_site(site.pk) == {}
    refused = client_for("staff").post(
        "/api/identity-bindings", {"site": site.pk, "person_id": 9, "employee": kim.pk}, format="json"
    )
    assert refused.status_code == 400
    assert "employee" in refused.json()["extra"]["fields"]


def test_identities_are_per_site_and_grants_limited_to_the_site(store: dict[str, Any]) -> None:
    from server.inventory.models import Zone
    from server.people.services import identity_bind

    other_zone = Zone.objects.create(
        site=store["other_site"],
        name="Vault",
        polygon=[[0, 0], [1, 0], [1, 1]],
        kind="restricted",
        required_level=3,
    )
    ZonePermission.objects.create(employee=store["employee"], zone=other_zone)
    ZonePermission.objects.create(employee=store["employee"], zone=store["restricted"])
    identity_bind(actor=None, site=store["site"], person_id=4, employee=store["employee"])
    assert identities_for_site(store["other_site"].pk) == {}
    assert identities_for_site(store["site"].pk)[4]["permitted_zone_ids"] == frozenset(
        {store["restricted"].pk}
    )


def test_binding_changes_signal_the_runtime_once_committed(
    store: dict[str, Any], client_for: Callable[[str], Any], django_capture_on_commit_callbacks: Any
) -> None:
    from server.people.signals import identities_changed

    received: list[int | None] = []

    def receiver(*, site_id: int | None, **_: Any) -> None:
        received.append(site_id)

    identities_changed.connect(receiver)
    try:
        client = client_for("staff")
        site, kim = store["site"], store["employee"]
        with django_capture_on_commit_callbacks(execute=False) as pending:
            bound = client.post(
                "/api/identity-bindings", {"site": site.pk, "person_id": 5, "employee": kim.pk}, format="json"
            )
            assert bound.status_code == 201
        assert received == [], "sent before the commit"
        for callback in pending:
            callback()
        assert received == [site.pk]
        received.clear()
        with django_capture_on_commit_callbacks(execute=True):
            client.post(f"/api/identity-bindings/{bound.json()['id']}/unbind")
        assert received == [site.pk]
        received.clear()
        with django_capture_on_commit_callbacks(execute=True):
            refused = client.post("/api/identity-bindings", {"site": site.pk, "person_id": -1}, format="json")
        assert refused.status_code == 400
        assert received == [], "a refused binding changes nothing"
        with django_capture_on_commit_callbacks(execute=True):
            client_for("admin").patch(
                f"/api/employees/{kim.pk}", {"level": store["manager"].pk}, format="json"
            )
        assert received == [None], "a level change may concern every site"
    finally:
        identities_changed.disconnect(receiver)
