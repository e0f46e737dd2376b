"""AccessControl alone: incidents of the server room R (20..24 x 0..4, level 2, warning band 1 m)."""

from __future__ import annotations

import numpy as np
import pytest

from server.analytics.access import AccessControl
from server.analytics.presence import ZonePresence
from server.analytics.rows import PersonRows
from server.analytics.types import VISITOR, AccessAlert, AlertKind, IncidentPhase, PersonIdentity
from tests.unit.analytics.helpers import frame, site_config

GUARD = PersonIdentity(employee_id=5, display_name="Sam", level=2)
CLEANER = PersonIdentity(employee_id=6, display_name="Ada", level=1)


def _run(xs: list[float], identity: PersonIdentity | None) -> list[tuple[IncidentPhase, AlertKind]]:
    """Person 1 at (x, 2) every 0.5 s, then gone."""
    return [(a.phase, a.kind) for a in _alerts(xs, identity)]


def _alerts(xs: list[float], identity: PersonIdentity | None) -> list[AccessAlert]:
    config = site_config()
    rows = PersonRows()
    access = AccessControl(config, lambda: rows.first_us)
    presence = ZonePresence(config)
    rows.attach(access)
    alerts: list[AccessAlert] = []
    previous: int | None = None
    for k, x in enumerate(xs):
        fused = frame(k * 0.5, {1: (x, 2.0)})
        rows.begin_frame()
        found, _ = rows.rows_for([1], fused.time_us)
        inside = presence.inside(fused.floor_xy_m)
        access.update(
            fused.time_us, previous, fused, found, inside, [1], {1: identity} if identity else {}, alerts
        )
        previous = fused.time_us
    access.flush(previous or 0, previous, alerts)
    return alerts


W, A = AlertKind.WARNING, AlertKind.ALARM
OPENED, ESCALATED, CLOSED = IncidentPhase.OPENED, IncidentPhase.ESCALATED, IncidentPhase.CLOSED


@pytest.mark.parametrize(
    ("xs", "identity", "expected"),
    [
        ([15.0, 17.0, 19.5], None, [(OPENED, W), (CLOSED, W)]),  # approaches within the band
        ([15.0, 19.5, 21.0], None, [(OPENED, W), (ESCALATED, A), (CLOSED, A)]),  # walks in
        ([15.0, 19.5, 21.0], GUARD, []),  # level 2: allowed
        ([15.0, 19.5, 21.0], CLEANER, [(OPENED, W), (ESCALATED, A), (CLOSED, A)]),  # level 1: not
        ([22.0, 22.0], None, []),  # born inside, tracked < 1.5 s: a false positive's pattern
        ([22.0, 22.0, 22.0, 22.0, 22.0], None, [(OPENED, A), (CLOSED, A)]),  # ... but tracked 2 s: alarm
        ([10.0, 12.0], None, []),
    ],
)
def test_access_table(
    xs: list[float], identity: PersonIdentity | None, expected: list[tuple[IncidentPhase, AlertKind]]
) -> None:
    assert [event for event in _run(xs, identity) if event[0] is not IncidentPhase.UPDATED] == expected


@pytest.mark.parametrize(
    "xs",
    [
        [15.0, 17.0, 19.5, 19.6, 19.4, 15.0],
        [15.0, 19.5, 21.0, 21.5, 19.8, 12.0],
        [22.0, 22.0, 22.0, 22.0, 22.0],
        [19.2, 19.2, 19.2, 19.2],  # born in the band
        [10.0, 12.0],
    ],
)
def test_no_bindings_alert_as_visitors_bound(xs: list[float]) -> None:
    """A frame without any binding (the shortcut for everyone a visitor) alerts exactly as one that binds the
    person to the visitor identity."""
    assert _alerts(xs, None) == _alerts(xs, VISITOR)


def test_restricted_columns() -> None:
    access = AccessControl(site_config(), lambda: np.zeros(0, dtype=np.int64))
    assert access.restricted.tolist() == [2]  # the third zone of the site is the restricted one
