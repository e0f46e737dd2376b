"""Association helpers: vectorised IoU cost and optimal assignment (lap.lapjv, SciPy fallback)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

try:
    import lap

    _HAVE_LAP = True
except ImportError:  # pragma: no cover - exercised only where lap is not installed
    from scipy.optimize import linear_sum_assignment

    _HAVE_LAP = False

IntArray = NDArray[np.intp]

# Scalars as 0-d float64 arrays: cheaper per call than Python floats in NumPy 2, same results.
_ZERO = np.array(0.0)
_MIN_UNION = np.array(1e-9)

# Up to this many admissible pairs, ``assign`` first tries the all-pairs-are-direct-matches shortcut (beyond,
# conflicts are likely and the check itself, in Python, grows costly).
_FEW_PAIRS = 48
# Up to this many conflicting admissible pairs are solved exhaustively in Python (at most a few dozen partial
# matchings), more by the solver.
_SMALL_CONFLICT_PAIRS = 6


def indices_of(mask: NDArray[np.bool_]) -> IntArray:
    """Indices of the true entries of a 1-D mask (np.flatnonzero without its Python-level overhead)."""
    result: IntArray = mask.nonzero()[0]
    return result


def iou_matrix(boxes_a: NDArray[np.floating], boxes_b: NDArray[np.floating]) -> NDArray[np.float64]:
    """Pairwise IoU of Nx4 and Mx4 xyxy boxes → NxM (exactly symmetric: iou(a, b) == iou(b, a).T).

    Runs every frame: whole-array operations on N x M planes, column by column (no N x M x 2 temporaries, whose
    strided slices cost 5x more at 200 people), mostly in place.
    """
    a = np.asarray(boxes_a, dtype=np.float64)
    b = np.asarray(boxes_b, dtype=np.float64)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]), dtype=np.float64)
    ax1, ay1, ax2, ay2 = a[:, 0:1], a[:, 1:2], a[:, 2:3], a[:, 3:4]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    intersection = np.minimum(ax2, bx2)
    intersection -= np.maximum(ax1, bx1)
    np.maximum(intersection, _ZERO, out=intersection)
    height = np.minimum(ay2, by2)
    height -= np.maximum(ay1, by1)
    np.maximum(height, _ZERO, out=height)
    intersection *= height
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1)
    union -= intersection
    np.maximum(union, _MIN_UNION, out=union)
    intersection /= union
    return intersection


def iou_rows(boxes_a: NDArray[np.float64], boxes_b: NDArray[np.float64]) -> NDArray[np.float64]:
    """``iou_matrix`` of boxes given as 4xN and 4xM rows (x1, y1, x2, y2; float64, contiguous rows, as the
    tracker keeps them) → NxM, the same bits. Both axes at once on 2 x N x M planes (the leading axis keeps
    each plane contiguous): fewer NumPy calls, which is what a frame of a few people costs."""
    if boxes_a.shape[1] == 0 or boxes_b.shape[1] == 0:
        return np.zeros((boxes_a.shape[1], boxes_b.shape[1]), dtype=np.float64)
    extent = np.minimum(boxes_a[2:4, :, None], boxes_b[2:4, None, :])
    extent -= np.maximum(boxes_a[0:2, :, None], boxes_b[0:2, None, :])
    np.maximum(extent, _ZERO, out=extent)
    intersection: NDArray[np.float64] = extent[0]
    intersection *= extent[1]
    size_a = boxes_a[2:4] - boxes_a[0:2]
    size_b = boxes_b[2:4] - boxes_b[0:2]
    union = (size_a[0] * size_a[1])[:, None] + size_b[0] * size_b[1]
    union -= intersection
    np.maximum(union, _MIN_UNION, out=union)
    intersection /= union
    return intersection


def _solve(cost: NDArray[np.float64], max_cost: float) -> tuple[IntArray, IntArray]:
    if _HAVE_LAP:
        _, row_to_col, _ = lap.lapjv(cost, extend_cost=True, cost_limit=max_cost)
        matched_rows = indices_of(row_to_col >= 0)
        return matched_rows.astype(np.intp), row_to_col[matched_rows].astype(np.intp)
    gated = np.where(cost <= max_cost, cost, max_cost * 2.0 + 1.0)  # pragma: no cover
    row_idx, col_idx = linear_sum_assignment(gated)  # pragma: no cover
    keep = cost[row_idx, col_idx] <= max_cost  # pragma: no cover
    return row_idx[keep].astype(np.intp), col_idx[keep].astype(np.intp)  # pragma: no cover


def linear_assignment(cost: NDArray[np.float64], max_cost: float) -> tuple[IntArray, IntArray]:
    """Minimum-cost one-to-one assignment where pairs costing more than ``max_cost`` are forbidden.

    Returns (row indices, column indices) of the matched pairs; see ``assign`` for how.
    """
    rows, cols = cost.shape
    if rows == 0 or cols == 0:
        empty = np.zeros((0,), dtype=np.intp)
        return empty, empty
    return assign(cost, max_cost, cost <= max_cost)


def _best_matching(options: list[list[tuple[int, float]]]) -> list[int]:
    """Exhaustive maximum-weight matching of a tiny component: ``options[k]`` lists row k's (column, weight)
    pairs; returns each row's column (-1: unmatched). Weights are ``max_cost - cost`` >= 0, so this is the
    gated problem's optimum (leaving a row and a column unmatched costs ``max_cost``, matching them the cost)."""
    best_weight = -1.0
    best: list[int] = []
    chosen: list[int] = []
    used: set[int] = set()

    def search(k: int, weight: float) -> None:
        nonlocal best_weight, best
        if k == len(options):
            if weight > best_weight:
                best_weight = weight
                best = chosen.copy()
            return
        for col, gain in options[k]:
            if col not in used:
                used.add(col)
                chosen.append(col)
                search(k + 1, weight + gain)
                chosen.pop()
                used.discard(col)
        chosen.append(-1)
        search(k + 1, weight)
        chosen.pop()

    search(0, 0.0)
    return best


def _assign_few(
    rows: list[int],
    cols: list[int],
    cost: NDArray[np.float64],
    max_cost: float,
    admissible: NDArray[np.bool_],
) -> tuple[IntArray, IntArray]:
    """``assign`` for a few admissible pairs with conflicts, in plain Python: a pair whose row and column have
    no other admissible partner is a direct match; the conflicting rest (a false positive beside a person, two
    people side by side: a handful of pairs) is solved exhaustively when it has up to
    ``_SMALL_CONFLICT_PAIRS`` pairs (lap.lapjv's set-up alone costs ~20 µs, more than the search), by the
    solver otherwise."""
    row_uses: dict[int, int] = {}
    col_uses: dict[int, int] = {}
    for r in rows:
        row_uses[r] = row_uses.get(r, 0) + 1
    for c in cols:
        col_uses[c] = col_uses.get(c, 0) + 1
    out_rows: list[int] = []
    out_cols: list[int] = []
    conflict: list[int] = []
    for index, (r, c) in enumerate(zip(rows, cols, strict=True)):
        if row_uses[r] == 1 and col_uses[c] == 1:
            out_rows.append(r)
            out_cols.append(c)
        else:
            conflict.append(index)
    if len(conflict) <= _SMALL_CONFLICT_PAIRS:
        costs = cost[admissible].tolist()  # in the order of admissible.nonzero(), as rows and cols
        by_row: dict[int, list[tuple[int, float]]] = {}
        for index in conflict:
            by_row.setdefault(rows[index], []).append((cols[index], max_cost - costs[index]))
        for r, c in zip(by_row, _best_matching(list(by_row.values())), strict=True):
            if c >= 0:
                out_rows.append(r)
                out_cols.append(c)
    else:
        conflict_rows = np.array(sorted({rows[i] for i in conflict}), dtype=np.intp)
        conflict_cols = np.array(sorted({cols[i] for i in conflict}), dtype=np.intp)
        sub = cost[conflict_rows[:, None], conflict_cols]
        sub = np.where(admissible[conflict_rows[:, None], conflict_cols], sub, max_cost * 2.0 + 1.0)
        sub_rows, sub_cols = _solve(sub, max_cost)
        out_rows.extend(conflict_rows[sub_rows].tolist())
        out_cols.extend(conflict_cols[sub_cols].tolist())
    return np.array(out_rows, dtype=np.intp), np.array(out_cols, dtype=np.intp)


def assign(
    cost: NDArray[np.float64], max_cost: float, admissible: NDArray[np.bool_]
) -> tuple[IntArray, IntArray]:
    """``linear_assignment`` with the gate given as a mask: ``admissible`` is ``cost <= max_cost`` with whole
    rows and/or columns set to False (tracks or detections that do not take part), or any finer mask within
    ``cost <= max_cost`` (e.g. a tighter gate for some rows). Working on the full matrix this way gives the same
    pairs as solving the sub-matrix, without building it (rows and columns with no admissible partner never
    reach the solver, which sees inadmissible pairs as forbidden).

    Returns (row indices, column indices) of the matched pairs, sorted by row for the directly matched ones.
    Rows and columns that are each other's only admissible partner are matched directly (that pair is in every
    optimal solution of the gated problem, where leaving a row or column unmatched costs ``max_cost / 2``);
    rows and columns without any admissible partner stay unmatched; only the rest — the crowded, ambiguous
    part — goes to the solver (lap.lapjv, or SciPy's linear_sum_assignment where lap is missing). With up to
    ``_FEW_PAIRS`` admissible pairs that is done in Python (``_assign_few``): a conflict among a few people (a
    false positive beside a person, two people side by side) is solved exhaustively, not by the solver.
    """
    pair_rows, pair_cols = admissible.nonzero()
    pairs = pair_rows.size
    if pairs <= 1:
        return pair_rows, pair_cols
    if pairs <= _FEW_PAIRS:
        rows = pair_rows.tolist()
        cols = pair_cols.tolist()
        if len(set(rows)) == pairs and len(set(cols)) == pairs:
            # The common case with few people: every row and column has at most one admissible partner, so
            # all the pairs are direct matches. Checked with two small Python sets: cheaper than the NumPy
            # reductions below, whose per-call overhead dominates at this size.
            return pair_rows, pair_cols
        return _assign_few(rows, cols, cost, max_cost, admissible)
    row_count = admissible.sum(axis=1)
    col_count = admissible.sum(axis=0)
    obvious = admissible & (row_count == 1)[:, None] & (col_count == 1)[None, :]
    obvious_rows, obvious_cols = obvious.nonzero()
    rest_rows = indices_of(row_count > obvious.any(axis=1))
    if rest_rows.size == 0:
        return obvious_rows, obvious_cols
    rest_cols = indices_of(col_count > obvious.any(axis=0))
    sub = cost[rest_rows][:, rest_cols]
    sub_admissible = admissible[rest_rows][:, rest_cols]
    if (
        not sub_admissible.all()
    ):  # a mask finer than whole rows / columns (per-row gates): the solver sees costs
        sub = np.where(sub_admissible, sub, max_cost * 2.0 + 1.0)
    sub_rows, sub_cols = _solve(sub, max_cost)
    return (
        np.concatenate((obvious_rows, rest_rows[sub_rows])).astype(np.intp),
        np.concatenate((obvious_cols, rest_cols[sub_cols])).astype(np.intp),
    )
