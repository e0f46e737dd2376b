"""The live push carries the door-counted occupancy, the capacity and every queue's length, predicted wait and
alert, so that the live page shows them as they change (it polled the REST API once a minute)."""

from __future__ import annotations

from server.analytics import CountingLine, SiteAnalytics, Zone, ZoneKind
from server.realtime.positions import site_positions_event
from tests.unit.analytics.helpers import ZONE_B, ZONES, frame, rect, site_config

DOOR = CountingLine(
    1, "Front door", ((10.0, 5.0), (14.0, 5.0)), entrance=True, hysteresis_m=0.3, commit_s=0.0
)
TILL = Zone(20, "Till", ZoneKind.SERVICE, rect(10, 0, 12, 4))
QUEUE, SERVED, OUTSIDE = (8.0, 2.0), (11.0, 2.0), (1.0, 8.0)


def test_counted_occupancy_capacity_and_queues_are_pushed() -> None:
    analytics = SiteAnalytics(
        site_config(
            zones=(*ZONES, TILL), lines=(DOOR,), capacity=5, queue_alert_length=2, queue_alert_after_s=1.0
        )
    )
    # Person 1 comes in through the door; 2 and 5 are served after 2 s and 4 s; 3 and 4 then wait in the queue.
    paths = {
        1: [(12.0, 3.0), (12.0, 4.0), (12.0, 6.0), (12.0, 7.0)] + [(12.0, 7.0)] * 6,
        2: [QUEUE, QUEUE, SERVED, OUTSIDE] + [OUTSIDE] * 6,
        5: [QUEUE] * 4 + [SERVED, OUTSIDE] + [OUTSIDE] * 4,
        3: [QUEUE] * 10,
        4: [QUEUE] * 10,
    }
    for k in range(10):
        fused = frame(k * 1.0, {g: p[k] for g, p in paths.items()})
        update = analytics.update(fused, {})
    event = site_positions_event({}, {}, fused, update, [], 5)
    counters = event["counters"]
    assert counters["counted_occupancy"] == 1
    assert counters["capacity"] == 5
    wait = counters["queues"][0]["predicted_wait_s"]
    assert wait is not None
    assert wait > 0
    assert counters["queues"] == [
        {"zone_id": ZONE_B, "length": 2, "predicted_wait_s": wait, "alerting": True}
    ]


def test_a_site_without_doors_queues_or_capacity_pushes_only_the_occupancy() -> None:
    analytics = SiteAnalytics(site_config(zones=ZONES[:1]))
    fused = frame(0.0, {1: (1.0, 1.0)})
    event = site_positions_event({}, {}, fused, analytics.update(fused, {}), [])
    assert set(event["counters"]) == {"site_occupancy", "zone_occupancy"}
