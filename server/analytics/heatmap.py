"""HeatMap: person-seconds and movement per floor-grid cell, in time buckets (sample-and-hold).

At update k, each person of frame k-1 contributes ``h = min(t_k - t_{k-1}, heat_max_hold_s)`` person-seconds to
the grid cell of their position at t_{k-1}, and ``velocity * h`` to that cell's displacement (movement direction)
sum. Persons outside the grid add to ``outside_person_s``. Contributions go to the bucket (``heat_bucket_s``)
containing t_{k-1}; a bucket is emitted (closed) at the first update at or after its end, whether or not anyone
is present, or on :meth:`HeatMap.flush`. :meth:`HeatMap.checkpoint` emits the part of the open bucket accumulated
so far (the bucket stays open; its later parts follow): a bucket may thus be emitted in parts with the same
start, which consumers add up. A grid change emits the open bucket (cells of the old grid) and starts on the new
grid.
"""

from __future__ import annotations

import numpy as np

from server.analytics.geometry import FloatArray, IntArray
from server.analytics.types import AnalyticsConfig, HeatDelta, HeatmapBucket

_EMPTY_INT: IntArray = np.zeros(0, dtype=np.int64)


class HeatMap:
    """The open heat-map bucket and the previous frame's cells and velocities."""

    def __init__(self, config: AnalyticsConfig) -> None:
        self.configure(config)
        self._prev_cells: IntArray = _EMPTY_INT
        self._prev_in_grid = True  # every one of `_prev_cells` is a cell of the grid (none -1)
        self._prev_velocity: FloatArray = np.zeros((0, 2))
        self._prev_xy: FloatArray = np.zeros((0, 2))
        self._bucket_start_us: int | None = None
        self._bucket_person_s: FloatArray = np.zeros(self._grid.cells)
        self._bucket_disp_x: FloatArray = np.zeros(self._grid.cells)
        self._bucket_disp_y: FloatArray = np.zeros(self._grid.cells)

    def configure(self, config: AnalyticsConfig) -> None:
        self._grid = config.grid
        self._bucket_s = config.heat_bucket_s
        self._bucket_us = config.heat_bucket_s * 1_000_000
        self._max_hold_s = config.heat_max_hold_s

    def update(
        self,
        t_us: int,
        previous_us: int | None,
        floor_xy_m: FloatArray,
        velocities_mps: FloatArray,
        counted: slice | IntArray = slice(None),
    ) -> tuple[HeatDelta, list[HeatmapBucket]]:
        """Add the hold of the previous frame's persons; remember this frame's (``counted``: those of them the
        heat map counts, all by default)."""
        buckets: list[HeatmapBucket] = []
        cells = self._prev_cells
        if previous_us is None or cells.size == 0 or t_us <= previous_us:
            delta = HeatDelta(_EMPTY_INT, np.zeros(0), np.zeros((0, 2)), 0.0)
        else:
            hold_s = min((t_us - previous_us) * 1e-6, self._max_hold_s)
            bucket_start = previous_us - previous_us % self._bucket_us
            if self._bucket_start_us is not None and bucket_start != self._bucket_start_us:
                closed = self._close_bucket()
                if closed is not None:
                    buckets.append(closed)
            self._bucket_start_us = bucket_start
            person_s = np.full(cells.shape[0], hold_s)
            displacement = self._prev_velocity * hold_s
            if self._prev_in_grid:  # the usual frame: everyone on the floor grid
                grid_cells, grid_person_s, grid_displacement = cells, person_s, displacement
            else:
                in_grid = cells >= 0
                grid_cells, grid_person_s, grid_displacement = (
                    cells[in_grid],
                    person_s[in_grid],
                    displacement[in_grid],
                )
            np.add.at(self._bucket_person_s, grid_cells, hold_s)
            np.add.at(self._bucket_disp_x, grid_cells, grid_displacement[:, 0])
            np.add.at(self._bucket_disp_y, grid_cells, grid_displacement[:, 1])
            outside_s = hold_s * float(cells.shape[0] - grid_cells.shape[0])
            delta = HeatDelta(grid_cells, grid_person_s, grid_displacement, outside_s)
        # Every later contribution lands in the bucket of t or later: the open bucket is complete once t passed
        # its end, also when nobody is present (an empty store adds nothing, and used to keep it open).
        if self._bucket_start_us is not None and t_us >= self._bucket_start_us + self._bucket_us:
            closed = self._close_bucket()
            if closed is not None:
                buckets.append(closed)
        self._prev_xy = floor_xy_m[counted]
        self._prev_cells = self._grid.cell_index(self._prev_xy)
        self._prev_in_grid = bool(self._prev_cells.size == 0 or self._prev_cells.min() >= 0)
        self._prev_velocity = velocities_mps[counted]
        return delta, buckets

    def checkpoint(self) -> list[HeatmapBucket]:
        """The part of the open bucket accumulated since it was last emitted (empty when none); it stays open."""
        part = self._close_bucket(keep_open=True)
        return [] if part is None else [part]

    def flush(self) -> list[HeatmapBucket]:
        """End of stream: emit the open bucket; nobody is held any more."""
        buckets = [bucket for bucket in [self._close_bucket()] if bucket is not None]
        self._prev_cells = _EMPTY_INT
        self._prev_velocity = np.zeros((0, 2))
        self._prev_xy = np.zeros((0, 2))
        return buckets

    def reconfigure(self, config: AnalyticsConfig) -> list[HeatmapBucket]:
        """Take a changed grid: the open bucket is emitted and accumulation restarts on the new grid (the
        previous frame's persons are held in the new grid's cells)."""
        buckets: list[HeatmapBucket] = []
        if config.grid != self._grid:
            closed = self._close_bucket()
            if closed is not None:
                buckets.append(closed)
            self._bucket_person_s = np.zeros(config.grid.cells)
            self._bucket_disp_x = np.zeros(config.grid.cells)
            self._bucket_disp_y = np.zeros(config.grid.cells)
            self._prev_cells = config.grid.cell_index(self._prev_xy) if self._prev_cells.size else _EMPTY_INT
            self._prev_in_grid = bool(self._prev_cells.size == 0 or self._prev_cells.min() >= 0)
        self.configure(config)
        return buckets

    def _close_bucket(self, *, keep_open: bool = False) -> HeatmapBucket | None:
        if self._bucket_start_us is None:
            return None
        nonzero = np.flatnonzero(self._bucket_person_s)
        start_us = self._bucket_start_us
        if not keep_open:
            self._bucket_start_us = None
        if nonzero.size == 0:  # nothing to record
            return None
        bucket = HeatmapBucket(
            bucket_start_us=start_us,
            bucket_s=self._bucket_s,
            cell_index=nonzero.astype(np.int64),
            person_s=self._bucket_person_s[nonzero].copy(),
            displacement_m=np.stack([self._bucket_disp_x[nonzero], self._bucket_disp_y[nonzero]], axis=1),
        )
        self._bucket_person_s[nonzero] = 0.0
        self._bucket_disp_x[nonzero] = 0.0
        self._bucket_disp_y[nonzero] = 0.0
        return bucket
