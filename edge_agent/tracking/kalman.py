"""Batched constant-velocity Kalman filter over (cx, cy, aspect, height) boxes with ByteTrack's noise model.

State per track: position p = [cx, cy, a, h] and velocity v = [vcx, vcy, va, vh]. ByteTrack's filter uses
F = [[I, I], [0, I]], H = [I, 0] and diagonal Q, R and initial P, so its 8x8 covariance never couples
different coordinates: it is exactly four independent 2x2 blocks [[pp_i, pv_i], [pv_i, vv_i]], one per
coordinate i. This module keeps those blocks as three 4xN arrays (``pp``, ``pv``, ``vv``), which turns
predict and update into a handful of element-wise NumPy operations over all tracks at once — the same
numbers as the 8x8 matrix form (checked by a unit test against the textbook matrix equations).

Layout is quantity-major: a filter state block is 20xN (one column per track), boxes are 4xN. Every
quantity is then a contiguous row and every 4-row group a contiguous 4xN block: with a few tracks, where
the cost of an operation is NumPy's per-call overhead, operations on contiguous blocks take about half
the time of the same ones on strided column slices of an Nx20 array.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

POSITION_NOISE_WEIGHT = 1.0 / 20.0
VELOCITY_NOISE_WEIGHT = 1.0 / 160.0

# Scalars as 0-d arrays: NumPy 2 takes ~0.2 µs longer per call to resolve a Python float operand, which
# matters at a few tracks; the values (float64) and so the results are the same.
_HALF = np.array(0.5)
_TWO = np.array(2.0)
_ONE = np.array(1.0)
_MIN_HEIGHT = np.array(1e-6)

# Per-coordinate noise (one row per coordinate): std = weight * height for cx, cy, h; a fixed std for a.
_HEIGHT_SCALED = np.array([1.0, 1.0, 0.0, 1.0])[:, None]
_ASPECT_ONLY = np.array([0.0, 0.0, 1.0, 0.0])[:, None]
_PROCESS_POSITION_VAR = (POSITION_NOISE_WEIGHT**2) * _HEIGHT_SCALED
_PROCESS_POSITION_FIXED = (1e-2**2) * _ASPECT_ONLY
_PROCESS_VELOCITY_VAR = (VELOCITY_NOISE_WEIGHT**2) * _HEIGHT_SCALED
_PROCESS_VELOCITY_FIXED = (1e-5**2) * _ASPECT_ONLY
_MEASUREMENT_VAR = (POSITION_NOISE_WEIGHT**2) * _HEIGHT_SCALED
_MEASUREMENT_FIXED = (1e-1**2) * _ASPECT_ONLY
_INITIAL_POSITION_VAR = ((2.0 * POSITION_NOISE_WEIGHT) ** 2) * _HEIGHT_SCALED
_INITIAL_POSITION_FIXED = (1e-2**2) * _ASPECT_ONLY
_INITIAL_VELOCITY_VAR = ((10.0 * VELOCITY_NOISE_WEIGHT) ** 2) * _HEIGHT_SCALED
_INITIAL_VELOCITY_FIXED = (1e-5**2) * _ASPECT_ONLY

_NO_TERM = np.zeros((4, 1))
# initiate's rows 4-19 (velocity, pp, pv, vv): height² * _INITIAL_VAR_16 + _INITIAL_FIXED_16.
_INITIAL_VAR_16 = np.concatenate((_NO_TERM, _INITIAL_POSITION_VAR, _NO_TERM, _INITIAL_VELOCITY_VAR))
_INITIAL_FIXED_16 = np.concatenate((_NO_TERM, _INITIAL_POSITION_FIXED, _NO_TERM, _INITIAL_VELOCITY_FIXED))

# Row layout of a filter state block (20xN): position, velocity, pp, pv, vv (4 rows each).
POSITION = slice(0, 4)
VELOCITY = slice(4, 8)
PP = slice(8, 12)
PV = slice(12, 16)
VV = slice(16, 20)
STATE_COLUMNS = 20  # rows of a state block (the name predates the quantity-major layout)

# Predict's process noise over the contiguous covariance rows [pp | pv | vv] (12xN) in one operation:
# height² * var (zero for pv). Every coordinate has either a height-scaled or a fixed term, never both, so
# ByteTrack's term-by-term sum is exactly this (adding an exact 0.0 changes no bit) with the aspect rows
# replaced by their fixed term.
_PROCESS_VAR_12 = np.concatenate((_PROCESS_POSITION_VAR, np.zeros((4, 1)), _PROCESS_VELOCITY_VAR))
# The aspect ratio (row 2 of a 4-row group) has only a fixed noise term, added as a 12x1 column (zero in the other
# rows): 0 * height² + fixed is exactly fixed, and x + 0.0 is exactly x.
_ASPECT = 2
_PROCESS_FIXED_12 = np.concatenate((_PROCESS_POSITION_FIXED, np.zeros((4, 1)), _PROCESS_VELOCITY_FIXED))
_MEASUREMENT_HEIGHT_VAR = np.array(float(_MEASUREMENT_VAR[0, 0]))  # of cx, cy, h alike
_MEASUREMENT_ASPECT = np.array(float(_MEASUREMENT_FIXED[_ASPECT, 0]))
# Rows of a 4-row group twice over (update's stacked copies): a take costs half a concatenate at a few tracks.
_TWICE = np.array([0, 1, 2, 3, 0, 1, 2, 3], dtype=np.intp)
# The height row (3) of a block, 4 or 12 times (initiate's 16: ``INITIATE_ROWS``): predict's, update's and
# initiate's per-row noise terms are worked out on a gathered copy of the height, one row per noise row, against
# the constants repeated for every column (``_per_column``), so that every operation is between arrays of one
# shape. Broadcasting a 12x1 column over 12xN costs a call three to four times as much at a few tracks (~0.9 vs
# ~0.25 us); the products and sums are the very same, element by element.
_HEIGHT_4 = np.full(4, 3, dtype=np.intp)
_HEIGHT_12 = np.full(12, 3, dtype=np.intp)
_PER_COLUMN: dict[int, tuple[FloatArray, FloatArray, FloatArray, FloatArray]] = {}
_PER_COLUMN_CACHE = 1024  # track counts a camera sees: a few dozen


def _per_column(count: int) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """predict's 12-row and initiate's 16-row noise constants, each column repeated ``count`` times (C order)."""
    constants = _PER_COLUMN.get(count)
    if constants is None:
        if len(_PER_COLUMN) >= _PER_COLUMN_CACHE:
            _PER_COLUMN.clear()
        constants = _PER_COLUMN[count] = (
            np.repeat(_PROCESS_VAR_12, count, axis=1),
            np.repeat(_PROCESS_FIXED_12, count, axis=1),
            np.repeat(_INITIAL_VAR_16, count, axis=1),
            np.repeat(_INITIAL_FIXED_16, count, axis=1),
        )
    return constants


def xyxy_to_xyah(xyxy: NDArray[np.floating], out: FloatArray | None = None) -> FloatArray:
    """4xN xyxy boxes → 4xN (center x, center y, aspect w/h, height), written into ``out`` when given."""
    boxes = np.asarray(xyxy, dtype=np.float64)
    if out is None:
        out = np.empty(boxes.shape, dtype=np.float64)
    # Views made once, some used twice: at a few boxes a view costs a third of an operation or more.
    low = boxes[0:2]
    centre = out[0:2]
    size = out[2:4]
    np.subtract(boxes[2:4], low, out=size)  # width, height
    np.multiply(size, _HALF, out=centre)
    centre += low  # the centre: x1 + width / 2
    width = size[0]  # becomes the aspect
    np.divide(width, np.maximum(size[1], _MIN_HEIGHT), out=width)
    return out


def xyah_to_xyxy(xyah: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """4xN xyxy boxes of the first four rows of ``xyah`` (written into ``out`` when given, e.g. rows of a
    bigger matrix: the tracker keeps every track's box next to its filter state; not overlapping ``xyah``'s
    first four rows). The half-sizes are worked out in the lower corner's rows, then moved onto the centre."""
    if out is None:
        out = np.empty((4, xyah.shape[1]), dtype=np.float64)
    half = out[2:4]
    half_height = half[1]  # views made once, used twice (as in xyxy_to_xyah)
    centre = xyah[0:2]
    np.multiply(xyah[3], _HALF, out=half_height)
    np.multiply(xyah[2], half_height, out=half[0])
    np.subtract(centre, half, out=out[0:2])
    half += centre  # centre + half-size (the same sum as centre + half)
    return out


def initiate(measurements_xyah: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """Filter state blocks (20xN) for new tracks (4xN measurements): zero velocity, ByteTrack's initial
    uncertainty. Written into ``out`` when given (e.g. the new columns of the tracker's table)."""
    n = measurements_xyah.shape[1]
    if out is None:
        out = np.empty((STATE_COLUMNS, n), dtype=np.float64)
    np.asarray(measurements_xyah, dtype=np.float64).take(INITIATE_ROWS, axis=0, out=out[:STATE_COLUMNS])
    initiate_gathered(out)
    return out


# Rows of 4xN measurements that, gathered, make a filter state block's rows for ``initiate_gathered``: the
# measurement, then its height once per row of velocity and covariance (a caller gathering more rows at once, as
# the tracker does for its new tracks, saves the copies).
INITIATE_ROWS = np.array([0, 1, 2, 3] + [3] * 16, dtype=np.intp)


def initiate_gathered(block: FloatArray) -> None:
    """``initiate`` on a block whose first 20 rows are the measurements gathered by ``INITIATE_ROWS``, in
    place: rows 4-19 (velocity 0, pp, pv 0, vv) become height² * var + fixed (zero for the zero rows), the same
    products and sums as ByteTrack's term by term (0 * height² + 0 is exactly 0)."""
    _, _, variance, fixed = _per_column(block.shape[1])
    rest = block[VELOCITY.start : VV.stop]
    rest *= rest
    rest *= variance
    rest += fixed


def predict(block: FloatArray) -> None:
    """One time step for every column, in place: p ← p + v; P ← F P Fᵀ + Q (per-coordinate 2x2 form).

    pp ← pp + (2 pv + vv + q_p), pv ← pv + vv, vv ← vv + q_v, written as one addition over the contiguous
    [pp | pv | vv] rows: this runs every frame on every track, where the cost is the number of NumPy calls,
    not their size. Same operations in the same order as the term-by-term form, so the same bits.
    """
    variance, fixed, _, _ = _per_column(block.shape[1])
    increment = block.take(_HEIGHT_12, axis=0)  # noise from the height before the step, as ByteTrack
    increment *= increment
    increment *= variance
    increment += fixed  # the aspect rows' fixed terms (their height-scaled ones are exact zeros)
    vv = block[VV]
    spread = block[PV] * _TWO
    spread += vv
    # In place on named views (here and in update): ``block[rows] += x`` would also assign the result back onto
    # the rows it is already in, a copy costing a third of an operation or more at a few tracks.
    pp_increment = increment[0:4]
    pp_increment += spread  # pp: (2 pv + vv) + q_p
    increment[4:8] = vv  # pv: + vv
    covariance = block[PP.start : VV.stop]
    covariance += increment
    position = block[POSITION]
    position += block[VELOCITY]


def update(block: FloatArray, measurements_xyah: FloatArray, in_place: bool = False) -> FloatArray:
    """Correct each column with one measurement (4xN); returns the updated block (a copy unless
    ``in_place``).

    Position and velocity get the same treatment from their Kalman gains (so do pp and pv). Each 4-row group
    is its own operation, on arrays of one shape: with a few tracks, an operation that broadcasts a 4xN array
    over a 2x4xN one costs as much as three that do not.
    """
    out = block if in_place else block.copy()  # copy() is C-ordered, as the views below need
    pp = out[PP]
    pv = out[PV]
    # pp + height² * var, worked out on the height gathered once per row (no 4xN-over-N broadcast: see
    # _HEIGHT_12); the same sum as pp + (height * height) * var, added the other way round.
    innovation_var = out.take(_HEIGHT_4, axis=0)
    innovation_var *= innovation_var
    innovation_var *= _MEASUREMENT_HEIGHT_VAR
    innovation_var += pp
    np.add(pp[_ASPECT], _MEASUREMENT_ASPECT, out=innovation_var[_ASPECT])  # fixed noise only
    # [gain of the position, gain of the velocity] over the 8 contiguous rows [pp | pv]: the innovation's
    # variance stacked twice (a copy, as every stacked copy here), so that one division gives both.
    gain = out[PP.start : PV.stop] / innovation_var.take(_TWICE, axis=0)
    innovation = measurements_xyah - out[POSITION]
    vv = out[VV]
    vv -= gain[4:8] * pv  # with pv before its own correction
    state = out[POSITION.start : VELOCITY.stop]  # [p | v]
    state += gain * innovation.take(_TWICE, axis=0)
    keep = _ONE - gain[0:4]
    pp *= keep
    pv *= keep
    return out


def full_covariance(block: FloatArray) -> FloatArray:
    """The equivalent Nx8x8 covariance matrices (for checks and debugging)."""
    n = block.shape[1]
    cov = np.zeros((n, 8, 8), dtype=np.float64)
    i = np.arange(4)
    cov[:, i, i] = block[PP].T
    cov[:, i, i + 4] = block[PV].T
    cov[:, i + 4, i] = block[PV].T
    cov[:, i + 4, i + 4] = block[VV].T
    return cov
