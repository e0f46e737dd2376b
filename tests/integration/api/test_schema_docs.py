"""Hardening item 12: the OpenAPI schema documents the error answers in the one error shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _error_ref(operation: dict[str, Any], status: str) -> str:
    return str(operation["responses"][status]["content"]["application/json"]["schema"]["$ref"])


def test_schema_documents_error_responses(
    users: dict[str, User], client_for: Callable[[str], APIClient]
) -> None:
    response = client_for("staff").get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["message", "code", "extra"]
    paths = {path.rstrip("/"): operations for path, operations in schema["paths"].items()}
    sites, site = paths["/api/sites"], paths["/api/sites/{id}"]
    assert _error_ref(sites["get"], "403") == "#/components/schemas/Error"
    assert {"400", "403", "413"} <= set(sites["post"]["responses"])
    assert {"403", "404"} <= set(site["get"]["responses"])
    assert {"400", "403", "404", "409"} <= set(site["patch"]["responses"])
    assert {"400", "403", "429"} <= set(paths["/api/auth/login"]["post"]["responses"])
    assert "200" in sites["get"]["responses"]


def test_swagger_ui_needs_a_login_and_runs_no_inline_script(
    users: dict[str, User], client_for: Callable[[str], APIClient]
) -> None:
    assert APIClient().get("/api/docs/").status_code == 403
    page = client_for("staff").get("/api/docs/")
    assert page.status_code == 200
    assert "?script" in page.content.decode()  # the start-up script is a file, not inline (the CSP allows it)
    assert "script-src 'self' https://cdn.jsdelivr.net" in page["Content-Security-Policy"]
