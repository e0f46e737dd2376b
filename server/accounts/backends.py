"""The one authentication backend: Django's model backend behind the password-check limits of `throttle`.

Every password check goes through here: the dashboard's login form (`POST /api/auth/login`), the Django admin's
login page and any future caller of `django.contrib.auth.authenticate`. A refused check raises PermissionDenied,
which makes `authenticate()` return None without asking another backend; the refusal is left on the request
(`request.login_refusal`) so that the login API can answer 429 with the reason.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from server.accounts import throttle
from server.audit.services import audit_record

logger = logging.getLogger(__name__)


class ThrottledModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        address = throttle.client_address(request)
        attempt = throttle.begin_check(username=username, address=address)
        if isinstance(attempt, throttle.Refusal):
            if request is not None:
                request.login_refusal = attempt  # type: ignore[attr-defined]
            logger.warning("password check refused (%s) for %r from %s", attempt.code, username, address)
            raise PermissionDenied(attempt.message)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            throttle.check_succeeded(attempt)
            return user
        locked_until = throttle.check_failed(attempt)
        if locked_until is not None:
            _audit_lockout(username=username, address=address, until=locked_until)
        return None

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        """The async door (`django.contrib.auth.aauthenticate`) goes through the same limits."""
        return await sync_to_async(self.authenticate)(request, username=username, password=password, **kwargs)


def _audit_lockout(*, username: str, address: str, until: float) -> None:
    until_iso = dt.datetime.fromtimestamp(until, tz=dt.UTC).isoformat(timespec="seconds")
    logger.warning(
        "account %r locked until %s after failed logins (last from %s)", username, until_iso, address
    )
    user = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is not None:
        audit_record(
            actor=None,
            action="lockout",
            instance=user,
            changes={"locked_until": until_iso, "client_address": address},
        )
