"""Small-count suppression of heat maps (pure Python): no cell is shown where a single person could be singled
out.

The heat map stores person-seconds per floor cell, not who stood there, so the rule is stated on what is known:

1. **Range rule.** When fewer than `min_persons` (k, default 3) distinct visitors were on the site in the range,
   every cell is suppressed: the map would show the paths of one or two people.
2. **Cell rule.** Otherwise a cell is shown only when it holds at least ``k × min_cell_person_s`` person-seconds
   (default 3 × 1 s): fewer cannot come from k people who each stood there for a second. (The rule is a lower
   bound: one person standing long in a cell of a busy range passes it; the range rule covers a quiet range.)

Suppressed cells are left out of `cells` (as if empty) and counted in ``privacy.suppressed_cells``; totals are
kept (site-wide sums single nobody out) except under the range rule, where they are zeroed too. Frames (per time
bucket) follow both rules each: the range rule with the visitors of the frame's own bucket (a quiet night minute
of a busy day shows nothing), then the cell rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, overload


def keep_cell(person_s: float, *, min_persons: int, min_cell_person_s: float) -> bool:
    return person_s >= min_persons * min_cell_person_s


Cell = TypeVar("Cell", bound=Sequence[float | int])


class ArrayCells(Protocol):
    """Cells held as arrays (server.insights.heat_cells.HeatCells), which keep or drop themselves by person-seconds
    on the arrays, not one by one."""

    def at_least(self, person_s: float) -> tuple[ArrayCells, int]: ...


@overload
def suppress_cells(
    cells: Sequence[Cell], *, min_persons: int, min_cell_person_s: float
) -> tuple[list[Cell], int]: ...


@overload
def suppress_cells(
    cells: ArrayCells, *, min_persons: int, min_cell_person_s: float
) -> tuple[ArrayCells, int]: ...


def suppress_cells(
    cells: Sequence[Cell] | ArrayCells, *, min_persons: int, min_cell_person_s: float
) -> tuple[list[Cell] | ArrayCells, int]:
    """Cells as `[column, row, person_s, …]` (or `ArrayCells`): (the cells kept, the same objects; how many were
    suppressed)."""
    threshold = min_persons * min_cell_person_s  # keep_cell, inlined: a 720-frame answer has ~10^6 cells
    if not isinstance(cells, Sequence):
        return cells.at_least(threshold)
    kept = [cell for cell in cells if cell[2] >= threshold]
    return kept, len(cells) - len(kept)


def suppress_heatmap(
    heatmap: dict[str, Any],
    *,
    distinct_persons: int,
    min_persons: int,
    min_cell_person_s: float,
    frame_persons: Sequence[int] | None = None,
) -> dict[str, Any]:
    """The heat-map answer (`cells`, `total_person_s`, optional `frames`; cells as lists or arrays) with
    small counts suppressed and a `privacy` object saying what was done. `frame_persons`: the visitors of each
    frame's bucket, in the frames' order (None: the range's count for every frame). `min_persons` ≤ 1 turns
    suppression off."""
    result = dict(heatmap)
    if min_persons <= 1:
        result["privacy"] = {"min_persons": min_persons, "suppressed_cells": 0, "range_suppressed": False}
        return result
    range_suppressed = distinct_persons < min_persons
    suppressed = 0
    if range_suppressed:
        suppressed = len(heatmap.get("cells", []))
        result["cells"] = []
        result["total_person_s"] = 0.0
    else:
        result["cells"], suppressed = suppress_cells(
            heatmap.get("cells", []), min_persons=min_persons, min_cell_person_s=min_cell_person_s
        )
    if "frames" in heatmap:
        frames = []
        counts = (
            list(frame_persons) if frame_persons is not None else [distinct_persons] * len(heatmap["frames"])
        )
        if len(counts) != len(heatmap["frames"]):
            raise ValueError(f"{len(counts)} frame visitor counts for {len(heatmap['frames'])} frames")
        for frame, visitors in zip(heatmap["frames"], counts, strict=True):
            if range_suppressed or visitors < min_persons:
                frames.append({**frame, "cells": [], "total_person_s": 0.0, "suppressed": True})
                continue
            cells, _ = suppress_cells(
                frame.get("cells", []), min_persons=min_persons, min_cell_person_s=min_cell_person_s
            )
            frames.append({**frame, "cells": cells})
        result["frames"] = frames
    result["privacy"] = {
        "min_persons": min_persons,
        "min_cell_person_s": min_cell_person_s,
        "distinct_persons": distinct_persons,
        "suppressed_cells": suppressed,
        "range_suppressed": range_suppressed,
    }
    return result
