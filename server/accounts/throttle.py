"""Limits on password checks, shared by every process through the Django cache (Redis when REDIS_URL is set).

Two counters bound the slow password hashes an attacker can make the server compute:

- per account: `AUTH_ACCOUNT_MAX_FAILURES` failed checks within `AUTH_ACCOUNT_LOCKOUT_S` lock the account for
  `AUTH_ACCOUNT_LOCKOUT_S` (an admin lifts it early: `POST /api/users/{id}/unlock` or `manage unlock_user`);
- per client address: `AUTH_CLIENT_MAX_FAILURES` failed checks within `AUTH_CLIENT_WINDOW_S` refuse every
  password check from that address for `AUTH_CLIENT_WINDOW_S`.

A refused check computes no hash. Usernames are compared case-folded and stored only as a digest in the cache keys.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

_PREFIX = "auth-throttle"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a password check was not made, and for how many more seconds it will not be."""

    code: str  # "account_locked" or "too_many_attempts"
    retry_after_s: int

    @property
    def message(self) -> str:
        minutes = max(1, round(self.retry_after_s / 60))
        if self.code == "account_locked":
            return (
                f"This account is locked after too many failed logins; try again in {minutes} min "
                "or ask an admin to unlock it."
            )
        return f"Too many failed logins from your address; try again in {minutes} min."


def _digest(value: str) -> str:
    return hashlib.sha256(value.casefold().encode("utf-8")).hexdigest()[:32]


def _account_key(kind: str, username: str) -> str:
    return f"{_PREFIX}:account:{kind}:{_digest(username)}"


def _client_key(kind: str, address: str) -> str:
    return f"{_PREFIX}:client:{kind}:{_digest(address)}"


def client_address(request: Any) -> str:
    """The client's IP address; behind `AUTH_NUM_PROXIES` trusted proxies, taken from X-Forwarded-For."""
    if request is None:
        return ""
    meta = getattr(request, "META", {})
    proxies = int(getattr(settings, "AUTH_NUM_PROXIES", 0))
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR", ""))
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return str(meta.get("REMOTE_ADDR", ""))


def _increment(key: str, timeout_s: int) -> int:
    cache.add(key, 0, timeout=timeout_s)  # the window starts with the first failure
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout_s)
        return 1


def _until(key: str) -> float | None:
    value = cache.get(key)
    if value is None or float(value) <= time.time():
        return None
    return float(value)


def locked_until(username: str) -> float | None:
    """The epoch second the account's lockout ends, or None when it is not locked."""
    return _until(_account_key("locked", username))


def refusal(*, username: str, address: str) -> Refusal | None:
    """Whether a password check for `username` from `address` must be refused (and no hash computed)."""
    until = locked_until(username)
    if until is not None:
        return Refusal("account_locked", int(until - time.time()) + 1)
    blocked = _until(_client_key("blocked", address)) if address else None
    if blocked is not None:
        return Refusal("too_many_attempts", int(blocked - time.time()) + 1)
    return None


def record_failure(*, username: str, address: str) -> float | None:
    """Count a failed check; returns the lockout's end when this failure locked the account."""
    if address:
        window_s = int(settings.AUTH_CLIENT_WINDOW_S)
        if _increment(_client_key("failures", address), window_s) >= settings.AUTH_CLIENT_MAX_FAILURES:
            cache.set(_client_key("blocked", address), time.time() + window_s, timeout=window_s)
            cache.delete(_client_key("failures", address))
    lockout_s = int(settings.AUTH_ACCOUNT_LOCKOUT_S)
    failures = _increment(_account_key("failures", username), lockout_s)
    if failures < settings.AUTH_ACCOUNT_MAX_FAILURES:
        return None
    until = time.time() + lockout_s
    cache.set(_account_key("locked", username), until, timeout=lockout_s)
    cache.delete(_account_key("failures", username))
    return until


def record_success(*, username: str) -> None:
    """A correct password clears the account's failure count (not the client's)."""
    cache.delete(_account_key("failures", username))


def unlock(*, username: str) -> bool:
    """Lift an account's lockout and clear its failure count; True when it was locked."""
    was_locked = locked_until(username) is not None
    cache.delete_many([_account_key("locked", username), _account_key("failures", username)])
    return was_locked
