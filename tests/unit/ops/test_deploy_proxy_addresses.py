"""Adversarial review: the reference production layout (web processes on 127.0.0.1 behind nginx) must count login
failures per real client, not per proxy: otherwise anyone's 20 wrong passwords refuse everyone's login."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from server.accounts.throttle import client_address

ENVIRONMENT = Path(__file__).resolve().parents[3] / "deploy" / "server" / "environment.example"


def _environment() -> dict[str, str]:
    lines = ENVIRONMENT.read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#") and "=" in line]
    return {key: value for key, value in pairs}


def _request_through_nginx(client: str, sent_header: str | None = None) -> Any:
    # nginx `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for`: what the client sent, then its address.
    forwarded = f"{sent_header}, {client}" if sent_header else client
    return SimpleNamespace(META={"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": forwarded})


def test_the_production_environment_counts_the_client_behind_the_proxy(settings: Any) -> None:
    settings.AUTH_NUM_PROXIES = int(_environment().get("DJANGO_NUM_PROXIES", "0"))
    assert client_address(_request_through_nginx("198.51.100.7")) == "198.51.100.7"
    assert client_address(_request_through_nginx("198.51.100.8")) == "198.51.100.8"
    # A forged header does not pick another client's address.
    assert (
        client_address(_request_through_nginx("198.51.100.9", sent_header="198.51.100.7")) == "198.51.100.9"
    )
