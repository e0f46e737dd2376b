"""PersonRows: rows given, kept, freed and reused; registered columns grow and reset with them."""

from __future__ import annotations

import numpy as np
import pytest

from server.analytics.rows import PersonRows


class _Column:
    def __init__(self) -> None:
        self.values = np.zeros(0, dtype=np.int64)
        self.resets: list[int] = []

    def grow(self, capacity: int) -> None:
        self.values = np.concatenate([self.values, np.full(capacity - self.values.size, -1, dtype=np.int64)])

    def reset_row(self, row: int) -> None:
        self.resets.append(row)
        self.values[row] = 0


@pytest.mark.parametrize(
    ("frames", "vanished_last", "fresh_last"),
    [
        ([[1, 2], [1, 2]], [], [False, False]),
        ([[1, 2], [2]], [1], [False]),
        ([[1], [2]], [1], [True]),
        ([[], [5, 6, 7]], [], [True, True, True]),
        ([[1, 2, 3], [3, 1]], [2], [False, False]),
    ],
)
def test_rows_table(frames: list[list[int]], vanished_last: list[int], fresh_last: list[bool]) -> None:
    rows = PersonRows(capacity=2)
    column = _Column()
    rows.attach(column)
    fresh = np.zeros(0, dtype=np.bool_)
    vanished: list[int] = []
    for gids in frames:
        rows.begin_frame()
        _, fresh = rows.rows_for(gids, 0)
        gone = rows.vanished()
        vanished = sorted(rows.gid[gone].tolist())
        rows.release(gone)
    assert vanished == vanished_last
    assert fresh.tolist() == fresh_last
    assert column.values.size == rows.capacity  # grown with the table
    assert sorted(rows.row_of) == sorted(frames[-1])


def test_a_freed_row_is_reused_and_reset() -> None:
    rows = PersonRows(capacity=1)
    column = _Column()
    rows.attach(column)
    rows.begin_frame()
    (first,), _ = rows.rows_for([1], 10)
    column.values[first] = 42
    rows.begin_frame()
    rows.release(rows.vanished())
    (second,), fresh = rows.rows_for([2], 20)
    assert (first, fresh.tolist(), int(column.values[second]), int(rows.first_us[second])) == (
        second,
        [True],
        0,
        20,
    )


def test_rows_of_a_repeated_frame_follow_the_persons() -> None:
    """A frame of the same persons as the previous one reuses its rows; once a row is freed (and retaken by
    someone else) the rows are looked up again: each person's row is always the table's row of them."""
    table = PersonRows(capacity=2)
    frames = [[1, 2, 3], [1, 2, 3], [1, 3], [1, 3], [1, 3, 4], [1, 3, 4], [4, 3, 1], [4, 3, 1], [], [1, 3, 4]]
    for t, gids in enumerate(frames):
        table.begin_frame()
        found, fresh = table.rows_for(gids, t)
        vanished = table.vanished()
        assert found.tolist() == [table.row_of[gid] for gid in gids]
        assert fresh.tolist() == [t == 0 or gid not in frames[t - 1] for gid in gids]
        assert sorted(table.gid[vanished].tolist()) == sorted(set(frames[t - 1] if t else []) - set(gids))
        table.release(vanished)
