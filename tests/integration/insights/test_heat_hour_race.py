"""Two writers of the same new heat-map hour (two site workers during a hand-over, or a barrier and a flush),
on two real PostgreSQL connections: the second one's heat was written over the first's. Neither saw the row
(the first had not committed), so the second's create met the first's row at commit and overwrote it with its own
counts alone (or failed as a refused record)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from django.db import connection, connections, transaction

from server.analytics.types import FloorGrid, HeatmapBucket
from server.insights.models import HeatmapHour
from server.insights.recorder import HOUR_US, InsightsRecorder
from server.inventory.models import Site

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

GRID = FloorGrid(origin_x_m=0.0, origin_y_m=0.0, width_m=4.0, height_m=2.0, cell_m=1.0)  # 8 cells
HOUR0_US = 1_800_000_000 * 10**6 // HOUR_US * HOUR_US


def _bucket(cell: int, person_s: float, minute: int) -> HeatmapBucket:
    return HeatmapBucket(
        bucket_start_us=HOUR0_US + minute * 60 * 10**6,
        bucket_s=60,
        cell_index=np.array([cell], dtype=np.int64),
        person_s=np.array([person_s]),
        displacement_m=np.array([[0.5, 0.25]]),
    )


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def test_two_writers_of_one_new_heat_hour_add_up() -> None:
    site = Site.objects.create(name="Two writers")
    first, second = InsightsRecorder(), InsightsRecorder()
    first.add_heat(site.pk, [_bucket(cell=1, person_s=3.0, minute=0)], GRID)
    second.add_heat(site.pk, [_bucket(cell=1, person_s=5.0, minute=1), _bucket(6, 2.0, 1)], GRID)
    written, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold_open() -> None:  # writes the new hour and keeps its transaction open until told
        try:
            with transaction.atomic():
                checkpoint = first.checkpoint()
                assert checkpoint is not None
                checkpoint.write()
                written.set()
                assert release.wait(20)
        except BaseException as err:
            errors.append(err)
        finally:
            connections.close_all()

    def write_too() -> None:
        try:
            assert written.wait(20)
            second.flush()
        except BaseException as err:
            errors.append(err)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=hold_open), threading.Thread(target=write_too)]
    for thread in threads:
        thread.start()
    assert written.wait(20)
    deadline = time.monotonic() + 20
    while not _waiting_on_a_lock() and time.monotonic() < deadline:  # the second writer meets the first's row
        time.sleep(0.02)
    blocked = _waiting_on_a_lock()
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert blocked == 1, "the second writer never waited for the first"

    row = HeatmapHour.objects.get(site=site)
    person_s = np.frombuffer(bytes(row.person_s), dtype="<f4")
    assert person_s.tolist() == [0.0, 8.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0]
    assert np.frombuffer(bytes(row.displacement_x_m), dtype="<f4").tolist() == [0, 1.0, 0, 0, 0, 0, 0.5, 0]
    assert (row.columns, row.rows) == (GRID.nx, GRID.ny)
    assert second.stats().dropped_records == 0
