"""Declarative permission table (netbox-style): every endpoint x method x role, with the expected status,
executed against the real database. Anonymous callers always get 403."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from server.alerts.services import alert_raise
from server.insights.models import PersonVisit
from server.people.models import IdentityBinding, ZonePermission
from tests.integration.api.conftest import ROLES, SQUARE_POINTS
from tests.support.live import clear_live_state, put_positions

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

Store = dict[str, Any]
ADMIN = ("admin",)
ADMIN_INSTALLER = ("admin", "installer")
ADMIN_STAFF = ("admin", "staff")
EVERY_ROLE = ROLES


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: Callable[[Store], str]
    allowed: tuple[str, ...]
    ok: int
    body: Callable[[Store], dict[str, Any]] | None = None
    anonymous: int = 403
    extra: dict[str, int] = field(default_factory=dict)

    def expected(self, role: str) -> int:
        if role == "anonymous":
            return self.anonymous
        return self.ok if role in self.allowed else 403


def _schedule_body() -> dict[str, Any]:
    """A schedule mailing a user of the system (staff may address nobody else: server.reports.recipients)."""
    User.objects.get_or_create(username="boss", defaults={"email": "boss@example.com"})
    return {"name": "Daily", "recipients": ["boss@example.com"], "timezone": "Europe/Paris"}


def _zone_permission_url(s: Store) -> str:
    grant, _ = ZonePermission.objects.get_or_create(employee=s["employee"], zone=s["restricted"])
    return f"/api/zone-permissions/{grant.pk}"


def _binding_url(s: Store) -> str:
    binding = IdentityBinding.objects.create(
        site=s["site"], person_id=7, employee=s["employee"], source="manual", bound_at="2026-01-01T00:00:00Z"
    )
    return f"/api/identity-bindings/{binding.pk}/unbind"


def _alert_url(suffix: str) -> Callable[[Store], str]:
    def build(s: Store) -> str:
        alert = alert_raise(
            site_id=s["site"].pk,
            zone_id=s["restricted"].pk,
            kind="alarm",
            person_id=3,
            message="Person entered",
        )
        return f"/api/alerts/{alert['id']}{suffix}"

    return build


def _badge_url(s: Store) -> str:
    put_positions(s["site"].pk, {41: (5.0, 5.0), 42: (9.0, 9.0)}, int(time.time() * 1_000_000))
    return "/api/badge-events"


def _site_url(suffix: str) -> Callable[[Store], str]:
    return lambda s: f"/api/sites/{s['site'].pk}/{suffix}"


def _path_url(s: Store) -> str:
    PersonVisit.objects.get_or_create(
        site=s["site"], person_id=5, defaults={"started_at": timezone.now() - timedelta(minutes=5)}
    )
    return f"/api/sites/{s['site'].pk}/persons/5/path"


def _other_user_url(s: Store) -> str:
    other = User.objects.filter(username="someone").first() or User.objects.create_user(
        username="someone", password="a long enough password 1"
    )
    return f"/api/users/{other.pk}"


CASES = [
    # sites
    Case("sites list", "get", lambda s: "/api/sites", EVERY_ROLE, 200),
    Case("site detail", "get", lambda s: f"/api/sites/{s['site'].pk}", EVERY_ROLE, 200),
    Case("site create", "post", lambda s: "/api/sites", ADMIN, 201, lambda s: {"name": "Store C"}),
    Case(
        "site update",
        "patch",
        lambda s: f"/api/sites/{s['site'].pk}",
        ADMIN,
        200,
        lambda s: {"name": "Renamed"},
    ),
    Case("site delete", "delete", lambda s: f"/api/sites/{s['other_site'].pk}", ADMIN, 204),
    # floor plans
    Case("floor plans list", "get", lambda s: "/api/floor-plans", EVERY_ROLE, 200),
    Case(
        "floor plan create",
        "post",
        lambda s: "/api/floor-plans",
        ADMIN_INSTALLER,
        201,
        lambda s: {"site": s["other_site"].pk, "width_m": 10.0, "height_m": 8.0},
    ),
    Case(
        "floor plan update",
        "patch",
        lambda s: f"/api/floor-plans/{s['plan'].pk}",
        ADMIN_INSTALLER,
        200,
        lambda s: {"metres_per_pixel": 0.02},
    ),
    Case("floor plan delete", "delete", lambda s: f"/api/floor-plans/{s['plan'].pk}", ADMIN_INSTALLER, 204),
    # cameras (calibration included)
    Case("cameras list", "get", lambda s: "/api/cameras", EVERY_ROLE, 200),
    Case("camera detail", "get", lambda s: f"/api/cameras/{s['camera'].pk}", EVERY_ROLE, 200),
    Case(
        "camera create",
        "post",
        lambda s: "/api/cameras",
        ADMIN_INSTALLER,
        201,
        lambda s: {
            "site": s["site"].pk,
            "device": s["device"].pk,
            "name": "cam-2",
            "calibration_points": SQUARE_POINTS,
        },
    ),
    Case(
        "camera calibrate",
        "patch",
        lambda s: f"/api/cameras/{s['camera'].pk}",
        ADMIN_INSTALLER,
        200,
        lambda s: {"calibration_points": SQUARE_POINTS},
    ),
    Case("camera delete", "delete", lambda s: f"/api/cameras/{s['camera'].pk}", ADMIN_INSTALLER, 204),
    # edge devices
    # Staff read devices for the live page's camera and edge-box health (tokens are never listed).
    Case("devices list", "get", lambda s: "/api/devices", EVERY_ROLE, 200),
    Case("device detail", "get", lambda s: f"/api/devices/{s['device'].pk}", EVERY_ROLE, 200),
    Case(
        "device create",
        "post",
        lambda s: "/api/devices",
        ADMIN_INSTALLER,
        201,
        lambda s: {"site": s["site"].pk, "name": "box-2"},
    ),
    Case(
        "device rename",
        "patch",
        lambda s: f"/api/devices/{s['device'].pk}",
        ADMIN_INSTALLER,
        200,
        lambda s: {"name": "box-1b"},
    ),
    Case(
        "device issue token",
        "post",
        lambda s: f"/api/devices/{s['device'].pk}/issue-token",
        ADMIN_INSTALLER,
        200,
        lambda s: {},
    ),
    Case(
        "device replace box",
        "post",
        lambda s: f"/api/devices/{s['device'].pk}/replace",
        ADMIN_INSTALLER,
        200,
        lambda s: {},
    ),
    Case("device revoke", "post", lambda s: f"/api/devices/{s['device'].pk}/revoke", ADMIN_INSTALLER, 200),
    Case("device delete", "delete", lambda s: f"/api/devices/{s['other_device'].pk}", ADMIN_INSTALLER, 204),
    # zones
    Case("zones list", "get", lambda s: "/api/zones", EVERY_ROLE, 200),
    Case("zone detail", "get", lambda s: f"/api/zones/{s['zone'].pk}", EVERY_ROLE, 200),
    Case(
        "zone create",
        "post",
        lambda s: "/api/zones",
        ADMIN,
        201,
        lambda s: {
            "site": s["site"].pk,
            "name": "Queue",
            "kind": "queue",
            "polygon": [[20, 0], [24, 0], [24, 3]],
        },
    ),
    Case(
        "zone update",
        "patch",
        lambda s: f"/api/zones/{s['zone'].pk}",
        ADMIN,
        200,
        lambda s: {"color": "#ff0000"},
    ),
    Case("zone delete", "delete", lambda s: f"/api/zones/{s['zone'].pk}", ADMIN, 204),
    # security levels
    Case("levels list", "get", lambda s: "/api/security-levels", ADMIN_STAFF, 200),
    Case(
        "level create",
        "post",
        lambda s: "/api/security-levels",
        ADMIN,
        201,
        lambda s: {"name": "Guard", "rank": 3},
    ),
    Case(
        "level update",
        "patch",
        lambda s: f"/api/security-levels/{s['level'].pk}",
        ADMIN,
        200,
        lambda s: {"description": "Shop floor"},
    ),
    Case("level delete", "delete", lambda s: f"/api/security-levels/{s['manager'].pk}", ADMIN, 204),
    # employees
    Case("employees list", "get", lambda s: "/api/employees", ADMIN_STAFF, 200),
    Case("employees metadata", "options", lambda s: "/api/employees", ADMIN_STAFF, 200),
    Case(
        "employee create",
        "post",
        lambda s: "/api/employees",
        ADMIN,
        201,
        lambda s: {"name": "Lee", "level": s["manager"].pk, "badge_id": "B-200"},
    ),
    Case(
        "employee update",
        "patch",
        lambda s: f"/api/employees/{s['employee'].pk}",
        ADMIN,
        200,
        lambda s: {"level": s["manager"].pk},
    ),
    Case("employee delete", "delete", lambda s: f"/api/employees/{s['employee'].pk}", ADMIN, 204),
    # zone permissions
    Case("zone permissions list", "get", lambda s: "/api/zone-permissions", ADMIN, 200),
    Case(
        "zone permission create",
        "post",
        lambda s: "/api/zone-permissions",
        ADMIN,
        201,
        lambda s: {"employee": s["employee"].pk, "zone": s["restricted"].pk},
    ),
    Case(
        "zone permission update", "patch", _zone_permission_url, ADMIN, 200, lambda s: {"note": "night shift"}
    ),
    Case("zone permission delete", "delete", _zone_permission_url, ADMIN, 204),
    # identity binding
    Case("bindings list", "get", lambda s: "/api/identity-bindings", ADMIN_STAFF, 200),
    Case(
        "bind by hand",
        "post",
        lambda s: "/api/identity-bindings",
        ADMIN_STAFF,
        201,
        lambda s: {"site": s["site"].pk, "person_id": 12, "employee": s["employee"].pk},
    ),
    Case("unbind by hand", "post", _binding_url, ADMIN_STAFF, 200),
    Case(
        "badge event",
        "post",
        _badge_url,
        ADMIN_STAFF,
        201,
        lambda s: {"site": s["site"].pk, "badge_id": "B-100", "reader_x_m": 5.5, "reader_y_m": 5.0},
    ),
    # alerts and siren
    Case("alerts list", "get", lambda s: "/api/alerts", ADMIN_STAFF, 200),
    Case("alert detail", "get", _alert_url(""), ADMIN_STAFF, 200),
    Case("alert acknowledge", "post", _alert_url("/acknowledge"), ADMIN_STAFF, 200),
    Case("alert resolve", "post", _alert_url("/resolve"), ADMIN_STAFF, 200),
    Case("alert counts", "get", lambda s: f"/api/alerts/counts?site={s['site'].pk}", ADMIN_STAFF, 200),
    Case(
        "alerts bulk acknowledge",
        "post",
        lambda s: "/api/alerts/acknowledge",
        ADMIN_STAFF,
        200,
        lambda s: {"filter": {"site": s["site"].pk}},
    ),
    Case("siren get", "get", lambda s: f"/api/sites/{s['site'].pk}/siren", ADMIN_STAFF, 200),
    Case(
        "siren set",
        "put",
        lambda s: f"/api/sites/{s['site'].pk}/siren",
        ADMIN_STAFF,
        200,
        lambda s: {"on": True},
    ),
    # camera snapshot request (the still is served under /media/: tests/integration/api/test_site_permissions.py)
    Case(
        "camera snapshot", "post", lambda s: f"/api/cameras/{s['camera'].pk}/snapshot", ADMIN_INSTALLER, 202
    ),
    # analytics, visits and paths (server.insights), conversion (server.sales)
    *[
        Case(f"analytics {name}", "get", _site_url(f"analytics/{name}"), ADMIN_STAFF, 200)
        for name in ("heatmap", "flow", "distancing", "visits", "dwell", "occupancy", "conversion")
    ],
    Case("visit list", "get", _site_url("visits"), ADMIN_STAFF, 200),
    Case("person path", "get", _path_url, ADMIN_STAFF, 200),
    # point-of-sale transactions (server.sales)
    Case("transactions list", "get", _site_url("sales/transactions"), ADMIN_STAFF, 200),
    Case(
        "transactions import",
        "post",
        _site_url("sales/transactions"),
        ADMIN,
        201,
        lambda s: {"transactions": [{"time": "2026-11-30T10:00:00Z", "till": "1", "amount": "9.90"}]},
    ),
    # reports (server.reports)
    Case("export csv", "get", _site_url("reports/export?analytic=footfall"), ADMIN_STAFF, 200),
    Case("chain overview", "get", lambda s: "/api/reports/chain", ADMIN_STAFF, 200),
    Case("report schedules list", "get", lambda s: "/api/report-schedules", ADMIN_STAFF, 200),
    Case(
        "report schedule create",
        "post",
        lambda s: "/api/report-schedules",
        ADMIN_STAFF,
        201,
        lambda s: _schedule_body(),
    ),
    # administration
    Case("audit log", "get", lambda s: "/api/audit-log", ADMIN, 200),
    Case("users list", "get", lambda s: "/api/users", ADMIN, 200),
    Case(
        "user create",
        "post",
        lambda s: "/api/users",
        ADMIN,
        201,
        lambda s: {"username": "newbie", "password": "a long enough password 2", "roles": ["staff"]},
    ),
    Case("user update", "patch", _other_user_url, ADMIN, 200, lambda s: {"roles": ["installer"]}),
    Case("user delete", "delete", _other_user_url, ADMIN, 204),
    Case("user unlock", "post", lambda s: _other_user_url(s) + "/unlock", ADMIN, 200),
    # notifications, retention and privacy
    Case("notification rules", "get", lambda s: "/api/notification-rules", ADMIN, 200),
    Case(
        "notification rule create",
        "post",
        lambda s: "/api/notification-rules",
        ADMIN,
        201,
        lambda s: {"name": "ops", "channel": "mqtt"},
    ),
    Case("notification deliveries", "get", lambda s: "/api/notification-deliveries", ADMIN, 200),
    Case("retention policy", "get", lambda s: "/api/retention", ADMIN, 200),
    Case(
        "retention periods set",
        "put",
        lambda s: "/api/retention",
        ADMIN,
        200,
        lambda s: {"days": {"audit": 800}},
    ),
    Case("employee export", "get", lambda s: f"/api/employees/{s['employee'].pk}/export", ADMIN, 200),
    Case(
        "employee erase",
        "post",
        lambda s: f"/api/employees/{s['employee'].pk}/erase",
        ADMIN,
        200,
        lambda s: {"confirm": s["employee"].name},
    ),
    # session
    Case("me", "get", lambda s: "/api/auth/me", EVERY_ROLE, 200),
    Case("logout", "post", lambda s: "/api/auth/logout", EVERY_ROLE, 204),
    Case("schema", "get", lambda s: "/api/schema/", EVERY_ROLE, 200),
    Case("schema browser", "get", lambda s: "/api/docs/", EVERY_ROLE, 200),
]

PARAMS = [
    pytest.param(case, role, id=f"{case.name}-{role}") for case in CASES for role in ("anonymous", *ROLES)
]


@pytest.fixture(autouse=True)
def _clear_registry() -> Any:
    clear_live_state()
    yield
    clear_live_state()


@pytest.mark.parametrize(("case", "role"), PARAMS)
def test_permission_table(case: Case, role: str, store: Store, client_for: Callable[[str], Any]) -> None:
    client = client_for(role)
    url = case.url(store)
    kwargs: dict[str, Any] = {}
    if case.body is not None:
        kwargs = {"data": case.body(store), "format": "json"}
    response = getattr(client, case.method)(url, **kwargs)
    expected = case.expected(role)
    assert response.status_code == expected, (
        case.name,
        role,
        response.status_code,
        getattr(response, "data", None),
    )
    if expected == 403:
        assert response.json()["code"] in {"not_authenticated", "permission_denied"}


def test_every_api_route_is_in_the_table(store: Store) -> None:
    """A new endpoint must get rows in the table: every router prefix and every plain API path appears."""
    from server.api.urls import router, urlpatterns

    paths = [(case.url(store).removeprefix("/api/"), case.method) for case in CASES]
    rendered = {path.split("/")[0] for path, _ in paths}
    for prefix, _, _ in router.registry:
        assert prefix in rendered, f"/api/{prefix} has no row in the permission table"
    for pattern in urlpatterns:
        first = str(getattr(pattern, "pattern", "")).split("/")[0]
        if first:
            assert first in rendered, f"/api/{first}... has no row in the permission table"
    methods = {(path.split("/")[0], method) for path, method in paths}
    for prefix in ("sites", "cameras", "zones", "employees", "devices", "floor-plans", "security-levels"):
        for method in ("get", "post", "patch", "delete"):
            assert (prefix, method) in methods, f"{method.upper()} /api/{prefix} has no row"
