"""Attacks on the store analytics as a real deployment would make them, kept as regression tests: incidents of a
box whose clock runs behind (or that replays a backlog), polygons a client can send."""

from __future__ import annotations

import time
from typing import Any

from server.alerts.incidents import close_stale_incidents
from server.alerts.models import Alert
from server.alerts.services import alert_incident_record


def _report(site_id: int, zone_id: int, *, opened_us: int, time_us: int) -> Alert | None:
    return alert_incident_record(
        site_id=site_id,
        zone_id=zone_id,
        person_id=7,
        opened_us=opened_us,
        time_us=time_us,
        kind="alarm",
        message="An unauthorized visitor entered the secure area",
        employee_id=None,
        person_name=None,
        identity_certain=True,
        x_m=12.0,
        y_m=12.0,
        distance_m=0.0,
        camera_ids=[1],
    )


def test_an_incident_of_a_box_whose_clock_runs_two_minutes_behind_is_not_closed_while_it_lasts(
    store: dict[str, Any],
) -> None:
    """Frames are accepted up to INGEST_MAX_PAST_S behind the server clock (a box without NTP, a backlog replayed
    after an outage), so an incident's frame times can be minutes old while it is reported every second. The
    sweep for incidents left open by a stopped process must judge by when the server last heard of it."""
    site_id, zone_id = store["site"].pk, store["restricted"].pk
    behind_us = 120 * 1_000_000
    opened_us = int(time.time() * 1e6) - behind_us
    assert _report(site_id, zone_id, opened_us=opened_us, time_us=opened_us) is not None
    assert close_stale_incidents() == 0
    updated = _report(site_id, zone_id, opened_us=opened_us, time_us=opened_us + 1_000_000)
    assert updated is not None, "the next report of the ongoing incident was ignored"
    assert Alert.objects.get().closed_at is None
