"""Heat-map cells held as arrays: their JSON text made from the arrays is, to the byte, what Python's `json` (and
DRF's renderer) writes for the same cells as lists, suppression on the arrays keeps what the list rule keeps, and
the heat-map renderer's answer is the plain renderer's."""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
import pytest
from rest_framework.renderers import JSONRenderer

from server.insights.heat_cells import CellTable, HeatCells, json_texts, rounded_cents
from server.insights.renderers import HeatmapJSONRenderer
from server.retention.suppression import suppress_cells, suppress_heatmap


def _dumps(cells: Any) -> bytes:
    return json.dumps([list(cell) for cell in cells], separators=(",", ":")).encode()


def _table(rng: np.random.Generator, count: int, largest: int = 100) -> CellTable:
    values = np.concatenate(
        [
            rng.gamma(0.3, 20.0, count // 4),
            rng.normal(0.0, 3.0, count // 4),  # negatives, and -0.0 where they round to zero
            (rng.integers(-100_000, 100_000, count // 4) + 0.5) / 100,  # half cents
            rng.gamma(0.3, 1e9, count - 3 * (count // 4)),  # up to the digit tables' last group
        ]
    )
    rng.shuffle(values)
    rounded = rounded_cents(values)
    return CellTable(
        rng.integers(0, largest, count),
        rng.integers(0, largest, count),
        np.abs(rounded),
        rounded,
        -rounded[::-1].copy(),
    )


@pytest.mark.parametrize("largest", [100, 20_000, 10**9, 10**12 - 1])  # one, two and three digit groups
def test_the_text_is_what_json_writes(largest: int) -> None:
    rng = np.random.default_rng(largest)
    table = _table(rng, 40_000, largest)
    special = [v for v in [0, 9, 10, 9999, 10_000, 10_001, 99_999_999, 100_000_000] if v < largest]
    table.column[: len(special)] = special
    table.person_s[:6] = [0.0, 0.01, 0.1, 1.0, 999_999_999_999.99, 123_456_789_012.35]
    table.dx[:4] = [-0.0, -0.01, 0.05, -1e11]
    bounds = [0, 0, 3, 5, 5, 900, 17_000, 40_000]
    many = [HeatCells(table, low, high) for low, high in itertools.pairwise(bounds)]
    assert json_texts(many) == [_dumps(cells.tolist()) for cells in many]


def test_kept_cells_and_several_tables() -> None:
    rng = np.random.default_rng(3)
    first, second = _table(rng, 5_000), _table(rng, 3_000)
    whole = HeatCells.of(first)
    kept, dropped = whole.at_least(3.0)
    expected, expected_dropped = suppress_cells(whole.tolist(), min_persons=3, min_cell_person_s=1.0)
    assert (kept.tolist(), dropped) == (expected, expected_dropped)
    assert len(kept) == len(expected)
    twice, again = kept.at_least(1.0)  # a lower threshold keeps the higher one
    assert twice == expected
    assert again == 0
    many = [
        kept,
        HeatCells(second, 10, 2_000),
        HeatCells(first, 100, 300).at_least(50.0)[0],
        HeatCells(first, 0, 0),
        HeatCells.empty(),
        HeatCells(second, 0, 3_000).at_least(1e30)[0],  # none kept
        HeatCells(first, 50, 4_000),  # overlaps the others: each its own
    ]
    assert json_texts(many) == [_dumps(cells.tolist()) for cells in many]


def test_values_json_refuses_are_refused_or_written_as_json_writes_them() -> None:
    table = CellTable(
        np.array([1, 2]),
        np.array([3, 4]),
        np.array([5.0, 6.0]),
        np.array([np.nan, 0.5]),
        np.array([1.0, np.inf]),
    )
    with pytest.raises(ValueError, match="not JSON compliant"):
        json_texts([HeatCells.of(table)])
    with pytest.raises(ValueError, match="not JSON compliant"):
        json.dumps(HeatCells.of(table).tolist(), allow_nan=False)
    assert json_texts([HeatCells.of(table)], allow_nan=True) == [
        b"[[1,3,5.0,NaN,1.0],[2,4,6.0,0.5,Infinity]]"
    ]
    huge = CellTable(np.array([10**13]), np.array([0]), np.array([1e15]), np.array([-2e12]), np.array([1e16]))
    assert json_texts([HeatCells.of(huge)]) == [_dumps(HeatCells.of(huge).tolist())]


def test_the_renderer_writes_what_drf_writes_for_lists() -> None:
    rng = np.random.default_rng(11)
    table = _table(rng, 2_000)
    frames = [HeatCells(table, low, low + 100) for low in range(0, 2_000, 100)]
    heat = {
        "cells": HeatCells.of(_table(rng, 300)),
        "total_person_s": 12.5,
        "frames": [
            {"t": f"2026-11-01T{i:02d}:00:00+00:00", "total_person_s": 1.0, "cells": cells}
            for i, cells in enumerate(frames)
        ],
        "zones": [{"zone_name": 'Caf\u00e9 \u2028 "north"', "interest": 0.25}],
    }
    answer = suppress_heatmap(
        heat, distinct_persons=9, min_persons=3, min_cell_person_s=1.0, frame_persons=[9, 1] * 10
    )
    as_lists = {
        **answer,
        "cells": answer["cells"].tolist(),
        "frames": [{**frame, "cells": list(frame["cells"])} for frame in answer["frames"]],
    }
    assert HeatmapJSONRenderer().render(answer) == JSONRenderer().render(as_lists)
    indented = "application/json; indent=4"  # the cells' text stays compact: the same JSON
    assert json.loads(HeatmapJSONRenderer().render(answer, indented)) == json.loads(
        JSONRenderer().render(as_lists)
    )
    assert HeatmapJSONRenderer().render(as_lists) == JSONRenderer().render(as_lists)
