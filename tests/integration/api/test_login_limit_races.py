"""Adversarial review: concurrent guesses against one account. The limit was checked before a guess and counted
after its (slow) hash, so 16 guesses sent at once were all hashed against a limit of 3. Real PostgreSQL and the
Redis cache, one thread per request as the ASGI server runs them."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import User
from django.db import connections
from rest_framework.test import APIClient

from tests.support.django_system import clear_login_limits

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HASHED: list[str] = []


class SlowHasher(MD5PasswordHasher):
    """Takes as long as a production hash, so that concurrent checks overlap."""

    def verify(self, password: str, encoded: str) -> bool:
        HASHED.append(password)
        time.sleep(0.3)
        return bool(super().verify(password, encoded))


def _guess_at_once(username: str, guesses: int) -> list[int]:
    codes: list[int] = []
    barrier = threading.Barrier(guesses)

    def guess(index: int) -> None:
        client = APIClient(REMOTE_ADDR=f"198.51.100.{index}")
        barrier.wait()
        response = client.post(
            "/api/auth/login", {"username": username, "password": f"guess-{index}"}, format="json"
        )
        codes.append(response.status_code)
        connections.close_all()

    threads = [threading.Thread(target=guess, args=(index,)) for index in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return codes


def test_concurrent_guesses_get_no_more_checks_than_the_account_limit(settings: Any) -> None:
    clear_login_limits()
    settings.AUTH_ACCOUNT_MAX_FAILURES = 3
    settings.PASSWORD_HASHERS = [f"{__name__}.SlowHasher"]
    User.objects.create(username="victim", password=SlowHasher().encode("the right one", "salt"))
    HASHED.clear()
    codes = _guess_at_once("victim", 16)
    assert len(codes) == 16
    assert len(HASHED) == 3, f"{len(HASHED)} guesses hashed"
    assert sorted(codes) == [400] * 3 + [429] * 13
    locked = APIClient(REMOTE_ADDR="192.0.2.99").post(
        "/api/auth/login", {"username": "victim", "password": "the right one"}, format="json"
    )
    assert locked.status_code == 429
    assert locked.json()["code"] == "account_locked"
