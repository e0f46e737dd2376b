"""Anonymous `GET /api/health` says only whether each check is ok (for load balancers); the details (exception
text, addresses, the gRPC port, counters) go to an authenticated admin or to the METRICS_TOKEN bearer."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

TOKEN = "health-bearer-for-tests"


@pytest.fixture
def refused_redis(settings: Any) -> int:
    """REDIS_URL at a loopback port nobody listens on: the redis check fails with the address in its error."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    return port


def _get(client: Client, **headers: str) -> tuple[int, dict[str, Any], str]:
    response = client.get("/api/health", headers=headers)
    return response.status_code, response.json(), response.content.decode()


def test_anonymous_and_staff_get_status_and_check_names_only(
    refused_redis: int, users: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    staff = Client()
    staff.force_login(users["staff"])
    for client, headers in (
        (Client(), {}),
        (staff, {}),
        (Client(), {"authorization": "Bearer wrong-token"}),
    ):
        status, body, text = _get(client, **headers)
        assert status == 200
        assert body == {
            "status": "degraded",
            "checks": {
                "database": {"ok": True},
                "redis": {"ok": False},
                "timeseries": {"ok": False},  # no time-series writer in the test process
                "ingest": {"ok": True},
                "analytics": {"ok": True},  # no analytics in the test process
            },
            "degraded": ["redis", "timeseries"],
        }
        assert str(refused_redis) not in text
        assert "Error" not in text


def test_admin_and_metrics_bearer_get_the_details(
    refused_redis: int, users: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    admin = Client()
    admin.force_login(users["admin"])
    for client, headers in ((admin, {}), (Client(), {"authorization": f"Bearer {TOKEN}"})):
        status, body, _ = _get(client, **headers)
        assert status == 200
        assert body["status"] == "degraded"
        redis = body["checks"]["redis"]
        assert redis["ok"] is False
        assert str(refused_redis) in redis["detail"]  # the connection error, with its address
        assert "latency_ms" in body["checks"]["database"]


def test_without_a_configured_token_no_bearer_opens_the_details(
    refused_redis: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    _, body, _ = _get(Client(), authorization="Bearer ")
    assert body["checks"]["redis"] == {"ok": False}
