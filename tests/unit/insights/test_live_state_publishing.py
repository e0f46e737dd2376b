"""The processor publishes each site's live state through real fusion + analytics at the live push rate (by
capture time), not per frame, with every person's position, zones and identity."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from server.analytics.types import PersonIdentity
from server.frames import DecodedFrame, SiteCamera
from server.insights.processor import SiteAnalyticsProcessor, build_setup
from server.insights.recorder import InsightsRecorder
from server.livestate.memory import InMemoryLiveState
from server.livestate.types import SiteSnapshot
from tests.support.frames import decoded_frame

SITE, CAMERA = 4, 40
T0_US = 1_800_000_000_000_000
ZONES = [
    {
        "id": 7,
        "name": "Till",
        "kind": "queue",
        "polygon": [[0, 0], [4, 0], [4, 4], [0, 4]],
        "required_level": 0,
        "warning_distance_m": 1.0,
    },
]


class _Publisher:
    def publish(self, site_id: int, event: Any) -> None:
        pass


class _Sink:
    def write(self, points: Any) -> None:
        pass


class _Recording(InMemoryLiveState):
    def __init__(self) -> None:
        super().__init__()
        self.published: list[SiteSnapshot] = []

    def publish(self, snapshot: SiteSnapshot) -> None:
        self.published.append(snapshot)
        super().publish(snapshot)


def _frame(sequence: int, time_us: int, people: dict[int, tuple[float, float]]) -> DecodedFrame:
    return decoded_frame(CAMERA, sequence, time_us, people)


async def test_live_state_is_published_at_the_live_rate_with_zones_and_identities() -> None:
    setup = build_setup(
        site_id=SITE,
        zones=ZONES,
        width_m=20,
        height_m=10,
        origin_x_m=0,
        origin_y_m=0,
        cell_m=0.5,
        first_person_id=1,
    )
    live = _Recording()
    processor = SiteAnalyticsProcessor(
        publisher=_Publisher(),  # type: ignore[arg-type]
        points=_Sink(),
        recorder=InsightsRecorder(),
        load_setup=lambda site_id: setup,
        load_identities=lambda site_id: {1: PersonIdentity(employee_id=3, display_name="Kim", level=1)},
        on_alert=lambda site_id, alert: None,
        live_state=live,
        live_state_hz=5.0,
    )
    camera = SiteCamera(camera_id=CAMERA, site_id=SITE)
    await processor.prepare(camera)
    for step in range(60):  # 3 s at 20 fps
        processor.process(camera, _frame(step + 1, T0_US + step * 50_000, {1: (2.0, 2.0), 2: (10.0, 5.0)}))
        await asyncio.sleep(0)
    assert processor.errors == 0
    times = [s.time_us for s in live.published]
    assert len(times) == 15  # every 200 ms of capture time over 3 s, not 60 (per frame)
    assert all(b - a == 200_000 for a, b in itertools.pairwise(times))
    latest = live.latest(SITE)
    assert latest is not None
    assert latest.time_us == times[-1]
    by_id = {p.person_id: p for p in latest.persons}
    assert len(by_id) == 2
    kim = next(p for p in latest.persons if p.name == "Kim")
    other = next(p for p in latest.persons if p.name != "Kim")
    assert (kim.person_id, kim.employee_id, kim.zone_ids) == (1, 3, (7,))
    assert ((round(kim.x_m, 1), round(kim.y_m, 1)), other.zone_ids, other.employee_id) == (
        (2.0, 2.0),
        (),
        None,
    )
    assert (latest.site_occupancy, dict(latest.zone_occupancy)) == (2, {7: 1})
