"""A heat map's cells held as NumPy arrays, and their JSON text made from the arrays.

A 30-day answer in hour frames holds tens of thousands of cells: one Python tuple per cell, then the JSON
encoder's walk over them, were most of its time (117 ms building the tuples and 109 ms encoding them of a 370 ms
answer, k = 1, on the 2-core VM). Here the cells stay arrays until their text is written, the values already
rounded to 0.01, and the small-count suppression keeps or drops them on the arrays (`at_least`). The text is
what Python's `json` writes for the same cells as lists (`float.__repr__` of each value, the shortest that reads
back to it, -0.0 as -0.0): the answer does not change by a byte.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

HeatCell = tuple[int, int, float, float, float]
"""A heat-map cell of an answer: column, row, person-seconds, displacement x and y (m). A tuple, not a list:
tuples of numbers leave the garbage collector's watch at its first pass, so the tens of thousands of cells of
a bucketed answer do not set off full collections of the whole process (100-250 ms each under load)."""


def rounded_cents(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """`round(v, 2)` of each value, exactly, computed on the array. NumPy rounds `v * 100` to an integer and
    divides by 100, which is Python's answer unless `v * 100` lies within its own rounding error of a half (the
    product's rounding can cross the half; Python decides on the exact decimal value): those few are rounded
    by Python."""
    scaled = values * 100.0
    rounded = np.rint(scaled) / 100.0
    for i in np.flatnonzero(np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6).tolist():
        rounded[i] = round(float(values[i]), 2)
    return rounded


@dataclass(frozen=True, eq=False)
class CellTable:
    """The cells of one or more heat maps one after the other (the frames of an answer in time order): column
    and row (int64), person-seconds and displacement x / y (m), float64, each already rounded to 0.01."""

    column: npt.NDArray[np.int64]
    row: npt.NDArray[np.int64]
    person_s: npt.NDArray[np.float64]
    dx: npt.NDArray[np.float64]
    dy: npt.NDArray[np.float64]
    _kept: dict[float, npt.NDArray[np.int64]] = field(default_factory=dict, init=False, repr=False)

    def arrays(self) -> tuple[npt.NDArray[Any], ...]:
        return self.column, self.row, self.person_s, self.dx, self.dy

    def kept_before(self, person_s: float) -> npt.NDArray[np.int64]:
        """For each cell i (and the end): how many cells before it hold at least `person_s` (made once per
        threshold, for all the heat maps of the table)."""
        kept = self._kept.get(person_s)
        if kept is None:
            kept = self._kept[person_s] = np.concatenate([[0], np.cumsum(self.person_s >= person_s)])
        return kept


@dataclass(frozen=True, eq=False)
class HeatCells:
    """The cells of one heat map, in cell order: those of `table` in [low, high), and of them only those holding
    at least `at_least_person_s` where that is set. A sequence of `HeatCell` tuples (equal to the list of them);
    its JSON text from `json_texts`. Keeping cells by person-seconds (`at_least`) is a count from the table's,
    not a copy: 720 frames are suppressed without a NumPy call each."""

    table: CellTable
    low: int
    high: int
    at_least_person_s: float | None = None

    @classmethod
    def of(cls, table: CellTable) -> HeatCells:
        return cls(table, 0, len(table.column))

    @classmethod
    def empty(cls) -> HeatCells:
        integers, floats = np.zeros(0, dtype=np.int64), np.zeros(0)
        return cls.of(CellTable(integers, integers, floats, floats, floats))

    def __len__(self) -> int:
        if self.at_least_person_s is None:
            return self.high - self.low
        kept = self.table.kept_before(self.at_least_person_s)
        return int(kept[self.high] - kept[self.low])

    def __iter__(self) -> Iterator[HeatCell]:
        return iter(self.tolist())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HeatCells | list | tuple):
            return self.tolist() == [tuple(cell) for cell in other]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to lists: not a key

    def indices(self) -> npt.NDArray[np.int64]:
        """Its cells' places in the table."""
        places = np.arange(self.low, self.high)
        if self.at_least_person_s is None:
            return places
        return places[self.table.person_s[self.low : self.high] >= self.at_least_person_s]

    def tolist(self) -> list[HeatCell]:
        places = self.indices()
        return list(zip(*(values[places].tolist() for values in self.table.arrays()), strict=True))

    def at_least(self, person_s: float) -> tuple[HeatCells, int]:
        """The cells holding at least `person_s` person-seconds, and how many others there were."""
        threshold = person_s if self.at_least_person_s is None else max(person_s, self.at_least_person_s)
        kept = HeatCells(self.table, self.low, self.high, threshold)
        return kept, len(self) - len(kept)


def json_texts(many: Sequence[HeatCells], *, allow_nan: bool = False) -> list[bytes]:
    """Each one's cells as the JSON text `json.dumps([list(cell) for cell in cells], separators=(",", ":"))` writes,
    all made at once from the arrays, without a Python object per value (`_cell_texts`: 175,000 values of a
    30-day answer in hour frames took 50-70 ms through `repr` and `str`, one by one, on the 2-core VM). A value
    that is not finite raises ValueError as `json` does, unless `allow_nan`; a value too large for the digit
    tables (`_DIGITS_BELOW`) is written by Python."""
    texts: list[bytes] = [b"[]"] * len(many)
    by_table: dict[int, list[int]] = {}
    for place, cells in enumerate(many):
        by_table.setdefault(id(cells.table), []).append(place)
    for places in by_table.values():
        table = many[places[0]].table
        # every one's [low, high) places in the table one after the other, then those it keeps
        lows = np.array([many[p].low for p in places], dtype=np.int64)
        spans = np.array([many[p].high - many[p].low for p in places], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(spans)])
        index = np.arange(starts[-1]) + np.repeat(lows - starts[:-1], spans)
        least = [many[p].at_least_person_s for p in places]
        if any(threshold is not None for threshold in least):
            floors = np.array([-np.inf if t is None else t for t in least])
            keep = table.person_s[index] >= np.repeat(floors, spans)
            counted = np.concatenate([[0], np.cumsum(keep)])
            index = index[keep]
            starts = counted[starts]
        arrays = [values[index] for values in table.arrays()]
        for p, text in zip(places, _texts(arrays, starts.tolist(), allow_nan=allow_nan), strict=True):
            texts[p] = text
    return texts


def _texts(arrays: Sequence[npt.NDArray[Any]], starts: list[int], *, allow_nan: bool) -> list[bytes]:
    """The JSON texts of the cells (as `arrays`) [starts[i], starts[i + 1]) for each i."""
    floats, integers = arrays[2:], arrays[:2]
    exact = all(np.all(np.isfinite(values)) for values in floats)
    if not exact and not allow_nan:
        raise ValueError("Out of range float values are not JSON compliant")
    if (
        not exact
        or any(np.any(np.abs(v) >= _DIGITS_BELOW) for v in floats)
        or any(np.any((v < 0) | (v >= _DIGITS_BELOW)) for v in integers)
    ):  # as Python writes them (NaN, Infinity where allowed)
        cells = list(zip(*(values.tolist() for values in arrays), strict=True))
        return [
            json.dumps(cells[low:high], separators=(",", ":")).encode()
            for low, high in itertools.pairwise(starts)
        ]
    text, ends = _cell_texts(arrays)
    # each cell's text ends in a comma: the last one of each drops it
    return [
        b"[" + text[ends[low] : ends[high] - 1] + b"]" if high > low else b"[]"
        for low, high in itertools.pairwise(starts)
    ]


_DIGITS_BELOW = 10**12
"""Integers and floats written from the digit tables: below 10^12 (three groups of four digits). A float of
cents below it is exactly `float.__repr__`'s shortest text: no decimal with fewer digits lies within half its
spacing (under 0.0002), and Python writes it without an exponent (from 1e-4 to 1e16)."""

_GROUP = np.array([str(i).encode() for i in range(10_000)], dtype="S4")
_GROUP_LENGTH = np.array([len(str(i)) for i in range(10_000)])
_PADDED = np.array([f"{i:04d}".encode() for i in range(10_000)], dtype="S4")
_CENTS = np.array([(f".{i:02d}".rstrip("0") if i else ".0").encode() for i in range(100)], dtype="S3")
_CENTS_LENGTH = np.array([len(text) for text in _CENTS.tolist()])


def _digits(values: npt.NDArray[np.int64]) -> list[tuple[npt.NDArray[np.bytes_], npt.NDArray[np.int64]]]:
    """Decimal digits of integers in [0, 10^12), as up to three groups of four (the leading ones empty, the
    others zero-padded) with their lengths; only as many groups as the largest value needs."""
    low = values % 10**4
    largest = int(values.max(initial=0))
    if largest < 10**4:
        return [(_GROUP[low], _GROUP_LENGTH[low])]
    empty = np.bytes_(b"")
    has_middle = values >= 10**4
    last = (np.where(has_middle, _PADDED[low], _GROUP[low]), np.where(has_middle, 4, _GROUP_LENGTH[low]))
    if largest < 10**8:
        middle = values // 10**4
        return [
            (np.where(has_middle, _GROUP[middle], empty), np.where(has_middle, _GROUP_LENGTH[middle], 0)),
            last,
        ]
    high, middle = values // 10**8, values // 10**4 % 10**4
    has_high = high > 0
    return [
        (np.where(has_high, _GROUP[high], empty), np.where(has_high, _GROUP_LENGTH[high], 0)),
        (
            np.where(has_high, _PADDED[middle], np.where(has_middle, _GROUP[middle], empty)),
            np.where(has_high, 4, np.where(has_middle, _GROUP_LENGTH[middle], 0)),
        ),
        last,
    ]


def _cents(values: npt.NDArray[np.float64]) -> list[tuple[npt.NDArray[np.bytes_], npt.NDArray[np.int64]]]:
    """`float.__repr__` of values rounded to 0.01 (finite, below 10^12), as pieces with their lengths: the sign
    (-0.0 too), the whole part, the cents without trailing zeros (at least one digit)."""
    cents = np.rint(np.abs(values) * 100.0).astype(np.int64)
    negative = np.signbit(values)
    sign = (np.where(negative, np.bytes_(b"-"), np.bytes_(b"")), negative.astype(np.int64))
    return [sign, *_digits(cents // 100), (_CENTS[cents % 100], _CENTS_LENGTH[cents % 100])]


def _cell_texts(arrays: Sequence[npt.NDArray[Any]]) -> tuple[bytes, list[int]]:
    """The cells' texts one after the other, each `[column,row,person_s,dx,dy],`, and where each ends (from
    0): the pieces of all cells in the columns of one byte array, its padding (NUL bytes, which no piece holds)
    taken out at once."""
    count = len(arrays[0])
    pieces: list[tuple[npt.NDArray[np.bytes_] | bytes, npt.NDArray[np.int64] | int]] = [(b"[", 1)]
    for i, values in enumerate(arrays):
        if i:
            pieces.append((b",", 1))
        pieces += _digits(values) if i < 2 else _cents(values)
    pieces.append((b"],", 2))
    table = np.zeros((count, len(pieces)), dtype="S4")
    lengths = np.zeros(count, dtype=np.int64)
    for column, (piece, length) in enumerate(pieces):
        table[:, column] = piece
        lengths += length
    ends = [0, *np.cumsum(lengths).tolist()]
    return table.tobytes().translate(None, b"\x00"), ends
