"""ASGI entry point: Django for HTTP, Channels for WebSockets (session-authenticated, origin-checked)."""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.config.settings.local")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from server.config.body_limit import RequestBodyLimit  # noqa: E402
from server.observability.exposition import metrics_asgi_app  # noqa: E402
from server.realtime.routing import websocket_urlpatterns  # noqa: E402

_metrics_app = metrics_asgi_app()


async def http_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Prometheus metrics at /metrics (optionally token-protected, METRICS_TOKEN); Django for the rest."""
    if scope.get("path") == "/metrics":
        await _metrics_app(scope, receive, send)
    else:
        await django_asgi_app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimit(http_app),  # before Django spools the body to disk
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
