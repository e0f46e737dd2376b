"""Batched constant-velocity Kalman filter over (cx, cy, aspect, height) boxes with ByteTrack's noise model.

State per track: position p = [cx, cy, a, h] and velocity v = [vcx, vcy, va, vh]. ByteTrack's filter uses
F = [[I, I], [0, I]], H = [I, 0] and diagonal Q, R and initial P, so its 8x8 covariance never couples
different coordinates: it is exactly four independent 2x2 blocks [[pp_i, pv_i], [pv_i, vv_i]], one per
coordinate i. This module keeps those blocks as three Nx4 arrays (``pp``, ``pv``, ``vv``), which turns
predict and update into a handful of element-wise NumPy operations over all tracks at once — the same
numbers as the 8x8 matrix form (checked by a unit test against the textbook matrix equations).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

POSITION_NOISE_WEIGHT = 1.0 / 20.0
VELOCITY_NOISE_WEIGHT = 1.0 / 160.0

# Per-coordinate noise: std = weight * height for cx, cy, h; a fixed std for the aspect ratio a.
_HEIGHT_SCALED = np.array([1.0, 1.0, 0.0, 1.0])
_ASPECT_ONLY = np.array([0.0, 0.0, 1.0, 0.0])
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

# Column layout of a filter state block (Nx20): position, velocity, pp, pv, vv (4 columns each).
POSITION = slice(0, 4)
VELOCITY = slice(4, 8)
PP = slice(8, 12)
PV = slice(12, 16)
VV = slice(16, 20)
STATE_COLUMNS = 20


def xyxy_to_xyah(xyxy: NDArray[np.floating]) -> FloatArray:
    boxes = np.asarray(xyxy, dtype=np.float64)
    out = np.empty_like(boxes)
    size = boxes[:, 2:4] - boxes[:, 0:2]
    out[:, 0:2] = boxes[:, 0:2] + size * 0.5
    out[:, 2] = size[:, 0] / np.maximum(size[:, 1], 1e-6)
    out[:, 3] = size[:, 1]
    return out


def xyah_to_xyxy(xyah: FloatArray) -> FloatArray:
    out = np.empty((xyah.shape[0], 4), dtype=np.float64)
    half = np.empty((xyah.shape[0], 2), dtype=np.float64)
    half[:, 1] = xyah[:, 3] * 0.5
    half[:, 0] = xyah[:, 2] * half[:, 1]
    out[:, 0:2] = xyah[:, 0:2] - half
    out[:, 2:4] = xyah[:, 0:2] + half
    return out


def initiate(measurements_xyah: FloatArray) -> FloatArray:
    """Filter state blocks (Nx20) for new tracks: zero velocity, ByteTrack's initial uncertainty."""
    n = measurements_xyah.shape[0]
    block = np.zeros((n, STATE_COLUMNS), dtype=np.float64)
    block[:, POSITION] = measurements_xyah
    height_sq = (measurements_xyah[:, 3] * measurements_xyah[:, 3])[:, None]
    block[:, PP] = height_sq * _INITIAL_POSITION_VAR + _INITIAL_POSITION_FIXED
    block[:, VV] = height_sq * _INITIAL_VELOCITY_VAR + _INITIAL_VELOCITY_FIXED
    return block


def predict(block: FloatArray) -> None:
    """One time step for every row, in place: p ← p + v; P ← F P Fᵀ + Q (per-coordinate 2x2 form)."""
    height_sq = (block[:, 3] * block[:, 3])[:, None]
    block[:, POSITION] += block[:, VELOCITY]
    pp = block[:, PP]
    pv = block[:, PV]
    vv = block[:, VV]
    pp += 2.0 * pv + vv + height_sq * _PROCESS_POSITION_VAR + _PROCESS_POSITION_FIXED
    pv += vv
    vv += height_sq * _PROCESS_VELOCITY_VAR + _PROCESS_VELOCITY_FIXED


def update(block: FloatArray, measurements_xyah: FloatArray, in_place: bool = False) -> FloatArray:
    """Correct each row with one measurement; returns the updated rows (a copy unless ``in_place``)."""
    out = block if in_place else block.copy()
    height = out[:, 3:4]
    pp = out[:, PP]
    pv = out[:, PV]
    innovation_var = pp + height * height * _MEASUREMENT_VAR + _MEASUREMENT_FIXED
    gain_position = pp / innovation_var
    gain_velocity = pv / innovation_var
    innovation = measurements_xyah - out[:, POSITION]
    out[:, VV] -= gain_velocity * pv
    out[:, POSITION] += gain_position * innovation
    out[:, VELOCITY] += gain_velocity * innovation
    keep = 1.0 - gain_position
    pp *= keep
    pv *= keep
    return out


def full_covariance(block: FloatArray) -> FloatArray:
    """The equivalent Nx8x8 covariance matrices (for checks and debugging)."""
    n = block.shape[0]
    cov = np.zeros((n, 8, 8), dtype=np.float64)
    i = np.arange(4)
    cov[:, i, i] = block[:, PP]
    cov[:, i, i + 4] = block[:, PV]
    cov[:, i + 4, i] = block[:, PV]
    cov[:, i + 4, i + 4] = block[:, VV]
    return cov
