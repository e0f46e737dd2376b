"""The WebSocket event contract, written once: one TypedDict per event sent on ws/sites/<id>/ and one builder per
pushed event. `type` is the Channels handler name (dots become underscores).

The dashboard's TypeScript types are generated from these (`python -m server.realtime.typescript` writes
frontend/src/api/events.generated.ts; a test fails when the committed file differs). So a change here is a change
of the wire: mypy checks the producers' dicts against it, vue-tsc the dashboard's use of it."""

# No `from __future__ import annotations`: Python 3.11 reads NotRequired from string annotations of a TypedDict
# only when they are real objects, and the generator reads these classes at run time.
from typing import Any, Literal, NotRequired, TypedDict

PersonId = int | str
"""A fused person's global id, or "<camera id>:<local track id>" when the server runs without fusion."""

Contact = tuple[PersonId, PersonId, float]
"""Two persons closer than the distancing threshold, and their distance in metres."""

AlertKindName = Literal["warning", "alarm", "capacity", "queue"]
AlertStateName = Literal["open", "acknowledged", "resolved"]
AlertChange = Literal["opened", "escalated", "updated", "closed", "acknowledged", "resolved"]


class LivePerson(TypedDict):
    """One person on the live map."""

    id: PersonId
    x_m: float
    y_m: float
    camera_id: NotRequired[int]
    """The camera that sees the track (without fusion only)."""
    name: NotRequired[str]
    """Left out for users without `people.view_employee`."""
    employee_id: NotRequired[int | None]
    """Left out for users without `people.view_employee`."""
    zone_id: NotRequired[int]
    """The first of `zone_ids`."""
    zone_ids: NotRequired[list[int]]
    """Every zone the person is in, from the server's analytics (zones may overlap)."""
    vx_mps: NotRequired[float]
    vy_mps: NotRequired[float]


class LiveQueue(TypedDict):
    """A queue zone now (server.analytics.queues)."""

    zone_id: int
    length: int
    """Visitors waiting in the queue (staff left out)."""
    predicted_wait_s: float | None
    """The predicted wait of a newcomer; None until the queue has served someone."""
    alerting: bool
    """Its "open another till" alert is on."""


class LiveCounters(TypedDict):
    site_occupancy: int
    zone_occupancy: dict[str, int]
    """Zone id (as a string: a JSON object key) -> persons in the zone."""
    counted_occupancy: NotRequired[int]
    """Occupancy counted at the entrance lines since the closing-time reset (sites with entrance lines only)."""
    capacity: NotRequired[int]
    """The site's capacity (sites with one only)."""
    queues: NotRequired[list[LiveQueue]]
    """Every queue zone of the site (sites with queue zones only)."""


class LivePositionsEvent(TypedDict):
    """The newest live state of the site (throttled to LIVE_PUSH_HZ)."""

    type: Literal["live.positions"]
    site_id: int
    time_us: int
    persons: list[LivePerson]
    counters: NotRequired[LiveCounters]
    """Sent when the server runs the site's analytics."""
    contacts: NotRequired[list[Contact]]


class AlertCounts(TypedDict):
    """A site's exact alert counts (server.alerts.selectors.alert_counts); unacknowledged = the unread badge."""

    unacknowledged: int
    unacknowledged_alarms: int
    ongoing: int
    total: int


class AlertPayload(TypedDict):
    """An alert as pushed (server.alerts.selectors.alert_to_dict). One the server could not store arrives with
    only the incident's fields and no `id`: it is shown, but cannot be acknowledged."""

    id: NotRequired[int]
    site: NotRequired[int]
    zone: int | None
    kind: AlertKindName
    person_id: int | None
    employee: NotRequired[int | None]
    person_name: str
    identity_certain: NotRequired[bool]
    message: str
    x_m: float | None
    y_m: float | None
    distance_m: NotRequired[float | None]
    camera_ids: list[int]
    state: NotRequired[AlertStateName]
    ongoing: NotRequired[bool]
    raised_at: NotRequired[str]
    escalated_at: NotRequired[str | None]
    updated_at: NotRequired[str | None]
    closed_at: NotRequired[str | None]
    acknowledged_at: NotRequired[str | None]
    acknowledged_by: NotRequired[int | None]
    resolved_at: NotRequired[str | None]
    resolved_by: NotRequired[int | None]


class AlertChangedEvent(TypedDict):
    """An alert was opened, escalated, updated, closed, acknowledged or resolved (`change`)."""

    type: Literal["alert.changed"]
    site_id: int
    alert: AlertPayload
    change: NotRequired[AlertChange]
    counts: NotRequired[AlertCounts]
    """The site's exact alert counts after the change."""


class AlertsAcknowledgedEvent(TypedDict):
    """Many alerts of a site were acknowledged at once (bulk acknowledge)."""

    type: Literal["alerts.acknowledged"]
    site_id: int
    ids: list[int]
    acknowledged_at: str
    acknowledged_by: int | None
    counts: AlertCounts


class SirenChangedEvent(TypedDict):
    type: Literal["siren.changed"]
    site_id: int
    on: bool


class HealthChangedEvent(TypedDict):
    """An edge device's heartbeat (its health report, as the device sent it)."""

    type: Literal["health.changed"]
    site_id: int
    device_id: int
    health: dict[str, Any]


class HelloEvent(TypedDict):
    """The first message on an accepted socket."""

    type: Literal["hello"]
    site_id: int
    user: str


class PongEvent(TypedDict):
    """The answer to the client's `{"type": "ping", "t": …}`, with its `t`."""

    type: Literal["pong"]
    t: Any


class PingMessage(TypedDict):
    """The one message the dashboard sends: a keep-alive, answered with a `pong` carrying the same `t`."""

    type: Literal["ping"]
    t: Any


# What producers send to a site's Channels groups, and everything the socket sends (in the generated union).
GroupEvent = (
    LivePositionsEvent | AlertChangedEvent | AlertsAcknowledgedEvent | SirenChangedEvent | HealthChangedEvent
)
ServerEvent = HelloEvent | PongEvent | GroupEvent
ClientMessage = PingMessage


def live_positions_event(
    *,
    site_id: int,
    time_us: int,
    persons: list[LivePerson],
    counters: LiveCounters | None = None,
    contacts: list[Contact] | None = None,
) -> LivePositionsEvent:
    event: LivePositionsEvent = {
        "type": "live.positions",
        "site_id": site_id,
        "time_us": time_us,
        "persons": persons,
    }
    if counters is not None:
        event["counters"] = counters
    if contacts is not None:
        event["contacts"] = contacts
    return event


def alert_event(
    *,
    site_id: int,
    alert: AlertPayload,
    change: AlertChange | None = None,
    counts: AlertCounts | None = None,
) -> AlertChangedEvent:
    """`counts` are the site's exact alert counts after the change (server.alerts.selectors.alert_counts)."""
    event: AlertChangedEvent = {"type": "alert.changed", "site_id": site_id, "alert": alert}
    if change is not None:
        event["change"] = change
    if counts is not None:
        event["counts"] = counts
    return event


def alerts_acknowledged_event(
    *, site_id: int, ids: list[int], acknowledged_at: str, acknowledged_by: int | None, counts: AlertCounts
) -> AlertsAcknowledgedEvent:
    return {
        "type": "alerts.acknowledged",
        "site_id": site_id,
        "ids": ids,
        "acknowledged_at": acknowledged_at,
        "acknowledged_by": acknowledged_by,
        "counts": counts,
    }


def siren_event(*, site_id: int, on: bool) -> SirenChangedEvent:
    return {"type": "siren.changed", "site_id": site_id, "on": on}


def health_event(*, site_id: int, device_id: int, health: dict[str, Any]) -> HealthChangedEvent:
    return {"type": "health.changed", "site_id": site_id, "device_id": device_id, "health": health}


def hello_event(*, site_id: int, user: str) -> HelloEvent:
    return {"type": "hello", "site_id": site_id, "user": user}


def pong_event(*, t: Any) -> PongEvent:
    return {"type": "pong", "t": t}
