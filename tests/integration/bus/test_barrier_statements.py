"""A site worker's barrier costs the same number of database statements whatever the number of sites it covers,
on real PostgreSQL: its sites' progress rows (locked, fenced and saved) and their heat (hours and open buckets).

Before, each site cost statements of its own at every barrier (progress: a lock and a save; heat: an insert, a lock
and a save per hour, a lock and a save per open bucket), so a worker of 64 sites spent several hundred statements
per barrier, and its barrier's CPU time per frame grew with the sites (`benchmarks/worker_cost.py --threads`)."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from server.analytics.types import FloorGrid, HeatmapBucket
from server.ingest.models import SiteFrameProgress
from server.insights.models import HeatmapHour, HeatmapSlice
from server.insights.recorder import HOUR_US, InsightsRecorder
from server.inventory.models import Site
from server.worker.progress import Applied, SiteProgress
from server.worker.progress import _claim as claim

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

GRID = FloorGrid(origin_x_m=0.0, origin_y_m=0.0, width_m=4.0, height_m=2.0, cell_m=1.0)
HOUR0_US = 1_800_000_000 * 10**6 // HOUR_US * HOUR_US


def _statements_of_a_barrier(sites: int, round_index: int) -> tuple[int, list[int]]:
    """Two barriers of a worker holding `sites` sites, each with a frame and heat: the statements of the second
    (rows exist by then, as in a running worker)."""
    site_ids = [Site.objects.create(name=f"Statements {sites}-{n}-{round_index}").pk for n in range(sites)]
    progress = SiteProgress(held_from=lambda camera, epoch: None, ack=lambda reply: None)
    for site_id in site_ids:
        through, _, revision, _ = claim(site_id)
        progress.sites[site_id] = _ledger(site_id, through, revision)
    recorder = InsightsRecorder()
    counts = []
    for barrier in range(2):
        for site_id in site_ids:
            progress.record(site_id, Applied(barrier + 1, site_id, 0, barrier + 1, None))
            bucket = HeatmapBucket(
                bucket_start_us=HOUR0_US + barrier * 60 * 10**6,
                bucket_s=60,
                cell_index=np.array([1, 2], dtype=np.int64),
                person_s=np.array([1.0, 2.0]),
                displacement_m=np.array([[0.5, 0.25], [0.0, 0.0]]),
            )
            recorder.add_heat(site_id, [bucket, bucket], GRID)
        saved = progress.checkpoint()
        written = recorder.checkpoint()
        assert saved is not None
        assert written is not None
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            written.commit()
            saved.commit()
        saved.settled()
        counts.append(len(queries.captured_queries))
    for site_id in site_ids:
        row = SiteFrameProgress.objects.get(site_id=site_id)
        assert (row.applied_through, row.revision) == (2, 3)
        assert HeatmapHour.objects.filter(site_id=site_id).count() == 1
        assert HeatmapSlice.objects.filter(site_id=site_id).count() == 2
    return counts[-1], counts


def _ledger(site_id: int, through: int, revision: int):  # type: ignore[no-untyped-def]
    from server.worker.progress import SiteLedger

    return SiteLedger(site_id=site_id, through=through, revision=revision)


def test_a_barriers_statements_do_not_grow_with_its_sites() -> None:
    one, one_all = _statements_of_a_barrier(1, 0)
    many, many_all = _statements_of_a_barrier(12, 1)
    assert many == one, (one_all, many_all)
