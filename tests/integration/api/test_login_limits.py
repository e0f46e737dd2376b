"""Hardening item 8: every password check is limited per account and per client address, a lockout that an admin
lifts, and no HTTP Basic authentication. Real PostgreSQL and the Redis cache."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from server.audit.models import AuditLog

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PASSWORD = "correct horse battery staple"


def _login(username: str, password: str, address: str = "10.0.0.1") -> Any:
    client = APIClient(REMOTE_ADDR=address)
    return client.post("/api/auth/login", {"username": username, "password": password}, format="json")


def _admin_login(username: str, password: str, address: str = "10.0.0.1") -> Client:
    client = Client(REMOTE_ADDR=address)
    client.post("/admin/login/?next=/admin/", {"username": username, "password": password})
    return client


def test_basic_auth_is_not_accepted(users: dict[str, User], store: dict[str, Any]) -> None:
    token = base64.b64encode(f"admin-user:{PASSWORD}".encode()).decode()
    response = APIClient().get("/api/sites", HTTP_AUTHORIZATION=f"Basic {token}")
    assert response.status_code == 403
    assert response.json()["code"] == "not_authenticated"


def test_failed_logins_lock_the_account_for_form_and_admin_until_an_admin_unlocks(
    users: dict[str, User], client_for: Callable[[str], APIClient], settings: Any
) -> None:
    settings.AUTH_ACCOUNT_MAX_FAILURES = 5
    target = users["admin"]
    target.is_staff = True  # may use the Django admin
    target.save()
    # Guesses through both doors count against the one account.
    for attempt in range(5):
        if attempt % 2:
            _admin_login(target.username, f"guess-{attempt}", address=f"10.0.1.{attempt}")
        else:
            assert _login(target.username, f"guess-{attempt}", address=f"10.0.1.{attempt}").status_code == 400
    locked = _login(target.username, PASSWORD, address="10.0.2.1")
    assert locked.status_code == 429, locked.content
    assert locked.json()["code"] == "account_locked"
    assert int(locked["Retry-After"]) > 0
    assert "_auth_user_id" not in _admin_login(target.username, PASSWORD, address="10.0.2.2").session
    assert _login("staff-user", PASSWORD, address="10.0.2.3").status_code == 200  # other accounts unaffected
    lockout = AuditLog.objects.get(action="lockout", object_id=str(target.pk))
    assert lockout.changes["client_address"] == "10.0.1.4"

    admin = client_for("installer")
    assert admin.post(f"/api/users/{target.pk}/unlock").status_code == 403  # not an admin
    other_admin = User.objects.create_user("admin-2", password=PASSWORD, is_superuser=True)
    listed = APIClient()
    listed.force_authenticate(other_admin)
    row = listed.get(f"/api/users/{target.pk}").json()
    assert row["locked_until"] is not None
    unlocked = listed.post(f"/api/users/{target.pk}/unlock")
    assert unlocked.status_code == 200, unlocked.content
    assert unlocked.json()["locked_until"] is None
    assert AuditLog.objects.filter(action="unlock", object_id=str(target.pk), actor=other_admin).exists()
    assert _login(target.username, PASSWORD, address="10.0.2.4").status_code == 200
    assert "_auth_user_id" in _admin_login(target.username, PASSWORD, address="10.0.2.5").session


def test_one_client_address_is_limited_across_usernames(users: dict[str, User], settings: Any) -> None:
    settings.AUTH_CLIENT_MAX_FAILURES = 6
    User.objects.filter(pk=users["staff"].pk).update(is_staff=True)
    assert "_auth_user_id" in _admin_login("staff-user", PASSWORD, address="192.0.2.9").session
    for index in range(6):
        assert _login(f"nobody-{index}", "guess", address="192.0.2.7").status_code == 400
    refused = _login("staff-user", PASSWORD, address="192.0.2.7")
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_attempts"
    assert "_auth_user_id" not in _admin_login("staff-user", PASSWORD, address="192.0.2.7").session
    assert _login("staff-user", PASSWORD, address="192.0.2.8").status_code == 200


HASHED: list[str] = []


class CountingHasher(MD5PasswordHasher):
    """The test hasher, noting each password it hashes."""

    def verify(self, password: str, encoded: str) -> bool:
        HASHED.append(password)
        return bool(super().verify(password, encoded))


def test_a_refused_check_computes_no_hash(users: dict[str, User], settings: Any) -> None:
    settings.AUTH_ACCOUNT_MAX_FAILURES = 3
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    User.objects.filter(pk=users["staff"].pk).update(password=CountingHasher().encode(PASSWORD, "salt"))
    for attempt in range(3):
        _login("staff-user", f"guess-{attempt}")
    assert len(HASHED) == 3
    HASHED.clear()
    for _ in range(20):
        assert _login("staff-user", "guess", address="198.51.100.1").status_code == 429
    assert HASHED == []
