"""Fixtures of the notification tests: a local HTTP receiver for webhooks, a local SMTP server (aiosmtpd), the
MQTT broker of the test services (Mosquitto), users per role and a site."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from server.inventory.models import Site, Zone, ZoneKind
from tests.integration.api.conftest import client_for, users  # noqa: F401 (fixtures)
from tests.support.services import free_port, mosquitto


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next status of `statuses` (then the last one again) and records it."""

    url: str
    statuses: list[int]
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            index = min(len(self.requests) - 1, len(self.statuses) - 1)
            return self.statuses[index]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            target = state["receiver"]
            with target.lock:
                target.requests.append(Received(headers=dict(self.headers.items()), body=body))
            status = target.next_status()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"receiver says no")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook", statuses=[200])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["receiver"]
    server.shutdown()
    server.server_close()
    thread.join(5)


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    port = free_port()
    box = Mailbox(host="127.0.0.1", port=port)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.envelopes.append(envelope)
            box.messages.append(
                message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
            )
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture(scope="session")
def mqtt_url() -> Iterator[str]:
    with mosquitto() as url:
        yield url


@pytest.fixture
def site(db: None) -> Site:
    site = Site.objects.create(name="Store 12, Main Street", timezone="Europe/Berlin")
    Zone.objects.create(
        site=site,
        name="Stock room",
        kind=ZoneKind.RESTRICTED,
        polygon=[[10, 10], [14, 10], [14, 14], [10, 14]],
        required_level=2,
        warning_distance_m=1.5,
    )
    return site
