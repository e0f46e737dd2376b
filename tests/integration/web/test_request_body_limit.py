"""Adversarial review: Django's ASGI handler stores a whole request body (in a temporary file) before any check,
and file parts of a multipart body are not counted by DATA_UPLOAD_MAX_MEMORY_SIZE; so an anonymous client could
post a 3 MB (or 30 GB) file to the login form and get a 400, the body written to disk. The ASGI application now
refuses a body over REQUEST_MAX_BYTES before reading it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator

from server.config.asgi import application

pytestmark = [pytest.mark.integration]


def _scope(
    path: str, method: str = "POST", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), *(headers or [])],
        "client": ("192.0.2.1", 50000),
        "server": ("localhost", 8000),
    }


async def _answer(communicator: ApplicationCommunicator) -> tuple[int, bytes]:
    start = await communicator.receive_output(10)
    assert start["type"] == "http.response.start", start
    body = b""
    while True:
        message = await communicator.receive_output(10)
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return int(start["status"]), body


async def test_a_declared_oversized_body_is_refused_before_it_is_read(settings: Any) -> None:
    settings.REQUEST_MAX_BYTES = 64 * 1024
    headers = [(b"content-type", b"multipart/form-data; boundary=x"), (b"content-length", b"30000000000")]
    communicator = ApplicationCommunicator(application, _scope("/api/auth/login", headers=headers))
    # Nothing of the body is sent: the answer comes from the headers alone.
    status, body = await _answer(communicator)
    assert status == 413
    assert json.loads(body)["code"] == "request_too_large"


async def test_a_streamed_oversized_body_is_refused_as_it_arrives(settings: Any) -> None:
    settings.REQUEST_MAX_BYTES = 64 * 1024
    headers = [(b"content-type", b"multipart/form-data; boundary=x"), (b"transfer-encoding", b"chunked")]
    communicator = ApplicationCommunicator(application, _scope("/api/auth/login", headers=headers))
    chunk = b"a" * 16 * 1024
    for _ in range(8):
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": True})
    status, body = await _answer(communicator)
    assert status == 413
    assert json.loads(body)["code"] == "request_too_large"


async def test_a_body_within_the_limit_reaches_django(settings: Any) -> None:
    settings.REQUEST_MAX_BYTES = 64 * 1024
    communicator = ApplicationCommunicator(application, _scope("/api/auth/csrf", method="GET"))
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    status, body = await _answer(communicator)
    assert status == 200, body
    assert "csrf_token" in json.loads(body)
