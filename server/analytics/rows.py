"""PersonRows: one row per person present, shared by the analytics components that keep per-person state.

A person gets a row at the first frame they appear in and keeps it until the first frame they are missing from
(they *vanished*: the fusion ended them). Rows are reused; the table grows by doubling. Each component that
keeps per-person arrays registers itself (:class:`RowColumns`): it grows its arrays with the table and resets a
row when a new person takes it, so that the components' arrays stay aligned row by row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from server.analytics.geometry import BoolArray, IntArray
from server.analytics.types import PersonIdentity

_INITIAL_CAPACITY = 64


class RowColumns(Protocol):
    """Per-person arrays of a component, indexed by the rows of a :class:`PersonRows`."""

    def grow(self, capacity: int) -> None:
        """Grow every per-row array to ``capacity`` rows (new rows hold the reset value)."""

    def reset_row(self, row: int) -> None:
        """A new person takes ``row``: forget what the previous one left there."""


class PersonRows:
    """Global id -> row of the persons present; their first frame time (``first_us``)."""

    def __init__(self, capacity: int = _INITIAL_CAPACITY) -> None:
        self.capacity = capacity
        self.row_of: dict[int, int] = {}
        self.active: BoolArray = np.zeros(capacity, dtype=np.bool_)
        self.gid: IntArray = np.zeros(capacity, dtype=np.int64)
        self.stamp: IntArray = np.zeros(capacity, dtype=np.int64)
        self.first_us: IntArray = np.zeros(capacity, dtype=np.int64)
        # Staff: bound to an employee at some frame of their track so far (sticky: a visitor KPI that left them
        # out once does not take them back when a binding is lost), until their bindings are revoked.
        self.staff: BoolArray = np.zeros(capacity, dtype=np.bool_)
        self._columns: list[RowColumns] = []
        self._frame = 0
        # The persons of the last `rows_for` and their rows, while no row was taken or freed since: a frame of
        # the same persons in the same order (the usual one) reuses them.
        self._last_gids: list[int] | None = None
        self._last_rows: IntArray = np.zeros(0, dtype=np.int64)

    def attach(self, columns: RowColumns) -> None:
        """Keep `columns` aligned with the rows from now on (grown to the current capacity at once)."""
        columns.grow(self.capacity)
        self._columns.append(columns)

    def begin_frame(self) -> None:
        """A new frame: every person not found in it (:meth:`rows_for`) is vanished."""
        self._frame += 1

    def rows_for(self, gid_list: list[int], t_us: int) -> tuple[IntArray, BoolArray]:
        """Row of each person of the frame, and which of them are new in it (their rows are set up now). The
        rows are read-only (they may be the previous frame's array)."""
        if gid_list == self._last_gids:
            self.stamp[self._last_rows] = self._frame
            return self._last_rows, np.zeros(len(gid_list), dtype=np.bool_)
        row_of = self.row_of
        found = [row_of.get(gid, -1) for gid in gid_list]
        fresh = np.zeros(len(gid_list), dtype=np.bool_)
        if -1 in found:
            for i, gid in enumerate(gid_list):
                if found[i] < 0:
                    found[i] = self._new_row(gid, t_us)
                    fresh[i] = True
        rows = np.array(found, dtype=np.int64)
        self.stamp[rows] = self._frame
        self._last_gids, self._last_rows = list(gid_list), rows
        return rows, fresh

    def mark_staff(
        self, rows: IntArray, gid_list: list[int], identities: Mapping[int, PersonIdentity]
    ) -> tuple[BoolArray, BoolArray]:
        """Take in who is bound to an employee now, and whose bindings were revoked; the staff mask of `rows`
        (sticky, see ``staff``) and which of them stopped being staff now (a revoked binding)."""
        unmarked: BoolArray = np.zeros(len(gid_list), dtype=np.bool_)
        if identities:
            bound = []
            for i, gid in enumerate(gid_list):
                who = identities.get(gid)
                if who is None:
                    continue
                if who.employee_id is not None:
                    bound.append(i)
                elif who.revoked and self.staff[rows[i]]:
                    unmarked[i] = True
            if bound:
                self.staff[rows[bound]] = True
            if unmarked.any():
                self.staff[rows[unmarked]] = False
        result: BoolArray = self.staff[rows]
        return result, unmarked

    def vanished(self) -> IntArray:
        """Rows of the persons present before and missing from the current frame (still active)."""
        result: IntArray = np.flatnonzero(self.active & (self.stamp != self._frame))
        return result

    def release(self, rows: IntArray) -> None:
        """The persons of `rows` are gone: free their rows."""
        if rows.size:
            self._last_gids = None
        for row in rows.tolist():
            self.active[row] = False
            del self.row_of[int(self.gid[row])]

    def active_rows(self) -> IntArray:
        result: IntArray = np.flatnonzero(self.active)
        return result

    def _new_row(self, gid: int, t_us: int) -> int:
        free = np.flatnonzero(~self.active)
        if free.size == 0:
            self._grow()
            free = np.flatnonzero(~self.active)
        row = int(free[0])
        self.active[row] = True
        self.gid[row] = gid
        self.first_us[row] = t_us
        self.staff[row] = False
        self.row_of[gid] = row
        for columns in self._columns:
            columns.reset_row(row)
        return row

    def _grow(self) -> None:
        capacity = self.capacity * 2
        self.active = grown(self.active, capacity, False)
        self.gid = grown(self.gid, capacity, 0)
        self.stamp = grown(self.stamp, capacity, 0)
        self.first_us = grown(self.first_us, capacity, 0)
        self.staff = grown(self.staff, capacity, False)
        self.capacity = capacity
        for columns in self._columns:
            columns.grow(capacity)


def grown(array: Any, capacity: int, fill: object) -> Any:
    """`array` with rows appended up to `capacity`, holding `fill` (other axes kept)."""
    extra = capacity - array.shape[0]
    if extra <= 0:
        return array
    return np.concatenate([array, np.full((extra, *array.shape[1:]), fill, dtype=array.dtype)])
