"""Limits on password checks, shared by every process through the Django cache (Redis when REDIS_URL is set).

Two counters bound the slow password hashes an attacker can make the server compute:

- per account: `AUTH_ACCOUNT_MAX_FAILURES` failed checks within `AUTH_ACCOUNT_LOCKOUT_S` lock the account for
  `AUTH_ACCOUNT_LOCKOUT_S` (an admin lifts it early: `POST /api/users/{id}/unlock` or `manage unlock_user`);
- per client address: `AUTH_CLIENT_MAX_FAILURES` failed checks within `AUTH_CLIENT_WINDOW_S` refuse every
  password check from that address for `AUTH_CLIENT_WINDOW_S`.

A refused check computes no hash. A check is counted before its hash is computed (`begin_check`), so concurrent
guesses get no more checks than sequential ones. Usernames are compared case-folded and stored only as a digest in
the cache keys.
"""

from __future__ import annotations

import contextlib
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


@dataclass(frozen=True, slots=True)
class Attempt:
    """A password check, counted as a failure before its hash is computed (and uncounted if it succeeds): so
    concurrent guesses cannot all pass the limit check before any of them is counted."""

    username: str
    address: str
    account_failures: int
    client_failures: int


def begin_check(*, username: str, address: str) -> Attempt | Refusal:
    """Count a password check about to be made, or say why it must not be (and no hash be computed)."""
    refused = refusal(username=username, address=address)
    if refused is not None:
        return refused
    lockout_s = int(settings.AUTH_ACCOUNT_LOCKOUT_S)
    window_s = int(settings.AUTH_CLIENT_WINDOW_S)
    account = _increment(_account_key("failures", username), lockout_s)
    client = _increment(_client_key("failures", address), window_s) if address else 0
    # Checks still in flight have used up the allowance: refuse as the lockout they will cause.
    if account > settings.AUTH_ACCOUNT_MAX_FAILURES:
        return Refusal("account_locked", lockout_s)
    if address and client > settings.AUTH_CLIENT_MAX_FAILURES:
        return Refusal("too_many_attempts", window_s)
    return Attempt(username, address, account, client)


def check_failed(attempt: Attempt) -> float | None:
    """The check of `attempt` failed (already counted); returns the lockout's end when it locked the account."""
    if attempt.address and attempt.client_failures >= settings.AUTH_CLIENT_MAX_FAILURES:
        window_s = int(settings.AUTH_CLIENT_WINDOW_S)
        cache.set(_client_key("blocked", attempt.address), time.time() + window_s, timeout=window_s)
        cache.delete(_client_key("failures", attempt.address))
    if attempt.account_failures < settings.AUTH_ACCOUNT_MAX_FAILURES:
        return None
    lockout_s = int(settings.AUTH_ACCOUNT_LOCKOUT_S)
    until = time.time() + lockout_s
    cache.set(_account_key("locked", attempt.username), until, timeout=lockout_s)
    cache.delete(_account_key("failures", attempt.username))
    return until


def check_succeeded(attempt: Attempt) -> None:
    """A correct password clears the account's failure count; the client's loses this check again."""
    cache.delete(_account_key("failures", attempt.username))
    if attempt.address:
        with contextlib.suppress(ValueError):  # the count expired meanwhile
            cache.decr(_client_key("failures", attempt.address))


def unlock(*, username: str) -> bool:
    """Lift an account's lockout and clear its failure count; True when it was locked."""
    was_locked = locked_until(username) is not None
    cache.delete_many([_account_key("locked", username), _account_key("failures", username)])
    return was_locked
