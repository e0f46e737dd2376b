"""ZonePresence alone: visits, dwell and flow per path through zone A (0..4) and B (6..10), grace 1 s."""

from __future__ import annotations

import numpy as np
import pytest

from server.analytics import PersonIdentity, SiteAnalytics
from server.analytics.presence import ZonePresence
from server.analytics.rows import PersonRows
from server.analytics.types import DwellRecord, FlowTransition, ZoneEntry
from tests.unit.analytics.helpers import ZONE_A, ZONE_B, frame, site_config, us


def _run(xs: list[float | None]) -> tuple[list[ZoneEntry], list[DwellRecord], list[FlowTransition]]:
    """Person 1 at (x, 1) every 0.5 s; None: missing from that frame (and so gone)."""
    presence = ZonePresence(site_config())
    rows = PersonRows()
    rows.attach(presence)
    entries: list[ZoneEntry] = []
    dwell: list[DwellRecord] = []
    flow: list[FlowTransition] = []
    for k, x in enumerate([*xs, None]):
        t = us(k * 0.5)
        rows.begin_frame()
        gids = [] if x is None else [1]
        found, _ = rows.rows_for(gids, t)
        gone = rows.vanished()
        presence.close_rows(gone, rows.gid[gone].copy(), dwell)
        rows.release(gone)
        xy = np.array([[x, 1.0]]) if x is not None else np.zeros((0, 2))
        times = np.full(len(gids), t, dtype=np.int64)
        presence.update(t, times, times, found, presence.inside(xy), gids, entries, flow, dwell)
    return entries, dwell, flow


@pytest.mark.parametrize(
    ("xs", "entries", "dwell", "flow"),
    [
        ([1.0, 1.0, 1.0], [(ZONE_A, 0.0)], [(ZONE_A, 0.0, 1.0)], [(None, ZONE_A)]),
        ([1.0, 5.0, 1.0], [(ZONE_A, 0.0)], [(ZONE_A, 0.0, 1.0)], [(None, ZONE_A)]),  # out 0.5 s < grace
        (
            [1.0, 5.0, 5.0, 5.0, 1.0],
            [(ZONE_A, 0.0), (ZONE_A, 2.0)],
            [(ZONE_A, 0.0, 0.0), (ZONE_A, 2.0, 2.0)],
            [(None, ZONE_A)],  # back into the same zone: no flow
        ),
        (
            [1.0, 5.0, 7.0, 7.0],
            [(ZONE_A, 0.0), (ZONE_B, 1.0)],
            [(ZONE_A, 0.0, 0.0), (ZONE_B, 1.0, 1.5)],
            [(None, ZONE_A), (ZONE_A, ZONE_B)],
        ),
        ([5.0, 5.0], [], [], []),
    ],
)
def test_presence_table(
    xs: list[float | None],
    entries: list[tuple[int, float]],
    dwell: list[tuple[int, float, float]],
    flow: list[tuple[int | None, int]],
) -> None:
    got_entries, got_dwell, got_flow = _run(xs)
    assert [(e.zone_id, e.time_us) for e in got_entries] == [(z, us(t)) for z, t in entries]
    assert sorted((d.zone_id, d.enter_us, d.exit_us) for d in got_dwell) == sorted(
        (z, us(a), us(b)) for z, a, b in dwell
    )
    assert [(f.from_zone_id, f.to_zone_id) for f in got_flow] == flow


KIM = PersonIdentity(employee_id=7, display_name="Kim", level=1)


@pytest.mark.parametrize(
    ("bound_at", "staff_records"),
    [
        (None, False),  # a visitor
        (0, True),  # bound from the start
        (2, True),  # bound during the visit: the whole track is staff's, visit included
    ],
)
def test_staff_are_marked_on_visitor_records(bound_at: int | None, staff_records: bool) -> None:
    analytics = SiteAnalytics(site_config(heat_excludes_staff=True))
    dwell: list[DwellRecord] = []
    entries: list[ZoneEntry] = []
    heat_s = 0.0
    for k, x in enumerate([1.0, 1.0, 1.0, 7.0, 7.0, 7.0, 7.0]):
        identities = {1: KIM} if bound_at is not None and k >= bound_at else {}
        update = analytics.update(frame(k * 0.5, {1: (x, 1.0)}), identities)
        dwell += update.dwell
        entries += update.entries
        heat_s += update.heat.total_person_s
        assert update.staff_ids == (frozenset({1}) if bound_at is not None and k >= bound_at else frozenset())
    dwell += analytics.flush().dwell
    assert {d.staff for d in dwell} == {staff_records}
    assert [e.staff for e in entries] == ([False, staff_records] if bound_at == 2 else [staff_records] * 2)
    # The heat map leaves staff out from the frame they are known to be staff.
    assert heat_s == pytest.approx({None: 3.0, 0: 0.0, 2: 1.0}[bound_at])


def test_the_heat_map_is_everyones_unless_staff_are_excluded() -> None:
    everyone = SiteAnalytics(site_config())
    held = 0.0
    for k in range(3):
        held += everyone.update(frame(k * 0.5, {1: (1.0, 1.0)}), {1: KIM}).heat.total_person_s
    assert held == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("after", "staff_after", "unstaffed_at"),
    [
        ({}, True, None),  # the binding lost (superseded, the feed gone): sticky, still staff
        ({1: PersonIdentity(revoked=True)}, False, 3),  # the binding revoked (an unbind): a visitor again
        ({1: KIM}, True, None),  # still bound
    ],
)
def test_a_revoked_binding_ends_the_staff_mark(
    after: dict[int, PersonIdentity], staff_after: bool, unstaffed_at: int | None
) -> None:
    analytics = SiteAnalytics(site_config(heat_excludes_staff=True))
    heat_after = 0.0
    for k in range(6):
        update = analytics.update(
            frame(k * 0.5, {1: (1.0, 1.0), 2: (7.0, 1.0)}), {1: KIM} if k < 3 else after
        )
        assert update.unstaffed_ids == (frozenset({1}) if k == unstaffed_at else frozenset())
        assert (1 in update.staff_ids) == (k < 3 or staff_after)
        assert 2 not in update.staff_ids
        if k >= 3:
            heat_after += update.heat.total_person_s
        entries = update.entries
        assert all(e.staff == (e.global_id == 1 and (k < 3 or staff_after)) for e in entries)
    # Frames 3 to 5 add the hold of frames 2 to 4 (0.5 s each): person 2's, and person 1's again from frame 3,
    # where their binding is revoked.
    assert heat_after == pytest.approx(1.5 if staff_after else 2.5)
