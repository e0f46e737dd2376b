"""The site conditions (over capacity, "open another till") still on when a site's analytics stop end with them,
as its open access incidents do: a site released to another worker, or the process's final flush, left their
alert rows open (and the dashboard's "ongoing" count up) until the condition was reported off again, by whichever
process took the site on, maybe never."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.analytics.types import AccessAlert, CapacityEvent, QueueAlert
from server.frames import DecodedFrame, SiteCamera
from server.insights.processor import SiteAnalyticsProcessor, build_setup
from server.insights.recorder import InsightsRecorder
from tests.support.frames import decoded_frame

SITE, CAMERA, QUEUE = 4, 40, 7
T0_US = 1_800_000_000_000_000
ZONES = [
    {
        "id": QUEUE,
        "name": "Tills",
        "kind": "queue",
        "polygon": [[0, 0], [4, 0], [4, 4], [0, 4]],
        "required_level": 0,
        "warning_distance_m": 1.0,
    },
]


class _Drop:
    def publish(self, site_id: int, event: Any) -> None:
        pass

    def write(self, points: Any) -> None:
        pass


def _frame(sequence: int, time_us: int, people: dict[int, tuple[float, float]]) -> DecodedFrame:
    return decoded_frame(CAMERA, sequence, time_us, people)


@pytest.mark.parametrize("stop", ["release_site", "flush"])
async def test_conditions_still_on_end_when_the_analytics_stop(stop: str) -> None:
    setup = build_setup(
        site_id=SITE,
        zones=ZONES,
        width_m=20,
        height_m=10,
        origin_x_m=0,
        origin_y_m=0,
        cell_m=0.5,
        first_person_id=1,
        capacity=2,
        queue_thresholds=[{"zone": QUEUE, "length": 3, "wait_s": None, "after_s": 0.5}],
    )
    events: list[AccessAlert | CapacityEvent | QueueAlert] = []
    processor = SiteAnalyticsProcessor(
        publisher=_Drop(),  # type: ignore[arg-type]
        points=_Drop(),
        recorder=InsightsRecorder(),
        load_setup=lambda site_id: setup,
        load_identities=lambda site_id: {},
        on_alert=lambda site_id, event: events.append(event),
    )
    camera = SiteCamera(camera_id=CAMERA, site_id=SITE)
    await processor.prepare(camera)
    queue = {
        1: (1.0, 1.0),
        2: (2.0, 1.0),
        3: (3.0, 1.0),
    }  # three waiting: over the capacity of 2, a long queue
    for step in range(40):  # 2 s at 20 fps
        processor.process(camera, _frame(step + 1, T0_US + step * 50_000, queue))
        await asyncio.sleep(0)
    assert processor.errors == 0
    assert [(type(e).__name__, getattr(e, "over", getattr(e, "open", None))) for e in events] == [
        ("CapacityEvent", True),
        ("QueueAlert", True),
    ]
    events.clear()

    if stop == "release_site":
        processor.release_site(SITE)
    else:
        processor.flush()

    capacity = [e for e in events if isinstance(e, CapacityEvent)]
    queues = [e for e in events if isinstance(e, QueueAlert)]
    assert [(e.over, e.capacity, e.stopped) for e in capacity] == [(False, 2, True)]
    assert [(e.zone_id, e.open, e.stopped) for e in queues] == [(QUEUE, False, True)]
    last_frame_us = T0_US + 39 * 50_000
    assert [e.time_us for e in capacity] == [e.time_us for e in queues] == [last_frame_us]
