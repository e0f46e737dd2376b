"""The heat-map query: person-seconds and displacement per floor cell over a time range, overall and per time
bucket, summed from the stored hour rows (`HeatmapHour`) and per-bucket slices (`HeatmapSlice`, a minute by
default). Exact to the slice; whole hours come from the hour rows, except where a bucket boundary cuts an hour (a
half- or three-quarter-hour zone): that hour comes from its slices (docs/kpis.md, "Time buckets")."""

from __future__ import annotations

import itertools
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db.models import Q, QuerySet

from server.insights.fetch import fetch_rows
from server.insights.heat_cells import CellTable, HeatCells, rounded_cents
from server.insights.models import HeatmapHour, HeatmapSlice
from server.inventory.localtime import zone_named

HEATMAP_BUCKETS_S = {"1m": 60, "15m": 900, "1h": 3600, "1d": 86_400}
MAX_HEATMAP_FRAMES = 2000


@dataclass
class _HeatSum:
    """Dense sums over one grid: person-seconds and displacement per cell. float64, or, for a frame that is one
    hour row, a float32 view of the row (exactly its values; `_float64` before adding to it)."""

    columns: int
    rows: int
    cell_m: float
    person_s: npt.NDArray[np.float64]
    dx: npt.NDArray[np.float64]
    dy: npt.NDArray[np.float64]

    @classmethod
    def empty(cls, columns: int, rows: int, cell_m: float) -> _HeatSum:
        size = columns * rows
        return cls(columns, rows, cell_m, np.zeros(size), np.zeros(size), np.zeros(size))

    def cells(self) -> HeatCells:
        return _cells([self])[0]

    def as_float64(self) -> _HeatSum:
        """Itself with float64 sums (a one-hour frame's float32 view as the sum 0 + row would be)."""
        if self.person_s.dtype == np.float64:
            return self
        return _HeatSum(self.columns, self.rows, self.cell_m, *(_float64(getattr(self, n)) for n in _SUMS))


def _float64(values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """float64 values as a float64 sum from 0.0 holds them: exact for float32, and -0.0 as 0.0."""
    return values if values.dtype == np.float64 else np.add(values, 0.0, dtype=np.float64)


def _cells(sums: Sequence[_HeatSum]) -> list[HeatCells]:
    """For each sum (of one grid): the cells holding person-seconds, in cell order, values rounded to 0.01 as
    Python's round() does (`rounded_cents`)."""
    return _cells_and_totals(sums)[0]


# Frames summed to their totals at a time: their float64 values (1.2 MB of a 2,400-cell grid) stay in one buffer
# in cache, where 720 frames at once were 14 MB of fresh pages to fault in and fill.
_TOTAL_FRAMES = 64


def _cells_and_totals(sums: Sequence[_HeatSum]) -> tuple[list[HeatCells], list[float]]:
    """`_cells` of the sums, and each sum's person-seconds rounded to 0.01. Built from whole arrays, the sums
    stacked into one: a 30-day answer in hour frames is 720 sums and tens of thousands of cells, and one Python
    round() per value, then a few NumPy calls per sum, were most of its time. The cells are found and gathered
    in the sums' own dtype (float32 for one-hour frames: > 0 and the float64 value of a float32 are exact), only
    the values gathered turned to float64; the totals are each row's float64 sum (a row's sum of the stacked
    array is the sum of that array alone), a block of rows at a time."""
    if not sums:
        return [], []
    columns, size = sums[0].columns, sums[0].person_s.size
    person_s = np.concatenate([s.person_s for s in sums]).reshape(len(sums), size)
    flat = np.flatnonzero(person_s > 0)
    frame, index = flat // size, flat % size
    bounds = np.searchsorted(frame, np.arange(len(sums) + 1)).tolist()
    gathered = [person_s.reshape(-1)[flat]]
    for name in ("dx", "dy"):  # each sum's few cells, not all of them copied side by side first
        parts = [
            getattr(s, name)[index[low:high]] for s, low, high in zip(sums, bounds, bounds[1:], strict=False)
        ]
        gathered.append(np.concatenate(parts))
    # + 0.0 in float64: the values of float32 one-hour frames as a sum from 0.0 holds them (-0.0 as 0.0)
    values = [rounded_cents(np.add(v, 0.0, dtype=np.float64)) for v in gathered]
    table = CellTable(index % columns, index // columns, *values)
    block = np.empty((min(len(sums), _TOTAL_FRAMES), size))
    totals: list[float] = []
    for low in range(0, len(sums), _TOTAL_FRAMES):
        rows = person_s[low : low + _TOTAL_FRAMES]
        sums64 = np.add(rows, 0.0, dtype=np.float64, out=block[: len(rows)])
        totals += [round(total, 2) for total in sums64.sum(axis=1).tolist()]
    return [HeatCells(table, low, high) for low, high in itertools.pairwise(bounds)], totals


@dataclass(frozen=True)
class _HourChunk:
    """Hour rows of one grid, in time order: one row of each array per hour (float32)."""

    starts: list[datetime]
    person_s: npt.NDArray[np.float32]
    dx: npt.NDArray[np.float32]
    dy: npt.NDArray[np.float32]


@dataclass(frozen=True)
class _HeatSlice:
    """The non-zero cells of one analytics heat bucket."""

    start: datetime
    cells: npt.NDArray[np.int64]
    person_s: npt.NDArray[np.float32]
    dx: npt.NDArray[np.float32]
    dy: npt.NDArray[np.float32]


@dataclass(frozen=True)
class _Ranges:
    """Where the rows of a range are read: runs of whole hours from the hour rows, the rest from the slices, each
    list in time order."""

    hours: list[tuple[datetime, datetime]]
    slices: list[tuple[datetime, datetime]]


_HOUR = timedelta(hours=1)


def _heat_ranges(
    start: datetime, end: datetime, hours: bool, cut: frozenset[datetime] = frozenset()
) -> _Ranges:
    """The whole hours of [start, end) read from the hour rows (when `hours`), but for the `cut` ones, and the rest
    (the partial hours at the ends, the cut hours) read from slices."""
    first_hour, last_hour = _ceil_hour(start), _floor_hour(end)
    if not (hours and first_hour < last_hour):
        return _Ranges([], [(start, end)])
    runs: list[tuple[datetime, datetime]] = []
    pieces: list[tuple[datetime, datetime]] = []

    def piece(low: datetime, high: datetime) -> None:
        if pieces and pieces[-1][1] == low:
            pieces[-1] = (pieces[-1][0], high)  # one query for consecutive slice ranges
        else:
            pieces.append((low, high))

    if start < first_hour:
        piece(start, first_hour)
    low = first_hour
    for hour in sorted(moment for moment in cut if first_hour <= moment < last_hour):
        if low < hour:
            runs.append((low, hour))
        piece(hour, hour + _HOUR)
        low = hour + _HOUR
    if low < last_hour:
        runs.append((low, last_hour))
    if last_hour < end:
        piece(last_hour, end)
    return _Ranges(runs, pieces)


def _cut_hours(
    *, start: datetime, end: datetime, bucket_s: int, zone: zoneinfo.ZoneInfo
) -> frozenset[datetime]:
    """The UTC hours of [start, end) that a boundary of the `bucket_s` buckets (an hour or more, from local
    midnight) falls inside: read from their slices, each part of the hour goes to its own bucket. A zone's buckets
    are off the UTC hours on the days whose midnight is (+05:30, +05:45, Lord Howe in winter): there every hour is
    cut by the hour buckets, the midnight's hour by the day buckets."""
    cut: list[datetime] = []
    midnight = _bucket_start(start, 86_400, zone)
    while midnight < end:
        following = _bucket_start(midnight + timedelta(hours=26), 86_400, zone)  # days last 23-25 h
        if midnight != _floor_hour(midnight):
            hour = _floor_hour(midnight)
            stop = hour + _HOUR if bucket_s >= 86_400 else _floor_hour(following)
            while hour < stop:
                if start <= hour and hour + _HOUR <= end:
                    cut.append(hour)
                hour += _HOUR
        midnight = following
    return frozenset(cut)


def _runs(hours: Sequence[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted hour starts as ranges of consecutive hours."""
    runs: list[tuple[datetime, datetime]] = []
    for hour in hours:
        if runs and runs[-1][1] == hour:
            runs[-1] = (runs[-1][0], hour + _HOUR)
        else:
            runs.append((hour, hour + _HOUR))
    return runs


def _newest_shape(
    *, site_id: int, start: datetime, end: datetime, hours: bool
) -> tuple[int, int, float] | None:
    """The grid (columns, rows, cell_m) of the newest stored heat row of [start, end); None when there is none."""
    ranges = _heat_ranges(start, end, hours)
    newest: list[tuple[datetime, int, int, float]] = []
    if ranges.hours:
        row = (
            HeatmapHour.objects.filter(
                site_id=site_id, hour_start__gte=ranges.hours[0][0], hour_start__lt=ranges.hours[-1][1]
            )
            .order_by("-hour_start")
            .values_list("hour_start", "columns", "rows", "cell_m")
            .first()
        )
        if row is not None:
            newest.append(row)
    for low, high in ranges.slices:
        piece = (
            HeatmapSlice.objects.filter(site_id=site_id, start__gte=low, start__lt=high)
            .order_by("-start")
            .values_list("start", "columns", "rows", "cell_m")
            .first()
        )
        if piece is not None:
            newest.append(piece)
    if not newest:
        return None
    _, columns, rows, cell_m = max(newest, key=lambda r: r[0])
    return columns, rows, cell_m


def _hour_chunks(
    *, site_id: int, start: datetime, end: datetime, shape: tuple[int, int, float]
) -> Iterator[_HourChunk]:
    """The hour rows of grid `shape` starting in [start, end), in time order, a chunk at a time (a year of hour
    rows does not fit in memory at once)."""
    size = shape[0] * shape[1]
    rows = HeatmapHour.objects.filter(site_id=site_id, hour_start__gte=start, hour_start__lt=end).values_list(
        "hour_start", "columns", "rows", "cell_m", "person_s", "displacement_x_m", "displacement_y_m"
    )
    for page in _pages(rows, "hour_start", size):
        same = [row for row in page if (row[1], row[2], row[3]) == shape]
        del page
        if same:
            starts = [row[0] for row in same]
            arrays = [_stacked([row[field] for row in same], size) for field in (4, 5, 6)]
            del same  # the rows as read: no longer needed beside their arrays
            yield _HourChunk(starts, *arrays)


def _heat_slices(
    *, site_id: int, start: datetime, end: datetime, shape: tuple[int, int, float]
) -> Iterator[list[_HeatSlice]]:
    """The per-bucket slices of grid `shape` starting in [start, end), in time order (resolution: the analytics
    heat bucket, a minute by default), a page at a time."""
    pieces = HeatmapSlice.objects.filter(site_id=site_id, start__gte=start, start__lt=end).values_list(
        "start",
        "columns",
        "rows",
        "cell_m",
        "cell_index",
        "person_s",
        "displacement_x_m",
        "displacement_y_m",
        "id",
    )
    for page in _pages(pieces, ("start", "id"), shape[0] * shape[1], row_cells=lambda row: len(row[4]) // 4):
        same = [
            _HeatSlice(
                piece_start,
                np.frombuffer(cells, dtype="<i4").astype(np.int64),
                _floats(person_s),
                _floats(dx),
                _floats(dy),
            )
            for piece_start, columns, rows, cell_m, cells, person_s, dx, dy, _ in page
            if (columns, rows, cell_m) == shape
        ]
        if same:
            yield same


def _joined(pieces: Sequence[_HeatSlice]) -> _HeatSlice:
    """The slices one after the other as one (the first's start): adding it adds theirs in order, to the bit."""
    if len(pieces) == 1:
        return pieces[0]
    return _HeatSlice(
        pieces[0].start,
        np.concatenate([piece.cells for piece in pieces]),
        *(np.concatenate([getattr(piece, name) for piece in pieces]) for name in ("person_s", "dx", "dy")),
    )


def _stacked(values: list[bytes | memoryview], size: int) -> npt.NDArray[np.float32]:
    """Arrays of `size` float32 each, one row per array (read-only: a view of their bytes joined)."""
    if any(len(value) != 4 * size for value in values):
        raise ValueError(f"a heat-map row does not hold {size} cells")
    return np.frombuffer(b"".join(values), dtype="<f4").reshape(len(values), size)


def _floats(value: bytes | memoryview) -> npt.NDArray[np.float32]:
    return np.frombuffer(value, dtype="<f4")


# Cell values of one array read at a time: 1 MB of float32, 109 hours of a 2,400-cell grid (a 30-day range in 7
# pages); a page's rows as read, its three arrays and their float64 sums stay under 10 MB.
_HEAT_CHUNK_CELLS = 1 << 18


# Sparse slices are read in pages of up to this many times the rows of dense ones: a page still holds about
# _HEAT_CHUNK_CELLS cells when the slices are like the last page's, at most 16 times that when they are all dense.
_SPARSE_PAGE_ROWS = 16


def _pages(
    rows: QuerySet[Any, Any],
    key: str | tuple[str, str],
    cells: int,
    row_cells: Callable[[tuple[Any, ...]], int] | None = None,
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of a `values_list` heat query in `key` order (unique; its fields first and last in the rows
    when a pair), about _HEAT_CHUNK_CELLS cell values per page, each page one query after the last key seen
    (no server-side cursor held open), read in the binary protocol (`fetch_rows`). `cells`: the most cell
    values a row holds; `row_cells`, when given: those a row holds (sparse slices), to size each page on the last
    one (a minute slice holds a few cells of the grid: 30 days of them in pages sized for full rows took 400
    queries, most of a half-hour zone's hour frames)."""
    names = (key,) if isinstance(key, str) else key
    dense = max(1, _HEAT_CHUNK_CELLS // max(1, cells))
    limit = dense
    after: tuple[Any, ...] | None = None
    while True:
        page = rows.order_by(*names)
        if after is not None:
            if len(names) == 1:
                page = page.filter(**{f"{names[0]}__gt": after[0]})
            else:
                page = page.filter(
                    Q(**{f"{names[0]}__gt": after[0]})
                    | Q(**{names[0]: after[0], f"{names[1]}__gt": after[1]})
                )
        asked = limit
        fetched = [fetch_rows(page[:asked])]
        count = len(fetched[0])
        if count:
            last = fetched[0][-1]
            after = (last[0],) if len(names) == 1 else (last[0], last[-1])
            if row_cells is not None:
                held = sum(row_cells(row) for row in fetched[0]) / count
                limit = min(dense * _SPARSE_PAGE_ROWS, max(dense, int(_HEAT_CHUNK_CELLS // max(1.0, held))))
            yield fetched.pop()  # held by the caller alone: it can let the rows go once decoded
        if count < asked:
            return


def _add_slice(target: _HeatSum, piece: _HeatSlice) -> None:
    if target.person_s.dtype != np.float64:  # a one-hour frame's view of its row (`as_float64` first)
        raise TypeError(
            "a heat slice is added to float64 sums only"
        )  # np.add.at writes even a read-only view
    inside = piece.cells < target.person_s.size
    cells = piece.cells[inside]
    for name in _SUMS:
        # float32 values added to float64 sums take NumPy's slow path of np.add.at (~50x): cast first (exact)
        np.add.at(getattr(target, name), cells, getattr(piece, name)[inside].astype(np.float64))


_SUMS = ("person_s", "dx", "dy")


def _add_hours(target: _HeatSum, chunk: _HourChunk) -> None:
    """Adds the chunk's hours to `target` one after the other, as one reduction: NumPy reduces the first axis of
    a C-ordered array sequentially, so the sums are those of adding the rows one by one (to the last bit)."""
    for name in _SUMS:
        rows = getattr(chunk, name)
        setattr(target, name, np.add.reduce(np.concatenate([getattr(target, name)[None], rows]), axis=0))


def _add_hours_per_bucket(
    frames: dict[datetime, _HeatSum],
    chunk: _HourChunk,
    shape: tuple[int, int, float],
    key_of: Callable[[datetime], datetime],
) -> None:
    """Adds each of the chunk's hours to the frame of its bucket (`key_of(hour_start)`), each frame's hours one
    after the other as adding them row by row would, with few NumPy calls: the hours of a frame follow each
    other (time order), so each frame's run is one sequential reduction (`_add_hours`) when the frames are long
    (days); when they are short (hours), the k-th hour of every frame is added in the k-th step, all frames at
    once."""
    keys = [key_of(moment) for moment in chunk.starts]
    slots = {key: slot for slot, key in enumerate(dict.fromkeys(keys))}
    if len(slots) == len(keys) and frames.keys().isdisjoint(slots):
        # One hour per frame and no frame begun (hour frames): each frame is its hour row itself, a float32 view of
        # the chunk (`_HeatSum`): 720 frames of a 30-day range no longer allocate and fill 41 MB of float64 sums
        # (page faults, most of the hour frames' time) to hold the same values.
        for slot, key in enumerate(keys):
            frames[key] = _HeatSum(*shape, chunk.person_s[slot], chunk.dx[slot], chunk.dy[slot])
        return
    owner = np.array([slots[key] for key in keys])
    taken: dict[int, int] = {}
    ranks = []  # the hour's place among its frame's hours
    for slot in owner.tolist():
        ranks.append(taken.get(slot, 0))
        taken[slot] = ranks[-1] + 1
    rank = np.array(ranks)
    steps = int(rank.max()) + 1
    runs = bool(np.all(np.diff(owner) >= 0)) and 2 * len(slots) < 4 * steps
    bounds = [0, *(np.flatnonzero(np.diff(owner)) + 1).tolist(), len(keys)]
    every = np.arange(len(slots))
    size = shape[0] * shape[1]
    blocks: dict[str, npt.NDArray[np.float64]] = {}
    for name in _SUMS:
        block = np.zeros((len(slots), size))
        for key, slot in slots.items():
            if key in frames:
                block[slot] = _float64(getattr(frames[key], name))
        rows = getattr(chunk, name)
        if runs:
            for slot in range(len(slots)):
                run = rows[bounds[slot] : bounds[slot + 1]]
                block[slot] = np.add.reduce(np.concatenate([block[slot][None], run]), axis=0)
        else:
            for step in range(steps):
                at = np.flatnonzero(rank == step)
                target = owner[at]
                if at.size == len(slots) and at[-1] - at[0] == at.size - 1 and np.array_equal(target, every):
                    block += rows[at[0] : at[-1] + 1]  # one hour per frame, in order: no gathering
                else:
                    block[target] += rows[at]
        blocks[name] = block
    for key, slot in slots.items():
        frames[key] = _HeatSum(*shape, *(blocks[name][slot] for name in _SUMS))


def heatmap(
    *, site_id: int, start: datetime, end: datetime, bucket: str | None = None, tz: str = "UTC"
) -> dict[str, Any]:
    """`heatmap_cells` with the cells as lists of `HeatCell` tuples (server.insights.heat_cells)."""
    result = heatmap_cells(site_id=site_id, start=start, end=end, bucket=bucket, tz=tz)
    result["cells"] = result["cells"].tolist()
    for frame in result.get("frames", []):
        frame["cells"] = frame["cells"].tolist()
    return result


def heatmap_cells(
    *, site_id: int, start: datetime, end: datetime, bucket: str | None = None, tz: str = "UTC"
) -> dict[str, Any]:
    """Person-seconds per cell (congestion) and movement displacement per cell over exactly [start, end) (to the
    analytics heat bucket, a minute by default). With `bucket` (1m, 15m, 1h, 1d: aligned to the site's local
    time), also `frames`: the same per time bucket, non-empty buckets only. Whole hours are read from the hour
    rows (when the bucket is an hour or more) unless a bucket boundary cuts them (`_cut_hours`), the rest from the
    per-bucket slices, each in time order. The cells (`cells`, each frame's) as `HeatCells`: the API writes
    their JSON from the arrays; `heatmap` gives them as lists."""
    bucket_s = HEATMAP_BUCKETS_S[bucket] if bucket else None
    hours = bucket_s is None or bucket_s >= 3600
    # The plan's grid may have changed within the range: the newest grid wins; rows of another grid are left out.
    shape = _newest_shape(site_id=site_id, start=start, end=end, hours=hours)
    if shape is None:
        result: dict[str, Any] = {
            "cell_m": 0.5,
            "columns": 0,
            "rows": 0,
            "cells": HeatCells.empty(),
            "total_person_s": 0.0,
        }
        if bucket_s is not None:
            result.update(bucket=bucket, frames=[])
        return result
    total = _HeatSum.empty(*shape)
    frames: dict[datetime, _HeatSum] = {}
    zone = zone_named(tz)

    def key_of(moment: datetime) -> datetime:
        assert bucket_s is not None
        return _bucket_start(moment, bucket_s, zone)

    cut = frozenset[datetime]()
    if bucket_s is not None and hours:
        cut = _cut_hours(start=start, end=end, bucket_s=bucket_s, zone=zone)
    ranges = _heat_ranges(start, end, hours, cut)

    def add_hours(runs: Sequence[tuple[datetime, datetime]]) -> None:
        for low, high in runs:
            for chunk in _hour_chunks(site_id=site_id, start=low, end=high, shape=shape):
                _add_hours(total, chunk)
                if bucket_s is not None:
                    _add_hours_per_bucket(frames, chunk, shape, key_of)
                del chunk  # before the next page is read

    add_hours(ranges.hours)
    sliced: set[datetime] = set()  # the cut hours that have slices
    for low, high in ranges.slices:
        for page in _heat_slices(site_id=site_id, start=low, end=high, shape=shape):
            if cut:
                sliced.update(_floor_hour(piece.start) for piece in page)
            _add_slice(total, _joined(page))
            if bucket_s is not None:
                for key, run in itertools.groupby(page, key=lambda piece: key_of(piece.start)):
                    frame = frames.get(key)
                    frame = frames[key] = _HeatSum.empty(*shape) if frame is None else frame.as_float64()
                    _add_slice(frame, _joined(list(run)))
    # A cut hour without slices (the analytics heat bucket set to an hour, or slices lost) keeps its hour row, in
    # the bucket of its start: nothing stored is left out.
    add_hours(_runs(sorted(cut - sliced)))
    result = {
        "cell_m": shape[2],
        "columns": shape[0],
        "rows": shape[1],
        "cells": total.cells(),
        "total_person_s": round(float(total.person_s.sum()), 2),
    }
    if bucket_s is not None:
        result["bucket"] = bucket
        ordered = sorted(frames.items())
        cells, totals = _cells_and_totals([frame for _, frame in ordered])
        result["frames"] = [
            {"t": key.astimezone(zone).isoformat(), "total_person_s": total, "cells": frame_cells}
            for (key, _), total, frame_cells in zip(ordered, totals, cells, strict=True)
        ]
    return result


def _bucket_start(moment: datetime, bucket_s: int, zone: zoneinfo.ZoneInfo) -> datetime:
    """Start (in UTC) of the bucket holding `moment`, aligned to local midnight of `zone`. Counted in elapsed
    time: on the night the clocks go back, wall-clock arithmetic put the repeated hour into the first one (one
    1h frame held two hours), and local datetimes that differ only by `fold` are equal as keys."""
    local = moment.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    if bucket_s >= 86_400:
        return midnight
    seconds = (moment.astimezone(UTC) - midnight).total_seconds()
    return midnight + timedelta(seconds=seconds - seconds % bucket_s)


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + timedelta(hours=1)
