"""Adversarial review of the web hardening: attacks that found defects, kept as regression tests. Real PostgreSQL
and the Redis cache."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PASSWORD = "correct horse battery staple"


def test_a_spoofed_forwarded_for_does_not_evade_the_login_request_limit(
    users: dict[str, User], settings: Any
) -> None:
    """Without proxies (DJANGO_NUM_PROXIES=0) the login form's 30/min is counted by the peer address: a client
    that sends a new X-Forwarded-For with each request is still one client."""
    settings.AUTH_CLIENT_MAX_FAILURES = 1000  # only the request limit of the form is under test here
    settings.AUTH_ACCOUNT_MAX_FAILURES = 1000
    codes = []
    for index in range(31):
        client = APIClient(REMOTE_ADDR="203.0.113.5")
        response = client.post(
            "/api/auth/login",
            {"username": f"nobody-{index}", "password": "guess"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{index}",
        )
        codes.append(response.status_code)
    assert codes[:30] == [400] * 30
    assert codes[30] == 429, codes
