"""Serving the metrics: an ASGI app for `/metrics`, a framework-free renderer, a stand-alone listener.

- `metrics_asgi_app()` is what the server mounts at ``/metrics`` beside the Django ASGI app.
- `render_metrics(accept)` returns ``(body, content_type)`` for a Django view (or anything else).
- `start_metrics_server("0.0.0.0:9100")` serves ``/metrics`` from a thread, for processes without HTTP
  (``retail-server run --no-http`` ingest processes).

When a bearer token is configured (``METRICS_TOKEN``), requests must carry ``Authorization: Bearer <token>``;
otherwise keep ``/metrics`` off the public listener (docs/operations.md).
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, make_asgi_app, start_http_server
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

METRICS_TOKEN_ENV: Final = "METRICS_TOKEN"  # noqa: S105 (a variable name)


class MetricsBindError(ValueError):
    """A metrics listen address is not HOST:PORT."""

    code = "metrics_bind_invalid"


def render_metrics(accept_header: str | None = None, registry: Collector = REGISTRY) -> tuple[bytes, str]:
    """Render the metrics of `registry` in the format `Accept` asks for (Prometheus text by default).

    Returns ``(body, content_type)``.
    """
    encoder, content_type = choose_encoder(accept_header or "")
    return encoder(registry), content_type


def _token_from_env() -> str | None:
    token = os.environ.get(METRICS_TOKEN_ENV, "").strip()
    return token or None


def _authorized(scope: Scope, token: str) -> bool:
    expected = f"Bearer {token}".encode()
    for name, value in scope.get("headers", []):
        if bytes(name).lower() == b"authorization":
            return hmac.compare_digest(bytes(value), expected)
    return False


def metrics_asgi_app(*, bearer_token: str | None = None, registry: Collector = REGISTRY) -> ASGIApp:
    """An ASGI app answering GET with the metrics of `registry`.

    `bearer_token`: required ``Authorization: Bearer`` value; None = read ``METRICS_TOKEN`` from the
    environment (unset or empty = no authentication).
    """
    token = bearer_token if bearer_token is not None else _token_from_env()
    inner: ASGIApp = make_asgi_app(registry=registry)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            raise RuntimeError(f"the metrics app serves HTTP only, got a {scope.get('type')!r} scope")
        if token and not _authorized(scope, token):
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"www-authenticate", b"Bearer"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b"metrics require a bearer token\n"})
            return
        await inner(scope, receive, send)

    return app


def parse_bind(bind: str) -> tuple[str, int]:
    """Split "HOST:PORT" (IPv6 as "[::]:9100") into host and port."""
    host, sep, port_text = bind.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise MetricsBindError(f"metrics address {bind!r} must be HOST:PORT, e.g. 0.0.0.0:9100")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port_text)


def start_metrics_server(bind: str, registry: Collector = REGISTRY) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``/metrics`` on `bind` ("HOST:PORT"; port 0 = any free port) from a daemon thread.

    Returns the server (``server.server_port`` is the bound port; ``server.shutdown()`` stops it) and the
    thread.
    """
    host, port = parse_bind(bind)
    server, thread = start_http_server(port, addr=host, registry=registry)
    logger.info("metrics listening on http://%s:%d/metrics", host, server.server_port)
    return server, thread
