"""Is a login session still good? For long-lived connections (WebSockets) that checked it only once."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils.crypto import constant_time_compare


def session_user(session_key: str | None) -> Any | None:
    """The active user the session `session_key` is logged in as, or None when the session ended (logout,
    expiry), the user was deactivated or deleted, or their password changed since the login."""
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    data = store.load()
    user_id = data.get(SESSION_KEY)
    if user_id is None or data.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return None
    model = get_user_model()
    user = model._default_manager.filter(pk=model._meta.pk.to_python(user_id)).first()
    if user is None or not user.is_active:
        return None
    if not constant_time_compare(str(data.get(HASH_SESSION_KEY, "")), user.get_session_auth_hash()):
        return None
    return user
