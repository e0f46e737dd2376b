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


def indices_of(mask: NDArray[np.bool_]) -> IntArray:
    """Indices of the true entries of a 1-D mask (np.flatnonzero without its Python-level overhead)."""
    result: IntArray = mask.nonzero()[0]
    return result


def iou_matrix(boxes_a: NDArray[np.floating], boxes_b: NDArray[np.floating]) -> NDArray[np.float64]:
    """Pairwise IoU of Nx4 and Mx4 xyxy boxes → NxM.

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
    np.maximum(intersection, 0.0, out=intersection)
    height = np.minimum(ay2, by2)
    height -= np.maximum(ay1, by1)
    np.maximum(height, 0.0, out=height)
    intersection *= height
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1)
    union -= intersection
    np.maximum(union, 1e-9, out=union)
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

    Returns (row indices, column indices) of the matched pairs. Rows and columns that are each other's only
    admissible partner are matched directly (that pair is in every optimal solution of the gated problem,
    where leaving a row or column unmatched costs ``max_cost / 2``); only the rest — the crowded, ambiguous
    part — goes to the solver (lap.lapjv, or SciPy's linear_sum_assignment where lap is missing).
    """
    rows, cols = cost.shape
    if rows == 0 or cols == 0:
        empty = np.zeros((0,), dtype=np.intp)
        return empty, empty
    admissible = cost <= max_cost
    row_count = admissible.sum(axis=1)
    col_count = admissible.sum(axis=0)
    obvious = admissible & (row_count == 1)[:, None] & (col_count == 1)[None, :]
    obvious_rows, obvious_cols = np.nonzero(obvious)
    rest_rows = indices_of(row_count > obvious.any(axis=1))
    if rest_rows.size == 0:
        return obvious_rows.astype(np.intp), obvious_cols.astype(np.intp)
    rest_cols = indices_of(col_count > obvious.any(axis=0))
    sub_rows, sub_cols = _solve(cost[rest_rows][:, rest_cols], max_cost)
    return (
        np.concatenate((obvious_rows, rest_rows[sub_rows])).astype(np.intp),
        np.concatenate((obvious_cols, rest_cols[sub_cols])).astype(np.intp),
    )
