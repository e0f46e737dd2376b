"""WebSocket consumers: authenticate, join the site's groups, forward events. No business logic here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from server.accounts.roles import can_watch_live
from server.observability import metrics
from server.realtime.groups import site_alerts_group, site_health_group, site_live_group

logger = logging.getLogger(__name__)


class SiteConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """ws/sites/<site_id>/ : live positions, counters, alerts, siren and health of one site."""

    groups_joined: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        if not await database_sync_to_async(can_watch_live)(user):
            await self.close(code=4403)
            return
        metrics.websocket_opened()
        self.counted = True
        site_id = int(self.scope["url_route"]["kwargs"]["site_id"])
        self.groups_joined = [
            site_live_group(site_id),
            site_alerts_group(site_id),
            site_health_group(site_id),
        ]
        if not await self._join_groups():
            await self.close(code=1011)  # the channel layer (Redis) is down; the dashboard reconnects
            return
        await self.accept()
        await self.send_json({"type": "hello", "site_id": site_id, "user": user.get_username()})

    async def _join_groups(self, attempts: int = 3) -> bool:
        """Join the site's groups; a pooled connection that Redis closed (restart) fails once, so retry."""
        for attempt in range(1, attempts + 1):
            try:
                for group in self.groups_joined:
                    await self.channel_layer.group_add(group, self.channel_name)
            except (ConnectionError, OSError, RedisError) as err:
                logger.warning("joining live groups failed (attempt %d/%d): %s", attempt, attempts, err)
                await asyncio.sleep(0.1 * attempt)
            else:
                return True
        return False

    async def disconnect(self, code: int) -> None:
        if getattr(self, "counted", False):
            metrics.websocket_closed()
        for group in getattr(self, "groups_joined", []):
            with contextlib.suppress(ConnectionError, OSError, RedisError):
                await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "t": content.get("t")})

    async def live_positions(self, event: dict[str, Any]) -> None:
        await self.send_json(event)

    async def alert_changed(self, event: dict[str, Any]) -> None:
        await self.send_json(event)

    async def alerts_acknowledged(self, event: dict[str, Any]) -> None:
        await self.send_json(event)

    async def siren_changed(self, event: dict[str, Any]) -> None:
        await self.send_json(event)

    async def health_changed(self, event: dict[str, Any]) -> None:
        await self.send_json(event)

    async def counters_changed(self, event: dict[str, Any]) -> None:
        await self.send_json(event)
