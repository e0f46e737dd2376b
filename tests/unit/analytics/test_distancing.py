"""Distancing alone (D = 2 m, T = 5 s, gap 1 s): contacts, violations and the close-pair search."""

from __future__ import annotations

import numpy as np
import pytest

from server.analytics.distancing import KD_TREE_MIN_PERSONS, Distancing, pairs_within
from server.analytics.types import DistancingViolation
from tests.unit.analytics.helpers import site_config, us


def _run(distances: list[float | None], step_s: float = 0.5) -> tuple[list[int], list[int], list[int]]:
    """Persons 1 and 2 `distance` apart every step (None: person 2 missing, and so gone)."""
    distancing = Distancing(site_config())
    started: list[DistancingViolation] = []
    updated: list[DistancingViolation] = []
    ended: list[DistancingViolation] = []
    for k, distance in enumerate(distances):
        if distance is None:
            distancing.forget(np.array([2], dtype=np.int64), ended)
            xy, gids = np.array([[0.0, 0.0]]), np.array([1], dtype=np.int64)
        else:
            xy, gids = np.array([[0.0, 0.0], [distance, 0.0]]), np.array([1, 2], dtype=np.int64)
        distancing.update(us(k * step_s), xy, gids, started, updated, ended)
    return (
        [v.start_us for v in started],
        [v.last_close_us for v in ended],
        list(distancing.contacts_per_person()),
    )


@pytest.mark.parametrize(
    ("distances", "started", "ended", "partners"),
    [
        ([1.0] * 10, [], [], []),  # 4.5 s: not yet a violation
        ([1.0] * 11, [us(0)], [], [1, 2]),  # 5 s close: a violation
        (
            [1.0] * 11 + [3.0] * 4,
            [us(0)],
            [us(5.0)],
            [1, 2],
        ),  # ends after the 1 s gap, at the last close frame
        ([1.0] * 6 + [3.0] + [1.0] * 5, [us(0)], [], [1, 2]),  # a 0.5 s gap does not split it
        ([1.0] * 6 + [3.0] * 3 + [1.0] * 11, [us(4.5)], [], [1, 2]),  # a 1.5 s gap does
        ([1.0] * 11 + [None], [us(0)], [us(5.0)], [1]),  # a person leaves: it ends at once
        ([2.0] * 12, [], [], []),  # exactly D is not close
    ],
)
def test_distancing_table(
    distances: list[float | None], started: list[int], ended: list[int], partners: list[int]
) -> None:
    assert _run(distances) == (started, ended, partners)


@pytest.mark.parametrize("persons", [2, 30, KD_TREE_MIN_PERSONS - 1, KD_TREE_MIN_PERSONS, 200, 1000])
def test_close_pairs_are_the_same_with_the_matrix_and_the_kd_tree(persons: int) -> None:
    rng = np.random.default_rng(persons)
    xy = rng.uniform(0.0, np.sqrt(persons * 10.0), size=(persons, 2))
    first, second = pairs_within(xy, 2.0)
    found = set(zip(first.tolist(), second.tolist(), strict=True))
    distance = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    i, j = np.nonzero(np.triu(distance < 2.0, k=1))
    assert found == set(zip(i.tolist(), j.tolist(), strict=True))
