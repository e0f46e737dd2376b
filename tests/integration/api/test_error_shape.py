"""Hardening item 11: every /api/ answer, error or not, is the documented JSON shape {"message", "code", "extra"}:
deeply nested JSON, an oversized body, an unknown path, a CSRF failure and a server error (also with DEBUG on)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

DEEP = "[" * 20_000 + "]" * 20_000  # 40 KB


def _assert_shape(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == {"message", "code", "extra"}, body
    assert isinstance(body["message"], str)
    assert body["message"]
    if code is not None:
        assert body["code"] == code, body
    return dict(body)


def test_deeply_nested_json_is_a_400_for_anonymous_and_admin(
    users: dict[str, User], client_for: Callable[[str], APIClient], store: dict[str, Any]
) -> None:
    anonymous = APIClient()
    login = anonymous.post("/api/auth/login", DEEP, content_type="application/json")
    _assert_shape(login, 400, "parse_error")
    admin = client_for("admin")
    nested = "[" * 300 + "]" * 300
    body = f'{{"site": {store["site"].pk}, "name": "z", "polygon": {nested}}}'
    _assert_shape(admin.post("/api/zones", body, content_type="application/json"), 400)
    _assert_shape(admin.post("/api/zones", DEEP, content_type="application/json"), 400, "parse_error")
    _assert_shape(
        admin.patch(f"/api/cameras/{store['camera'].pk}", DEEP, content_type="application/json"),
        400,
        "parse_error",
    )


def test_an_oversized_body_is_a_json_413(
    users: dict[str, User], client_for: Callable[[str], APIClient]
) -> None:
    big = json.dumps({"username": "x" * (10 * 1024 * 1024), "password": "y"})
    _assert_shape(
        APIClient().post("/api/auth/login", big, content_type="application/json"), 413, "request_too_large"
    )
    form = Client().post("/api/auth/login", {"username": "x" * (10 * 1024 * 1024), "password": "y"})
    _assert_shape(form, 413, "request_too_large")
    _assert_shape(
        client_for("admin").post("/api/sites", big, content_type="application/json"), 413, "request_too_large"
    )


def test_unknown_paths_and_csrf_failures_are_json(users: dict[str, User]) -> None:
    _assert_shape(Client().get("/api/nothing-here"), 404, "not_found")
    _assert_shape(Client().get("/api/sites/999999/nothing"), 404, "not_found")
    strict = APIClient(enforce_csrf_checks=True)
    _assert_shape(
        strict.post("/api/auth/login", {"username": "a", "password": "b"}, format="json"), 403, "csrf_failed"
    )


@pytest.mark.parametrize("debug", [False, True])
def test_a_server_error_is_a_json_500_without_details(
    users: dict[str, User], monkeypatch: pytest.MonkeyPatch, settings: Any, debug: bool
) -> None:
    settings.DEBUG = debug

    def broken() -> Any:
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr("server.inventory.selectors.site_list", broken)
    client = Client(raise_request_exception=False)
    client.force_login(users["staff"])
    response = client.get("/api/sites")
    body = _assert_shape(response, 500, "server_error")
    assert "hunter2" not in response.content.decode()
    assert body["extra"] == {}
