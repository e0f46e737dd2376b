"""Adversarial review: what a role may not read through the REST API stays off its live WebSocket. An installer
(live map for calibration, no `people.view_employee`, no `alerts.view_alert`) got every person's name and
employee id and every alert pushed. The real ASGI application and the Redis channel layer, in-process."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connections

from server.config.asgi import application
from server.inventory.models import Site
from server.realtime.events import AlertPayload, LivePerson, alert_event, live_positions_event
from server.realtime.groups import site_alerts_group, site_live_group
from tests.support.django_system import session_cookie

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PERSONS: list[LivePerson] = [
    {"id": 7, "x_m": 1.0, "y_m": 2.0, "name": "Kim", "employee_id": 3, "zone_id": 5, "zone_ids": [5]},
    {"id": 8, "x_m": 4.0, "y_m": 2.0},
]

ALERT: AlertPayload = {
    "id": 1,
    "zone": 5,
    "kind": "warning",
    "person_id": 7,
    "employee": 3,
    "person_name": "Kim",
    "message": "Kim entered Stock room",
    "x_m": 1.0,
    "y_m": 2.0,
    "camera_ids": [],
}


class Socket(ApplicationCommunicator):  # type: ignore[misc]
    """A WebSocket client of the ASGI application (channels.testing needs daphne, which is not installed)."""

    def __init__(self, path: str, cookie: str) -> None:
        headers = [(b"origin", b"http://localhost"), (b"cookie", f"sessionid={cookie}".encode())]
        super().__init__(
            application,
            {"type": "websocket", "path": path, "headers": headers, "subprotocols": [], "query_string": b""},
        )

    async def connect(self) -> None:
        await self.send_input({"type": "websocket.connect"})
        accepted = await self.receive_output(10)
        assert accepted["type"] == "websocket.accept", accepted

    async def receive_json(self) -> dict[str, Any]:
        message = await self.receive_output(10)
        assert message["type"] == "websocket.send", message
        event: dict[str, Any] = json.loads(message["text"])
        return event

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(5)


async def _watch(site_id: int, cookie: str) -> Socket:
    socket = Socket(f"/ws/sites/{site_id}/", cookie)
    await socket.connect()
    hello = await socket.receive_json()
    assert hello["type"] == "hello"
    return socket


async def _push_and_receive(site_id: int, cookies: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    sockets = {role: await _watch(site_id, cookie) for role, cookie in cookies.items()}
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send(
        site_live_group(site_id), live_positions_event(site_id=site_id, time_us=1, persons=PERSONS)
    )
    await layer.group_send(
        site_alerts_group(site_id),
        alert_event(site_id=site_id, alert=ALERT),
    )
    received: dict[str, list[dict[str, Any]]] = {}
    for role, socket in sockets.items():
        events = [await socket.receive_json()]
        if not await socket.receive_nothing(timeout=0.5):
            events.append(await socket.receive_json())
        received[role] = events
        await socket.disconnect()
    return received


async def test_an_installer_sees_positions_without_names_and_no_alerts() -> None:
    site = await Site.objects.acreate(name="Roles on the socket")
    cookies = {
        role: await sync_to_async(session_cookie)(f"ws-{role}", role=role) for role in ("installer", "staff")
    }
    try:
        received = await _push_and_receive(site.pk, cookies)
    finally:  # the consumers' database thread keeps a connection: close it for the test database's teardown
        await database_sync_to_async(connections.close_all)()

    installer = received["installer"]
    assert [event["type"] for event in installer] == ["live.positions"]
    assert installer[0]["persons"] == [
        {"id": 7, "x_m": 1.0, "y_m": 2.0, "zone_id": 5, "zone_ids": [5]},
        {"id": 8, "x_m": 4.0, "y_m": 2.0},
    ]
    staff = received["staff"]
    assert [event["type"] for event in staff] == ["live.positions", "alert.changed"]
    assert staff[0]["persons"] == PERSONS
