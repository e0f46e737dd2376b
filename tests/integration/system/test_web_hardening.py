"""Hardening items 8, 9, 11 and 12 against the real `retail-server run` process (PostgreSQL, Redis):

- no settings module given: no debug pages; the schema and Swagger UI need a login; a Content-Security-Policy;
- oversized and deeply nested bodies are JSON errors over HTTP too;
- failed logins lock the account in the shared cache;
- a WebSocket for a site that does not exist is refused; an open one closes when its user is deactivated.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import websockets
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from server.inventory.models import Site
from tests.support.django_system import clear_login_limits, session_cookie, shared_database_url
from tests.support.processes import REPO_ROOT, free_port, log_tail, wait_http

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


@contextmanager
def bare_server(tmp_path: Path, **env: str) -> Iterator[int]:
    """`retail-server run` as an operator starts it: no DJANGO_SETTINGS_MODULE and no DJANGO_DEBUG."""
    http_port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG"}}
    environment.update(
        DATABASE_URL=shared_database_url(),
        RETAIL_DATA_DIR=str(tmp_path / "data"),
        WS_AUTH_RECHECK_S="0.3",
        **env,
    )
    log_path = tmp_path / "server.log"
    # `python -m server.cli` from the checkout (the installed `retail-server` script may import another one).
    command = [
        sys.executable,
        "-m",
        "server.cli",
        "run",
        "--no-migrate",
        "--no-grpc",
        "--http",
        f"127.0.0.1:{http_port}",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            try:
                wait_http(f"http://127.0.0.1:{http_port}/api/health", process=process)
            except RuntimeError as err:
                raise AssertionError(f"{err}\n{log_tail(log_path)}") from err
            yield http_port
            assert process.poll() is None, f"server died\n{log_tail(log_path)}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _request(
    port: int, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def _csrf(port: int) -> dict[str, str]:
    body = _request(port, "/api/auth/csrf")[2]
    token = json.loads(body)["csrf_token"]
    return {"Cookie": f"csrftoken={token}", "X-CSRFToken": token, "Content-Type": "application/json"}


def _login(port: int, username: str, password: str) -> tuple[int, dict[str, Any]]:
    body = json.dumps({"username": username, "password": password}).encode()
    status, _, content = _request(port, "/api/auth/login", body=body, headers=_csrf(port))
    return status, json.loads(content)


def test_defaults_are_safe_and_errors_are_json(tmp_path: Path) -> None:
    clear_login_limits()  # the server counts failed logins in this same Redis
    # The server process knows the default hashers only (the tests' own is MD5).
    get_user_model().objects.create(
        username="hardened", password=PBKDF2PasswordHasher().encode(PASSWORD, "hardening-salt")
    )
    with bare_server(tmp_path, AUTH_ACCOUNT_MAX_FAILURES="3") as port:
        status, _, body = _request(port, "/no-such-page")
        assert status == 404
        assert b"URLconf" not in body, "a debug page"  # DEBUG is off without a settings module
        for path in ("/api/schema/", "/api/docs/"):
            status, headers, body = _request(port, path)
            assert status == 403, path
            assert json.loads(body)["code"] == "not_authenticated"
        status, headers, _ = _request(port, "/admin/login/")
        assert status == 200
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        # Bodies the parser refuses are JSON errors over HTTP too.
        csrf = _csrf(port)
        status, _, body = _request(port, "/api/auth/login", body=b"[" * 50_000 + b"]" * 50_000, headers=csrf)
        assert (status, json.loads(body)["code"]) == (400, "parse_error")
        status, _, body = _request(port, "/api/auth/login", body=b" " * (10 * 1024 * 1024), headers=csrf)
        assert (status, json.loads(body)["code"]) == (413, "request_too_large")
        # The account locks after 3 failures, in the cache every web process shares.
        assert _login(port, "hardened", PASSWORD)[0] == 200
        for _ in range(3):
            assert _login(port, "hardened", "guess")[0] == 400
        status, answer = _login(port, "hardened", PASSWORD)
        assert (status, answer["code"]) == (429, "account_locked")


async def _watch(port: int, site_id: int, cookie: str) -> tuple[dict[str, Any], int | None]:
    headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{port}"}
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/sites/{site_id}/", additional_headers=headers
    ) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        await asyncio.to_thread(get_user_model().objects.filter(username="ws-staff").update, is_active=False)
        try:
            while True:
                await asyncio.wait_for(ws.recv(), timeout=10)
        except websockets.ConnectionClosed as closed:
            return hello, closed.rcvd.code if closed.rcvd else None


def test_websocket_rechecks_user_and_site(tmp_path: Path) -> None:
    site = Site.objects.create(name="WS hardening")
    cookie = session_cookie("ws-staff", role="staff")
    with bare_server(tmp_path) as port:
        headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{port}"}

        async def missing_site() -> None:
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/ws/sites/{site.pk + 1000}/", additional_headers=headers
            ):
                pass

        with pytest.raises(websockets.InvalidStatus):
            asyncio.run(missing_site())
        hello, code = asyncio.run(_watch(port, site.pk, cookie))
        assert hello["type"] == "hello"
        assert code == 4401  # closed within the re-check interval once the user was deactivated


def test_a_pooled_connection_idle_for_seconds_is_still_served(tmp_path: Path) -> None:
    """A client (or a balancer) that reuses a keep-alive connection after some idle seconds gets its answer: with
    uvicorn's default 5 s keep-alive the server had closed it, and a request sent about then met ECONNRESET (the
    e2e door test's clean-up, 2 Dec 2026)."""
    import http.client
    import time

    with bare_server(tmp_path) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        try:
            connection.request("GET", "/api/health")
            first = connection.getresponse()
            first.read()
            assert first.status == 200
            time.sleep(7.0)  # longer than the old keep-alive, shorter than a balancer's idle timeout
            connection.request("GET", "/api/health")  # on the same socket (http.client does not reconnect)
            second = connection.getresponse()
            second.read()
            assert second.status == 200
        finally:
            connection.close()
