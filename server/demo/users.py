"""The demo's users and their passwords (no Django imports: the launcher reads it before Django is set up)."""

from __future__ import annotations

import secrets

DEMO_USERS = (("admin", "admin"), ("installer", "installer"), ("staff", "staff"))
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def demo_passwords(http_host: str) -> dict[str, str]:
    """The passwords new demo users get: the well-known ones for a demo on this machine only; random ones for a
    demo reachable from the network, where `admin/admin` would make anyone on it a superuser."""
    if http_host in LOOPBACK_HOSTS:
        return dict(DEMO_USERS)
    return {username: secrets.token_urlsafe(12) for username, _ in DEMO_USERS}
