"""HeatMap alone: sample-and-hold person-seconds per cell and bucket (1 m cells, 60 s buckets)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from server.analytics.heatmap import HeatMap
from server.analytics.types import FloorGrid
from tests.unit.analytics.helpers import site_config, us


@pytest.mark.parametrize(
    ("times_s", "held_s", "closed_buckets"),
    [
        ([0.0, 0.5], 0.5, 0),
        ([0.0, 0.5, 1.0], 1.0, 0),
        ([0.0, 5.0], 1.0, 0),  # held at most heat_max_hold_s
        ([0.0, 59.5, 60.5], 2.0, 1),  # the first bucket closes once 60 s passed
        ([0.0], 0.0, 0),
    ],
)
def test_heat_table(times_s: list[float], held_s: float, closed_buckets: int) -> None:
    heat = HeatMap(site_config())
    xy = np.array([[1.5, 1.5]])
    velocity = np.array([[1.0, 0.0]])
    total = 0.0
    closed = 0
    stored = 0.0
    previous: int | None = None
    for t_s in times_s:
        delta, buckets = heat.update(us(t_s), previous, xy, velocity)
        total += delta.total_person_s
        closed += len(buckets)
        stored += sum(float(b.person_s.sum()) for b in buckets)
        previous = us(t_s)
    stored += sum(float(b.person_s.sum()) for b in heat.flush())
    assert total == pytest.approx(held_s)
    assert closed == closed_buckets
    assert stored == pytest.approx(held_s)  # every held second is in exactly one emitted bucket


def test_counted_persons_only_and_a_grid_change() -> None:
    heat = HeatMap(site_config())
    xy = np.array([[1.5, 1.5], [2.5, 1.5]])
    heat.update(us(0), None, xy, np.zeros((2, 2)), counted=np.array([0]))
    delta, _ = heat.update(us(0.5), us(0), xy, np.zeros((2, 2)))
    assert delta.cell_index.tolist() == [1 * 30 + 1]  # only the counted person was held
    coarse = dataclasses.replace(site_config(), grid=FloorGrid(0.0, 0.0, 30.0, 10.0, 2.0))
    emitted = heat.reconfigure(coarse)
    assert [float(b.person_s.sum()) for b in emitted] == [pytest.approx(0.5)]
    delta, _ = heat.update(us(1.0), us(0.5), xy, np.zeros((2, 2)))
    assert sorted(delta.cell_index.tolist()) == [0, 1]  # both held, in the new grid's cells
