"""Session login for the SPA with CSRF, the role groups, user management and the OpenAPI schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from server.accounts.roles import ROLES, can_watch_live, ensure_roles, user_roles
from server.audit.models import AuditLog
from tests.integration.api.conftest import make_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PASSWORD = "correct horse battery staple"


def _csrf_client() -> tuple[APIClient, str]:
    client = APIClient(enforce_csrf_checks=True)
    response = client.get("/api/auth/csrf")
    assert response.status_code == 200
    token = response.json()["csrf_token"]
    assert client.cookies["csrftoken"].value
    return client, token


def test_login_me_logout_with_csrf(users: dict[str, User]) -> None:
    client, token = _csrf_client()
    refused = client.post("/api/auth/login", {"username": "staff-user", "password": PASSWORD}, format="json")
    assert refused.status_code == 403  # no CSRF header
    response = client.post(
        "/api/auth/login",
        {"username": "staff-user", "password": PASSWORD},
        format="json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200, response.content
    me = client.get("/api/auth/me").json()
    assert me["username"] == "staff-user"
    assert me["roles"] == ["staff"]
    assert "alerts.change_alert" in me["permissions"]
    assert "people.add_employee" not in me["permissions"]
    # Logged in, writes need the (rotated) CSRF token too.
    token = client.cookies["csrftoken"].value
    assert client.post("/api/auth/logout").status_code == 403
    assert client.post("/api/auth/logout", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert client.get("/api/auth/me").status_code == 403


def test_wrong_password_is_refused(users: dict[str, User]) -> None:
    client, token = _csrf_client()
    response = client.post(
        "/api/auth/login",
        {"username": "staff-user", "password": "nope"},
        format="json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"
    assert client.get("/api/auth/me").status_code == 403


def test_roles_are_groups_with_permissions(db: None) -> None:
    counts = ensure_roles()
    assert set(counts) == set(ROLES)
    assert counts["admin"] > counts["staff"] > 0
    assert counts["installer"] > 0
    installer = Group.objects.get(name="installer")
    codes = set(installer.permissions.values_list("codename", flat=True))
    assert {"change_camera", "add_edgedevice", "view_zone", "view_site"} <= codes
    assert not {"change_zone", "add_site", "view_alert", "view_employee"} & codes
    admin = make_user("boss", "admin")
    assert admin.has_perm("people.add_employee")
    assert admin.has_perm("audit.view_auditlog")
    assert not admin.has_perm("audit.change_auditlog")
    assert can_watch_live(admin)
    assert not can_watch_live(make_user("nobody", None))
    assert user_roles(User.objects.create_superuser("root", password=PASSWORD)) == ["admin"]


def test_admin_manages_users_and_roles(users: dict[str, User], client_for: Callable[[str], Any]) -> None:
    client = client_for("admin")
    weak = client.post(
        "/api/users", {"username": "weak", "password": "123", "roles": ["staff"]}, format="json"
    )
    assert weak.status_code == 400
    assert "password" in weak.json()["extra"]["fields"]
    bad_role = client.post(
        "/api/users",
        {"username": "x", "password": "a long enough password 3", "roles": ["god"]},
        format="json",
    )
    assert bad_role.status_code == 400
    assert "roles" in bad_role.json()["extra"]["fields"]
    created = client.post(
        "/api/users",
        {
            "username": "ana",
            "password": "a long enough password 3",
            "roles": ["installer"],
            "email": "a@x.org",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["roles"] == ["installer"]
    assert "password" not in body
    ana = User.objects.get(username="ana")
    assert ana.check_password("a long enough password 3")
    assert not ana.is_staff
    promoted = client.patch(f"/api/users/{ana.pk}", {"roles": ["admin", "staff"]}, format="json")
    assert promoted.json()["roles"] == ["admin", "staff"]
    ana.refresh_from_db()
    assert ana.is_staff  # Django admin access follows the admin role
    assert (
        client.patch(
            f"/api/users/{ana.pk}", {"password": "another long password 4"}, format="json"
        ).status_code
        == 200
    )
    ana.refresh_from_db()
    assert ana.check_password("another long password 4")
    me = users["admin"]
    assert client.delete(f"/api/users/{me.pk}").status_code == 409
    assert client.patch(f"/api/users/{me.pk}", {"roles": ["staff"]}, format="json").status_code == 409
    actions = set(
        AuditLog.objects.filter(object_type="auth.user", object_id=str(ana.pk)).values_list(
            "action", flat=True
        )
    )
    assert {"create", "set_roles", "set_password"} <= actions
    assert all("password" not in entry.changes for entry in AuditLog.objects.filter(object_type="auth.user"))


def test_openapi_schema_generates_without_warnings(db: None) -> None:
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    mine = [
        message
        for message in [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
        if not any(
            other in str(message)
            for other in ("insights", "Heatmap", "Flow", "Distancing", "Visits", "Dwell", "Occupancy")
        )
    ]
    assert mine == []
    paths = schema["paths"]
    for path in (
        "/api/sites",
        "/api/cameras/{id}",
        "/api/devices/{id}/issue-token",
        "/api/badge-events",
        "/api/alerts/{id}/acknowledge",
        "/api/sites/{site_id}/siren",
        "/api/auth/login",
    ):
        assert any(p.rstrip("/") == path for p in paths), path
