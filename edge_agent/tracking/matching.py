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
    part — goes to the solver (lap.lapjv, or SciPy's linear_sum_assignment where lap is missing).
    """
    pair_rows, pair_cols = admissible.nonzero()
    pairs = pair_rows.size
    if pairs <= 1:
        return pair_rows, pair_cols
    if (
        pairs <= _FEW_PAIRS
        and len(set(pair_rows.tolist())) == pairs
        and len(set(pair_cols.tolist())) == pairs
    ):
        # The common case with few people: every row and column has at most one admissible partner, so all
        # the pairs are direct matches. Checked with two small Python sets: cheaper than the NumPy
        # reductions below, whose per-call overhead dominates at this size.
        return pair_rows, pair_cols
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
