"""A channel-layer Redis that accepts connections and never answers: a dashboard's WebSocket connect is refused
(1011, the dashboard reconnects) within WS_JOIN_TIMEOUT_S instead of hanging. The real ASGI application."""

from __future__ import annotations

import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connections

from server.inventory.models import Site
from tests.integration.web.test_live_socket_roles import Socket
from tests.support.django_system import session_cookie
from tests.support.silent_redis import silent_redis

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


async def test_a_silent_channel_redis_refuses_the_connect_in_time_not_never(settings: Any) -> None:
    site = await Site.objects.acreate(name="Silent channel layer")
    cookie = await sync_to_async(session_cookie)("ws-silent-staff", role="staff")
    settings.WS_JOIN_TIMEOUT_S = 1.5
    with silent_redis() as address:
        try:
            answer, elapsed = await _connect(settings, address, site.pk, cookie)
        finally:  # the consumers' database thread keeps a connection: close it for the test database's teardown
            await database_sync_to_async(connections.close_all)()
    assert answer == {"type": "websocket.close", "code": 1011}
    assert elapsed < 1.5 + 3.0, elapsed  # the join timeout, not 3 attempts x the 8 s socket timeout


async def _connect(settings: Any, address: str, site_id: int, cookie: str) -> tuple[dict[str, Any], float]:
    """Point the channel layer at `address` (as the settings configure it otherwise), open a socket: its first
    answer and how long it took."""
    layers = dict(settings.CHANNEL_LAYERS)
    config = dict(layers["default"]["CONFIG"])
    config["hosts"] = [{**config["hosts"][0], "address": address}]
    settings.CHANNEL_LAYERS = {"default": {**layers["default"], "CONFIG": config}}  # resets the cached layer
    socket = Socket(f"/ws/sites/{site_id}/", cookie)
    started = time.monotonic()
    await socket.send_input({"type": "websocket.connect"})
    answer: dict[str, Any] = await socket.receive_output(20)
    return answer, time.monotonic() - started
