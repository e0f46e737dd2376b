"""ZonePresence alone: visits, dwell and flow per path through zone A (0..4) and B (6..10), grace 1 s."""

from __future__ import annotations

import numpy as np
import pytest

from server.analytics.presence import ZonePresence
from server.analytics.rows import PersonRows
from server.analytics.types import DwellRecord, FlowTransition, ZoneEntry
from tests.unit.analytics.helpers import ZONE_A, ZONE_B, site_config, us


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
