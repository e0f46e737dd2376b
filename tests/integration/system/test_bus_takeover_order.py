"""A site taken over while its stream is out of camera order, with real processes on a real NATS JetStream node.

After a NATS node dies, a gateway sends the publishes it buffered meanwhile at once and the ones lost with the old
connection only when they are due for a republish, so newer frames of a camera are stored before older ones; the
same fault moves the consumers' pins, so a site often changes worker right there. Here a first worker applies
frames 1..100 and stops; then 151..300 are stored before 101..150 (5 s of capture time), then 301..400, and a
second worker takes the site over. It must hand the fusion 101..150 before 151..: it knows where the camera's
sequences stood from the site's durable progress. Without that, its camera order started at the first frame it
saw (151), 101..150 reached the fusion after newer frames, were dropped as late and acked: 50 frames, 20 of 159.6
person-seconds of heat, lost.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from server.insights.models import PersonVisit
from tests.integration.system.test_bus_failover import (
    FRAME_US,
    PEOPLE,
    _env,
    _heat_person_s,
    _last_stream_seq,
    _site,
    _work,
)
from tests.integration.system.test_bus_order import _publish
from tests.support.nats import nats_cluster, servers_url

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]
FIRST = list(range(1, 101))
LATER = [*range(151, 301), *range(101, 151), *range(301, 401)]
LAST = 400


def test_a_site_taken_over_amid_frames_out_of_camera_order_loses_nothing(tmp_path: Path) -> None:
    site_id, _, _, camera = _site("Takeover")
    base_us = time.time_ns() // 1000
    with nats_cluster(1, log_dir=tmp_path) as nodes:
        bus_url = servers_url(nodes)
        env = {**_env(tmp_path, bus_url), "RETAIL_WORKER_STATUS_S": "1", "RETAIL_WORKER_GAP_HOLD_S": "2"}
        asyncio.run(_publish(bus_url, site_id, camera, base_us, FIRST))
        _work(tmp_path, env, "worker-a", site_id, len(FIRST))
        asyncio.run(_publish(bus_url, site_id, camera, base_us, LATER))
        last = asyncio.run(_last_stream_seq(bus_url, site_id))
        assert last == LAST
        text = _work(tmp_path, env, "worker-b", site_id, last)

    truth = (LAST - 1) * FRAME_US / 1e6 * PEOPLE
    person_s = _heat_person_s(site_id)
    # Two take-overs (the fusion starts afresh each time): at most the sample-and-hold interval per person each.
    assert truth - 2 * PEOPLE * 1.0 <= person_s <= truth + 0.01, (person_s, truth, text)
    late = re.findall(r"(\d+) dropped by the fusion as late", text)
    assert late, text
    assert late[-1] == "0", text
    visits = PersonVisit.objects.filter(site_id=site_id)
    assert visits.filter(ended_at__isnull=True).count() == 0
