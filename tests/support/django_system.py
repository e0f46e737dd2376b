"""Helpers for system tests that run the server as a separate process against the test database."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection


def shared_database_url() -> str:
    """The URL of the database pytest-django created, for a server subprocess to use the same data."""
    settings = connection.settings_dict
    assert connection.vendor == "postgresql", "system tests run against PostgreSQL (scripts/test)"
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


def session_cookie(username: str, role: str | None = None) -> str:
    """A logged-in session for `username` (created, with `role`'s group, when missing): the `sessionid` value."""
    user, _ = get_user_model().objects.get_or_create(username=username)
    if role is not None:
        from server.accounts.roles import ensure_roles

        ensure_roles()
        user.groups.add(Group.objects.get(name=role))
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "server.accounts.backends.ThrottledModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return str(session.session_key)


def clear_login_limits() -> None:
    """Forget the login limits' and DRF throttles' counters (in the shared Redis cache: only those keys, the
    channel layer may share the database)."""
    from django.core.cache import cache

    get_client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if get_client is None:  # local memory
        cache.clear()
        return
    client = get_client(write=True)
    for key in client.scan_iter(match="*throttle*"):
        client.delete(key)
