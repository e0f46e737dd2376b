"""WebSocket consumers: authenticate, join the site's groups, forward events. No business logic here.

The login and the site are checked on connect and again every `WS_AUTH_RECHECK_S` seconds: a socket closes with
4401 when its session ended (logout, password change, user deactivated or deleted), 4403 when the user lost the
live-view permission or the site (per-site permissions: server.accounts.sites) and 4404 when the site does not
exist (any more). What the user's role may not read through
the REST API stays off their socket too: persons' names and employee ids without `people.view_employee`, alert
events without `alerts.view_alert` (an installer watches the live map for calibration)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError

from server.accounts.roles import can_see_alerts, can_see_identities, can_watch_live
from server.accounts.sessions import session_user
from server.accounts.sites import site_allowed
from server.inventory.models import Site
from server.observability import metrics
from server.realtime.events import (
    AlertChangedEvent,
    AlertsAcknowledgedEvent,
    HealthChangedEvent,
    LivePerson,
    LivePositionsEvent,
    SirenChangedEvent,
    hello_event,
    pong_event,
)
from server.realtime.groups import site_alerts_group, site_health_group, site_live_group

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NO_SITE = 4404


@dataclass(frozen=True, slots=True)
class LiveAccess:
    refusal: int | None  # a close code, None when the socket may watch the site
    identities: bool = False
    alerts: bool = False


def live_access(*, session_key: str | None, site_id: int) -> LiveAccess:
    """Whether this socket may (still) watch the site, and what of it the user may see."""
    user = session_user(session_key)
    if user is None:
        return LiveAccess(CLOSE_UNAUTHENTICATED)
    if not can_watch_live(user):
        return LiveAccess(CLOSE_FORBIDDEN)
    if not Site.objects.filter(pk=site_id).exists():
        return LiveAccess(CLOSE_NO_SITE)
    if not site_allowed(user, site_id):
        return LiveAccess(CLOSE_FORBIDDEN)
    return LiveAccess(None, identities=can_see_identities(user), alerts=can_see_alerts(user))


def without_identities(event: LivePositionsEvent) -> LivePositionsEvent:
    """A live positions event with the persons' names and employee ids left out."""
    persons = [without_identity(person) for person in event["persons"]]
    return {**event, "persons": persons}


def without_identity(person: LivePerson) -> LivePerson:
    """A live person without the keys that say who they are."""
    kept = person.copy()
    kept.pop("name", None)
    kept.pop("employee_id", None)
    return kept


class SiteConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """ws/sites/<site_id>/ : live positions (with counters), alerts, siren and health of one site."""

    groups_joined: list[str]
    recheck_task: asyncio.Task[None] | None = None
    access: LiveAccess = LiveAccess(CLOSE_UNAUTHENTICATED)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        site_id = int(self.scope["url_route"]["kwargs"]["site_id"])
        refused = await self._refusal(site_id)
        if refused is not None:
            await self.close(code=refused)
            return
        metrics.websocket_opened()
        self.counted = True
        self.groups_joined = [
            site_live_group(site_id),
            site_alerts_group(site_id),
            site_health_group(site_id),
        ]
        if not await self._join_groups():
            await self.close(code=1011)  # the channel layer (Redis) is down; the dashboard reconnects
            return
        await self.accept()
        await self.send_json(hello_event(site_id=site_id, user=user.get_username()))
        self.recheck_task = asyncio.create_task(self._recheck(site_id))

    async def _refusal(self, site_id: int) -> int | None:
        session = self.scope.get("session")
        key = getattr(session, "session_key", None) if session is not None else None
        self.access = await database_sync_to_async(live_access)(session_key=key, site_id=site_id)
        return self.access.refusal

    async def _recheck(self, site_id: int) -> None:
        """Close the socket once its login or its site is no longer good."""
        interval_s = float(settings.WS_AUTH_RECHECK_S)
        while True:
            await asyncio.sleep(interval_s)
            try:
                refused = await self._refusal(site_id)
            except Exception as err:  # the database is away: keep the socket, try again next time
                logger.warning("WebSocket re-check failed: %s", err)
                continue
            if refused is not None:
                logger.info("closing WebSocket of site %s: %s", site_id, refused)
                await self.close(code=refused)
                return

    async def _join_groups(self, attempts: int = 3) -> bool:
        """Join the site's groups; a pooled connection that Redis closed (restart) fails once, so retry. All
        attempts together get WS_JOIN_TIMEOUT_S: a Redis that accepts and never answers fails the connect
        instead of holding it for every attempt's socket timeout."""
        try:
            async with asyncio.timeout(float(settings.WS_JOIN_TIMEOUT_S)):
                for attempt in range(1, attempts + 1):
                    try:
                        for group in self.groups_joined:
                            await self.channel_layer.group_add(group, self.channel_name)
                    except (ConnectionError, OSError, RedisError) as err:
                        logger.warning(
                            "joining live groups failed (attempt %d/%d): %s", attempt, attempts, err
                        )
                        await asyncio.sleep(0.1 * attempt)
                    else:
                        return True
        except TimeoutError:
            logger.warning("joining live groups got no answer within %s s", settings.WS_JOIN_TIMEOUT_S)
        return False

    async def disconnect(self, code: int) -> None:
        if self.recheck_task is not None and self.recheck_task is not asyncio.current_task():
            self.recheck_task.cancel()
        if getattr(self, "counted", False):
            metrics.websocket_closed()
        for group in getattr(self, "groups_joined", []):
            with contextlib.suppress(ConnectionError, OSError, RedisError):
                await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json(pong_event(t=content.get("t")))

    # One handler per GroupEvent of server.realtime.events (Channels calls the event's `type`, dots as underscores).
    async def live_positions(self, event: LivePositionsEvent) -> None:
        await self.send_json(event if self.access.identities else without_identities(event))

    async def alert_changed(self, event: AlertChangedEvent) -> None:
        if self.access.alerts:
            await self.send_json(event)

    async def alerts_acknowledged(self, event: AlertsAcknowledgedEvent) -> None:
        await self.send_json(event)

    async def siren_changed(self, event: SirenChangedEvent) -> None:
        await self.send_json(event)

    async def health_changed(self, event: HealthChangedEvent) -> None:
        await self.send_json(event)
