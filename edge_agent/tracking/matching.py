"""Association helpers: vectorised IoU cost and optimal assignment (lap.lapjv, SciPy fallback)."""

from __future__ import annotations

from collections import Counter

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

# A component of conflicting pairs with more partial matchings than this (the product over its rows of their
# pairs + 1) goes to the solver (``_component_matching``): the search's work grows with it.
_MAX_SEARCH_LEAVES = 96
# ``_clear_best``'s margin: far above the rounding of sums of gains (< 1e-12), far below any difference of IoU
# between different boxes that matters.
_CLEAR_MARGIN = 1e-9
_UNMATCHED_COST = 2.0  # above every cost (costs are 1 - IoU <= 1, or 1 - IoU x score)
# More admissible pairs than this in one assignment (a crowd) go to the solver in one call, as the old matrix path
# did.
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


def _pair_indices(rows: int, cols: int) -> tuple[IntArray, IntArray]:
    """Row and column of each cell of a rows x cols matrix, row-major (cached: a camera sees few shapes)."""
    key = (rows, cols)
    pair = _PAIR_INDICES.get(key)
    if pair is None:
        if len(_PAIR_INDICES) >= _PAIR_INDEX_CACHE:
            _PAIR_INDICES.clear()
        cells = np.arange(rows * cols, dtype=np.intp)
        pair = _PAIR_INDICES[key] = (cells // cols, cells % cols)
    return pair


_PAIR_INDICES: dict[tuple[int, int], tuple[IntArray, IntArray]] = {}
_PAIR_INDEX_CACHE = 4096
# Above this many track x detection cells, iou_rows broadcasts instead of gathering.
_GATHERED_IOU_CELLS = 1024


def iou_rows(boxes_a: NDArray[np.float64], boxes_b: NDArray[np.float64]) -> NDArray[np.float64]:
    """``iou_matrix`` of boxes given as 4xN and 4xM rows (x1, y1, x2, y2; float64, contiguous rows, as the
    tracker keeps them) → NxM, the same bits. Every pair at once as a row of 4 x (N*M) copies of both boxes:
    at a few boxes, where the cost is the number of NumPy calls, two gathers and then operations on arrays
    of one shape cost less than broadcasting N x 1 against 1 x M (several times dearer a call)."""
    count_a = boxes_a.shape[1]
    count_b = boxes_b.shape[1]
    if count_a == 0 or count_b == 0:
        return np.zeros((count_a, count_b), dtype=np.float64)
    if count_a * count_b > _GATHERED_IOU_CELLS:
        # Many boxes: the broadcasting calls' set-up no longer matters, the gathers' copies would.
        extent = np.minimum(boxes_a[2:4, :, None], boxes_b[2:4, None, :])
        extent -= np.maximum(boxes_a[0:2, :, None], boxes_b[0:2, None, :])
        np.maximum(extent, _ZERO, out=extent)
        product: NDArray[np.float64] = extent[0]
        product *= extent[1]
        sizes_a = boxes_a[2:4] - boxes_a[0:2]
        sizes_b = boxes_b[2:4] - boxes_b[0:2]
        unions = (sizes_a[0] * sizes_a[1])[:, None] + sizes_b[0] * sizes_b[1]
        unions -= product
        np.maximum(unions, _MIN_UNION, out=unions)
        product /= unions
        return product
    index_a, index_b = _pair_indices(count_a, count_b)
    a = boxes_a.take(index_a, axis=1)
    b = boxes_b.take(index_b, axis=1)
    # Each corner's rows as one view, made once and used twice (a view costs a third of an operation or more).
    low_a, high_a, low_b, high_b = a[0:2], a[2:4], b[0:2], b[2:4]
    extent = np.minimum(high_a, high_b)
    extent -= np.maximum(low_a, low_b)
    np.maximum(extent, _ZERO, out=extent)
    intersection: NDArray[np.float64] = extent[0]
    intersection *= extent[1]
    # Areas of the gathered copies: the same products as of the boxes themselves, two calls fewer than
    # gathering the boxes' areas.
    size_a = high_a - low_a
    size_b = high_b - low_b
    union = size_a[0] * size_a[1]
    union += size_b[0] * size_b[1]
    union -= intersection
    np.maximum(union, _MIN_UNION, out=union)
    intersection /= union
    return intersection.reshape(count_a, count_b)


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
    """Maximum-weight matching of a small component: ``options[k]`` lists row k's (column, weight) pairs;
    returns each row's column (-1: unmatched). Weights are ``max_cost - cost`` >= 0, so this is the gated
    problem's optimum (leaving a row and a column unmatched costs ``max_cost``, matching them the cost).

    The answer of an exhaustive search over the rows in order (each row's columns in order, then none) that
    keeps the first leaf of the greatest weight, found row by row instead of leaf by leaf: of the partial
    matchings of the rows so far that use the same columns, only the heaviest can lead to the best leaf (the
    rows after add the same to each), the first in the search's order where two weigh the same. Weights are
    summed in the search's order.
    """
    bits: dict[int, int] = {}
    for row_options in options:
        for col, _ in row_options:
            if col not in bits:
                bits[col] = 1 << len(bits)
    # Used columns -> (weight, choices): a choice is an option's index, len(options) for none (the search's
    # order is the choices' lexicographic order).
    states: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
    for row_options in options:
        none = len(row_options)
        grown: dict[int, tuple[float, tuple[int, ...]]] = {}
        for used, (weight, path) in states.items():
            for choice, (col, gain) in enumerate(row_options):
                bit = bits[col]
                if not used & bit:
                    _keep_best(grown, used | bit, weight + gain, (*path, choice))
            _keep_best(grown, used, weight, (*path, none))
        states = grown
    best_weight = -1.0
    best_path: tuple[int, ...] = ()
    for weight, path in states.values():
        if weight > best_weight or (weight == best_weight and path < best_path):
            best_weight, best_path = weight, path
    return [
        row_options[choice][0] if choice < len(row_options) else -1
        for row_options, choice in zip(options, best_path, strict=True)
    ]


def _keep_best(
    states: dict[int, tuple[float, tuple[int, ...]]], used: int, weight: float, path: tuple[int, ...]
) -> None:
    current = states.get(used)
    if current is None or weight > current[0] or (weight == current[0] and path < current[1]):
        states[used] = (weight, path)


def _components(rows: list[int], cols: list[int]) -> list[list[int]]:
    """The connected components of the pairs (row-major lists; pairs sharing a row or a column, transitively,
    are connected), each as its pairs' indices in ascending (row-major) order. One pass over the rows: a row's
    pairs join the components their columns are in already, merging them."""
    pairs = len(rows)
    members: dict[int, list[int]] = {}  # component -> its pairs
    component_of: dict[int, int] = {}  # column -> component
    start = 0
    while start < pairs:
        row = rows[start]
        end = start + 1
        while end < pairs and rows[end] == row:
            end += 1
        touched = {component_of[c] for c in cols[start:end] if c in component_of}
        if not touched:
            label = start
            members[label] = list(range(start, end))
        else:
            label = min(touched)
            into = members[label]
            for other in touched:
                if other != label:
                    moved = members.pop(other)
                    into.extend(moved)
                    for index in moved:
                        component_of[cols[index]] = label
            into.extend(range(start, end))
        for c in cols[start:end]:
            component_of[c] = label
        start = end
    components = list(members.values())
    for component in components:
        component.sort()
    return components


def _component_matching(rows: list[int], cols: list[int], gains: list[float]) -> list[int] | None:
    """The exhaustive search's answer for one connected component of pairs (row-major order; ``gains`` are
    ``max_cost - cost``), as the indices of the chosen pairs; None when the search would be too big (the
    solver's job). A component of one row (a track with a person and a false positive beside them in its gate)
    or of one column (two tracks on one detection) is read off directly: the search's first leaf of the
    greatest weight, with its "nothing matched" leaf last."""
    count = len(rows)
    if rows[0] == rows[-1] or cols.count(cols[0]) == count:
        best, best_weight = -1, -1.0
        for index in range(count):
            if gains[index] > best_weight:
                best, best_weight = index, gains[index]
        return [] if best_weight < 0.0 else [best]
    by_row: dict[int, list[tuple[int, float]]] = {}
    for index in range(count):
        by_row.setdefault(rows[index], []).append((cols[index], gains[index]))
    leaves = 1
    for options in by_row.values():
        leaves *= len(options) + 1
    if leaves > _MAX_SEARCH_LEAVES:
        return None
    chosen = _best_matching(list(by_row.values()))
    first = 0
    picked: list[int] = []
    for options, c in zip(by_row.values(), chosen, strict=True):
        if c >= 0:
            picked.append(first + [option[0] for option in options].index(c))
        first += len(options)
    return picked


def assign_pairs(
    rows: list[int], cols: list[int], costs: list[float], max_cost: float
) -> tuple[list[int], list[int]]:
    """Minimum-cost one-to-one assignment over the admissible pairs only, given as lists in row-major order
    (``rows[k], cols[k]`` costs ``costs[k] <= max_cost``; any pair not listed is forbidden): the tracker's form,
    which gathers the few pairs inside any gate once per frame. Returns (rows, columns) of the matched pairs.

    The gated problem's optimum (leaving a row or a column unmatched costs ``max_cost / 2``, so matching a pair
    gains ``max_cost - cost``), found piecewise: the pairs fall apart into connected components (people far
    apart do not compete), each solved on its own — the same optimum as the whole. A lone pair is a match (it is
    in every optimum); a conflict (a false positive beside a person, two people side by side) is searched
    exhaustively in Python (a few dozen partial matchings at most: lap.lapjv's set-up alone costs ~20 µs, more
    than the search), a big one solved by the solver (lap.lapjv, or SciPy's linear_sum_assignment where lap is
    missing). Before any of that, a few pairs whose optimum is plain (``_clear_best``: each column's, or each
    row's, clearly cheapest pair, all in distinct rows / columns; 90 % of the frames with a conflict on
    ``tracker_eval``'s broad-scores family) are matched directly, in row-major order.
    """
    pairs = len(rows)
    if pairs <= 1 or (len(set(rows)) == pairs and len(set(cols)) == pairs):
        # The common case with few people: every row and column has at most one admissible partner, so all the
        # pairs are direct matches.
        return rows, cols
    if pairs > _FEW_PAIRS:
        # A crowd: pairs that are each other's only partner matched directly, the rest in one call of the
        # solver (per-component work in Python would grow with the crowd).
        row_uses = Counter(rows)
        col_uses = Counter(cols)
        direct_rows: list[int] = []
        direct_cols: list[int] = []
        rest: list[int] = []
        for index in range(pairs):
            if row_uses[rows[index]] == 1 and col_uses[cols[index]] == 1:
                direct_rows.append(rows[index])
                direct_cols.append(cols[index])
            else:
                rest.append(index)
        if rest:
            solved_rows, solved_cols = _solve_pairs(
                [rows[i] for i in rest], [cols[i] for i in rest], [costs[i] for i in rest], max_cost
            )
            direct_rows += solved_rows
            direct_cols += solved_cols
        return direct_rows, direct_cols
    clear = _clear_best(rows, cols, costs, max_cost)
    if clear is not None:
        return clear
    return _assign_components(rows, cols, costs, max_cost)


def _clear_best(
    rows: list[int], cols: list[int], costs: list[float], max_cost: float
) -> tuple[list[int], list[int]] | None:
    """The matching of a few pairs read off without searching, when one of two bounds is reached by a clear
    margin: every column's cheapest pair, when these are in distinct rows (two tracks on one detection), or
    else every row's cheapest pair, when these are in distinct columns (a track with a false positive beside the
    person); None when neither holds (the components are searched then, ``_assign_components``).

    A matching gains ``max_cost - cost`` a pair, so none can gain more than the sum of every column's (or every
    row's) best gain; the pairs above reach that sum. With each of them cheaper than the other pairs of its
    column (row) and than ``max_cost`` by more than ``_CLEAR_MARGIN``, every other matching gains less by more
    than that margin, far more than the rounding of any sum of gains here (< 1e-12 for 48 pairs), so it is the
    unique optimum: the search and the solver find exactly these pairs. Returned in row-major order (the
    component by component order of ``_assign_components`` may list the same pairs in another order)."""
    limit = max_cost - _CLEAR_MARGIN
    best: dict[int, int] = {}  # column -> index of its cheapest pair
    clear = True
    for index, col in enumerate(cols):
        other = best.get(col)
        if other is None:
            best[col] = index
            continue
        cost = costs[index]
        other_cost = costs[other]
        if cost < other_cost:
            best[col] = index
            clear = clear and other_cost - cost > _CLEAR_MARGIN
        else:
            clear = clear and cost - other_cost > _CLEAR_MARGIN
    out_rows: list[int] = []
    out_cols: list[int] = []
    if clear:
        for index in sorted(best.values()):
            row = rows[index]
            if row in out_rows or costs[index] >= limit:
                break
            out_rows.append(row)
            out_cols.append(cols[index])
        else:
            return out_rows, out_cols
        out_rows = []
        out_cols = []
    pairs = len(rows)
    taken: set[int] = set()
    start = 0
    while start < pairs:
        row = rows[start]
        cheapest = costs[start]
        col = cols[start]
        second = _UNMATCHED_COST
        end = start + 1
        while end < pairs and rows[end] == row:
            cost = costs[end]
            if cost < cheapest:
                second = cheapest
                cheapest = cost
                col = cols[end]
            elif cost < second:
                second = cost
            end += 1
        if second - cheapest <= _CLEAR_MARGIN or cheapest >= limit or col in taken:
            return None
        taken.add(col)
        out_rows.append(row)
        out_cols.append(col)
        start = end
    return out_rows, out_cols


def _assign_components(
    rows: list[int], cols: list[int], costs: list[float], max_cost: float
) -> tuple[list[int], list[int]]:
    """``assign_pairs``' general path for a few pairs: the connected components of the pairs, each solved on its
    own (in the order of their first pairs)."""
    out_rows: list[int] = []
    out_cols: list[int] = []
    for members in _components(rows, cols):
        if len(members) == 1:
            index = members[0]
            out_rows.append(rows[index])
            out_cols.append(cols[index])
            continue
        sub_rows = [rows[i] for i in members]
        sub_cols = [cols[i] for i in members]
        picked = _component_matching(sub_rows, sub_cols, [max_cost - costs[i] for i in members])
        if picked is None:
            matched_rows, matched_cols = _solve_pairs(
                sub_rows, sub_cols, [costs[i] for i in members], max_cost
            )
            out_rows.extend(matched_rows)
            out_cols.extend(matched_cols)
        else:
            out_rows.extend(sub_rows[k] for k in picked)
            out_cols.extend(sub_cols[k] for k in picked)
    return out_rows, out_cols


def _solve_pairs(
    rows: list[int], cols: list[int], costs: list[float], max_cost: float
) -> tuple[list[int], list[int]]:
    """The solver on the sub-matrix of the pairs' rows and columns (other entries forbidden)."""
    row_ids = sorted(set(rows))
    col_ids = sorted(set(cols))
    row_at = {r: k for k, r in enumerate(row_ids)}
    col_at = {c: k for k, c in enumerate(col_ids)}
    sub = np.full((len(row_ids), len(col_ids)), max_cost * 2.0 + 1.0)
    for r, c, cost in zip(rows, cols, costs, strict=True):
        sub[row_at[r], col_at[c]] = cost
    sub_rows, sub_cols = _solve(sub, max_cost)
    return [row_ids[k] for k in sub_rows.tolist()], [col_ids[k] for k in sub_cols.tolist()]


def assign(
    cost: NDArray[np.float64], max_cost: float, admissible: NDArray[np.bool_]
) -> tuple[IntArray, IntArray]:
    """``linear_assignment`` with the gate given as a mask: ``admissible`` is ``cost <= max_cost`` with whole
    rows and/or columns set to False (tracks or detections that do not take part), or any finer mask within
    ``cost <= max_cost`` (e.g. a tighter gate for some rows): the same pairs as solving the sub-matrix, without
    building it. Returns (row indices, column indices) of the matched pairs (``assign_pairs``)."""
    pair_rows, pair_cols = admissible.nonzero()
    if pair_rows.size <= 1:
        return pair_rows, pair_cols
    rows, cols = assign_pairs(pair_rows.tolist(), pair_cols.tolist(), cost[admissible].tolist(), max_cost)
    return np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)
