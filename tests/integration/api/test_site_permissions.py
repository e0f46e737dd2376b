"""Per-site permissions (server.accounts.sites): a user allowed on site A sees and acts on A only. Every site URL
of site B answers 404 as if B did not exist, a body naming B 403, listings leave B's rows out, the live WebSocket
of B is refused (4403), and B's camera snapshot is not served. Real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.test import Client
from rest_framework.test import APIClient

from server.accounts.sites import allowed_site_ids, site_access_set
from server.alerts.models import Alert
from server.alerts.services import alert_raise
from server.devices.models import EdgeDevice
from server.insights.models import PersonVisit
from server.inventory.models import Camera, FloorPlan, Zone
from server.realtime.consumers import CLOSE_FORBIDDEN, live_access
from tests.integration.api.conftest import SQUARE_POINTS, make_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def two_sites(store: dict[str, Any]) -> dict[str, Any]:
    """Site A (the store's) and site B, each with a zone, a camera with a snapshot, an alert and a visit."""
    site_a, site_b = store["site"], store["other_site"]
    zone_b = Zone.objects.create(site=site_b, name="B promo", polygon=[[0, 0], [4, 0], [4, 4]])
    camera_b = Camera.objects.create(
        site=site_b, device=store["other_device"], name="cam-b", calibration_points=SQUARE_POINTS
    )
    for camera in (store["camera"], camera_b):
        camera.snapshot.save(f"cam-{camera.pk}.jpg", ContentFile(b"\xff\xd8\xff\xe0 jpeg"), save=True)
    alerts = {
        name: alert_raise(site_id=site.pk, zone_id=zone.pk, kind="alarm", person_id=3, message="in")
        for name, site, zone in (("a", site_a, store["restricted"]), ("b", site_b, zone_b))
    }
    start = datetime.now(tz=UTC) - timedelta(hours=1)
    for site in (site_a, site_b):
        PersonVisit.objects.create(
            site=site, person_id=9, started_at=start, ended_at=start + timedelta(minutes=5)
        )
    return {**store, "zone_b": zone_b, "camera_b": camera_b, "alerts": alerts}


@pytest.fixture
def site_a_staff(two_sites: dict[str, Any]) -> User:
    user = make_user("staff-of-a", "staff")
    site_access_set(user=user, all_sites=False, site_ids=[two_sites["site"].pk])
    return user


@pytest.fixture
def site_a_client(site_a_staff: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(site_a_staff)
    return client


SITE_URLS = [
    "/api/sites/{b}",
    "/api/sites/{b}/siren",
    "/api/sites/{b}/analytics/heatmap",
    "/api/sites/{b}/analytics/flow",
    "/api/sites/{b}/analytics/distancing",
    "/api/sites/{b}/analytics/visits",
    "/api/sites/{b}/analytics/dwell",
    "/api/sites/{b}/analytics/occupancy",
    "/api/sites/{b}/analytics/conversion",
    "/api/sites/{b}/visits",
    "/api/sites/{b}/persons/9/path",
    "/api/sites/{b}/reports/export?file_type=xlsx",
    "/api/cameras/{camera_b}",
    "/api/zones/{zone_b}",
    "/api/devices/{device_b}",
    "/api/alerts/{alert_b}",
]


def _fill(url: str, s: dict[str, Any]) -> str:
    return url.format(
        b=s["other_site"].pk,
        camera_b=s["camera_b"].pk,
        zone_b=s["zone_b"].pk,
        device_b=s["other_device"].pk,
        alert_b=s["alerts"]["b"]["id"],
    )


@pytest.mark.parametrize("url", SITE_URLS)
def test_site_b_is_not_found_for_a_user_of_site_a(
    url: str, two_sites: dict[str, Any], site_a_client: APIClient, client_for: Callable[[str], APIClient]
) -> None:
    """404, as for a site that does not exist; a user on every site (the role's demo staff) reads it."""
    response = site_a_client.get(_fill(url, two_sites))
    assert response.status_code == 404, (url, response.status_code, response.content[:200])
    assert response.json()["code"] == "not_found"
    a_url = _fill(url, two_sites).replace(
        f"/sites/{two_sites['other_site'].pk}/", f"/sites/{two_sites['site'].pk}/"
    )
    if a_url != _fill(url, two_sites):
        assert site_a_client.get(a_url).status_code == 200, a_url
    assert client_for("staff").get(_fill(url, two_sites)).status_code == 200, url


def test_listings_keep_to_the_users_sites(two_sites: dict[str, Any], site_a_client: APIClient) -> None:
    a, b = two_sites["site"].pk, two_sites["other_site"].pk
    for url in ("/api/sites", "/api/cameras", "/api/zones", "/api/devices", "/api/alerts"):
        rows = site_a_client.get(url).json()["results"]
        site_ids = {row["id"] if url == "/api/sites" else row["site"] for row in rows}
        assert site_ids == {a}, (url, site_ids)
    counts = site_a_client.get(f"/api/alerts/counts?site={b}").json()
    assert counts["total"] == 0


def test_acknowledging_another_sites_alerts_changes_nothing(
    two_sites: dict[str, Any], site_a_client: APIClient
) -> None:
    b_alert = two_sites["alerts"]["b"]["id"]
    assert site_a_client.post(f"/api/alerts/{b_alert}/acknowledge").status_code == 404
    by_ids = site_a_client.post("/api/alerts/acknowledge", {"ids": [b_alert]}, format="json")
    assert by_ids.json()["acknowledged"] == 0
    by_filter = site_a_client.post(
        "/api/alerts/acknowledge", {"filter": {"site": two_sites["other_site"].pk}}, format="json"
    )
    assert by_filter.json()["acknowledged"] == 0
    assert Alert.objects.get(pk=b_alert).state == "open"
    a_alert = two_sites["alerts"]["a"]["id"]
    assert site_a_client.post(f"/api/alerts/{a_alert}/acknowledge").status_code == 200


def test_writes_naming_site_b_are_refused(two_sites: dict[str, Any]) -> None:
    installer = make_user("installer-of-a", "installer")
    site_access_set(user=installer, all_sites=False, site_ids=[two_sites["site"].pk])
    client = APIClient()
    client.force_authenticate(installer)
    b = two_sites["other_site"].pk
    response = client.post("/api/devices", {"site": b, "name": "sneaky"}, format="json")
    assert response.status_code == 403, response.content
    assert not EdgeDevice.objects.filter(name="sneaky").exists()
    moved = client.patch(f"/api/cameras/{two_sites['camera'].pk}", {"site": b}, format="json")
    assert moved.status_code == 403
    assert (
        client.post("/api/devices", {"site": two_sites["site"].pk, "name": "fine"}, format="json").status_code
        == 201
    )


def test_staff_of_a_cannot_watch_site_b_live(two_sites: dict[str, Any], site_a_staff: User) -> None:
    browser = Client()
    browser.force_login(site_a_staff)
    key = browser.session.session_key
    assert live_access(session_key=key, site_id=two_sites["other_site"].pk).refusal == CLOSE_FORBIDDEN
    assert live_access(session_key=key, site_id=two_sites["site"].pk).refusal is None
    # Allowed on B later: the next re-check lets the socket on.
    site_access_set(user=site_a_staff, all_sites=False, site_ids=[two_sites["other_site"].pk])
    assert live_access(session_key=key, site_id=two_sites["other_site"].pk).refusal is None
    assert live_access(session_key=key, site_id=two_sites["site"].pk).refusal == CLOSE_FORBIDDEN


def test_site_bs_snapshot_is_not_served(two_sites: dict[str, Any], site_a_staff: User) -> None:
    browser = Client()
    browser.force_login(site_a_staff)
    assert browser.get(f"/media/{two_sites['camera_b'].snapshot.name}").status_code == 404
    assert browser.get(f"/media/{two_sites['camera'].snapshot.name}").status_code == 200


def test_admins_and_unrestricted_users_are_on_every_site(
    two_sites: dict[str, Any], users: dict[str, User]
) -> None:
    admin = users["admin"]
    site_access_set(user=admin, all_sites=False, site_ids=[])  # an admin's restriction does not apply
    assert allowed_site_ids(admin) is None
    assert allowed_site_ids(users["staff"]) is None  # no row: every site (the demo users)


def test_admin_assigns_sites_through_the_users_api(
    two_sites: dict[str, Any], client_for: Callable[[str], APIClient], users: dict[str, User]
) -> None:
    admin = client_for("admin")
    staff = users["staff"]
    a = two_sites["site"].pk
    response = admin.patch(f"/api/users/{staff.pk}", {"all_sites": False, "sites": [a]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["all_sites"] is False
    assert response.json()["sites"] == [a]
    assert allowed_site_ids(staff) == frozenset({a})
    me = APIClient()
    me.force_authenticate(staff)
    assert me.get("/api/auth/me").json()["sites"] == [a]
    unknown = admin.patch(f"/api/users/{staff.pk}", {"sites": [999_999]}, format="json")
    assert unknown.status_code == 400
    created = admin.post(
        "/api/users",
        {
            "username": "newbie",
            "password": "a long enough password 9",
            "roles": ["staff"],
            "all_sites": False,
            "sites": [a],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["sites"] == [a]
    back = admin.patch(f"/api/users/{staff.pk}", {"all_sites": True}, format="json")
    assert back.json()["all_sites"] is True
    assert allowed_site_ids(staff) is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_live_websocket_of_site_b_is_refused(two_sites: dict[str, Any], site_a_staff: User) -> None:
    """Through the real ASGI stack (origin check, session auth, the consumer) on the Redis channel layer."""
    from asgiref.sync import sync_to_async
    from asgiref.testing import ApplicationCommunicator  # channels.testing needs daphne

    from server.config.asgi import application

    browser = Client()
    await sync_to_async(browser.force_login)(site_a_staff)
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    headers = [(b"cookie", cookie), (b"origin", b"http://localhost"), (b"host", b"localhost")]

    async def connect(site_id: int) -> tuple[bool, int | None]:
        path = f"/ws/sites/{site_id}/"
        scope = {
            "type": "websocket",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers,
        }
        socket = ApplicationCommunicator(application, scope)
        await socket.send_input({"type": "websocket.connect"})
        answer = await socket.receive_output(timeout=10)
        connected = answer["type"] == "websocket.accept"
        if connected:
            hello = json.loads((await socket.receive_output(timeout=10))["text"])
            assert hello["type"] == "hello"
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        await socket.wait(timeout=10)
        return connected, None if connected else answer.get("code")

    try:
        assert await connect(two_sites["site"].pk) == (True, None)
        assert await connect(two_sites["other_site"].pk) == (False, CLOSE_FORBIDDEN)
    finally:
        from django.db import connections

        await sync_to_async(connections.close_all)()  # the consumer's thread-sensitive connection


def test_site_bs_floor_plan_is_out_of_reach(two_sites: dict[str, Any], site_a_client: APIClient) -> None:
    """Floor plans name their site by a one-to-one field: the site filter keeps them to the user's sites too
    (listing, detail, and an installer's edit)."""
    plan_b = FloorPlan.objects.create(site=two_sites["other_site"], width_m=10.0, height_m=5.0)
    rows = site_a_client.get("/api/floor-plans").json()["results"]
    assert {row["site"] for row in rows} == {two_sites["site"].pk}
    assert site_a_client.get(f"/api/floor-plans/{plan_b.pk}").status_code == 404
    assert site_a_client.get(f"/api/floor-plans/{two_sites['plan'].pk}").status_code == 200
    installer = make_user("installer-of-a2", "installer")
    site_access_set(user=installer, all_sites=False, site_ids=[two_sites["site"].pk])
    client = APIClient()
    client.force_authenticate(installer)
    assert client.patch(f"/api/floor-plans/{plan_b.pk}", {"width_m": 99.0}, format="json").status_code == 404
    plan_b.refresh_from_db()
    assert plan_b.width_m == 10.0


@pytest.mark.parametrize(
    "variant", ["{dir}/./{name}", "{dir}//{name}", "{dir}/../{dir}/{name}", "./{dir}/{name}"]
)
def test_site_bs_snapshot_is_not_served_under_another_spelling(
    variant: str, two_sites: dict[str, Any], site_a_staff: User
) -> None:
    """The file server normalises the path; the site check looked the raw path up and let these through."""
    browser = Client()
    browser.force_login(site_a_staff)
    directory, name = two_sites["camera_b"].snapshot.name.rsplit("/", 1)
    response = browser.get("/media/" + variant.format(dir=directory, name=name))
    assert response.status_code == 404, (variant, response.status_code)
    own_dir, own_name = two_sites["camera"].snapshot.name.rsplit("/", 1)
    assert browser.get("/media/" + variant.format(dir=own_dir, name=own_name)).status_code == 200


def test_a_file_of_no_row_is_not_served_to_a_user_kept_to_some_sites(
    two_sites: dict[str, Any], site_a_staff: User, users: dict[str, User], settings: Any
) -> None:
    """An orphaned snapshot (its camera's row gone or pointing elsewhere) names no site: refused to a user kept
    to some sites (it may be any site's), served to a user on every site."""
    from pathlib import Path

    orphan = Path(settings.MEDIA_ROOT) / "snapshots" / "orphan.jpg"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"\xff\xd8\xff\xe0 jpeg")
    restricted, everywhere = Client(), Client()
    restricted.force_login(site_a_staff)
    everywhere.force_login(users["staff"])
    assert restricted.get("/media/snapshots/orphan.jpg").status_code == 404
    assert everywhere.get("/media/snapshots/orphan.jpg").status_code == 200


def _routes() -> list[tuple[str, Any]]:
    """Every URL pattern of the root URLconf (nested includes flattened) with its view callback."""
    from django.urls import get_resolver

    found: list[tuple[str, Any]] = []

    def walk(patterns: Any, prefix: str) -> None:
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                found.append((prefix + str(pattern.pattern), pattern.callback))

    walk(get_resolver().url_patterns, "")
    return found


def _concrete(pattern: str, values: dict[str, int]) -> str | None:
    """A URL for a route pattern (regex or path syntax) with its named groups filled; None when it has a group
    not in `values` or a format suffix."""
    import re

    if "format" in pattern:
        return None
    url = pattern.replace("^", "").replace("$", "").replace("/?", "/")
    for name, value in values.items():
        url = re.sub(rf"\(\?P<{name}>[^)]*\)", str(value), url)
        url = re.sub(rf"<(int:)?{name}>", str(value), url)
    if "(?P<" in url or "<" in url:
        return None
    return "/" + url.rstrip("/")


@pytest.fixture
def power_user_of_a(two_sites: dict[str, Any]) -> APIClient:
    """Every permission of every app, yet not an admin: kept to site A (admins are on every site)."""
    from django.contrib.auth.models import Permission

    user = make_user("power-of-a", None)
    user.user_permissions.set(Permission.objects.all())
    site_access_set(user=user, all_sites=False, site_ids=[two_sites["site"].pk])
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_every_route_naming_site_b_is_not_found(
    two_sites: dict[str, Any], power_user_of_a: APIClient
) -> None:
    """Enumerated from the URLconf, not listed by hand: every route with a site in its path, read and written,
    answers 404 for site B to a user of site A holding every permission."""
    b = two_sites["other_site"].pk
    checked = []
    for pattern, callback in _routes():
        if "site_id" not in pattern:
            continue
        url = _concrete(pattern, {"site_id": b, "person_id": 9})
        assert url is not None, pattern
        for method in ("get", "post", "put", "patch", "delete"):
            if not hasattr(callback.cls, method):  # the methods the view answers
                continue
            response = getattr(power_user_of_a, method)(url, {}, format="json")
            assert response.status_code == 404, (method, url, response.status_code)
            checked.append((method, url))
    assert len(checked) >= 14, checked


def test_every_viewset_keeps_site_bs_rows_out(two_sites: dict[str, Any], power_user_of_a: APIClient) -> None:
    """Every router listing leaves site B's rows out and every detail route of a site-B row is a 404, for each
    model that names a site (found from the viewsets themselves)."""
    from server.accounts.sites import site_field
    from server.inventory.models import FloorPlan
    from server.notifications.models import Delivery, NotificationRule
    from server.people.models import IdentityBinding

    FloorPlan.objects.create(site=two_sites["other_site"], width_m=10.0, height_m=5.0)
    rule = NotificationRule.objects.create(
        name="site B's receiver",
        channel="webhook",
        site=two_sites["other_site"],
        url="https://b.example/hook",
    )
    Delivery.objects.create(
        rule=rule,
        channel="webhook",
        event="alert",
        payload={},
        site=two_sites["other_site"],
        status="delivered",
        next_attempt_at="2026-01-01T00:00:00Z",
        created_at="2026-01-01T00:00:00Z",
    )
    IdentityBinding.objects.create(
        site=two_sites["other_site"],
        person_id=77,
        employee=two_sites["employee"],
        source="manual",
        bound_at="2026-01-01T00:00:00Z",
    )
    b = two_sites["other_site"].pk
    models_checked = set()
    for pattern, callback in _routes():
        cls = getattr(callback, "cls", None)
        actions = getattr(callback, "actions", None) or {}
        queryset = getattr(cls, "queryset", None)
        if queryset is None or "format" in pattern:
            continue
        model = queryset.model
        lookup = site_field(model)
        if lookup is None:
            continue
        b_rows = list(model.objects.filter(**{lookup: b}).values_list("pk", flat=True))
        assert b_rows, model
        if "list" in actions.values():
            url = _concrete(pattern, {})
            assert url is not None, pattern
            listed = power_user_of_a.get(url, {"limit": 1000}).json()["results"]
            assert not {row["id"] for row in listed} & set(b_rows), (url, listed)
            models_checked.add(model._meta.label)
        if "retrieve" in actions.values():
            for pk in b_rows:
                url = _concrete(pattern, {"pk": pk})
                assert url is not None
                assert power_user_of_a.get(url).status_code == 404, url
    assert {"inventory.Site", "inventory.FloorPlan", "inventory.Camera", "alerts.Alert"} <= models_checked
