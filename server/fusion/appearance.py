"""Appearance descriptors: the compact colour cue an edge box sends per track (wire layout 1).

A descriptor is no biometric: it is the distribution of colour classes over a person's upper and lower body,
what a guard would call "red top, dark trousers" (docs/privacy.md, "Appearance descriptor"). It lives only in
the fusion's memory for the visit.

Layout 1 (``DESCRIPTOR_BYTES`` = 16, proto ``TrackFrame.appearance``): bytes 0..7 the upper body, 8..15 the
lower body; each part a histogram over ``CLASSES`` = 16 fixed colour classes, one 4-bit count per class (byte
``i`` of a part holds class ``2i`` in its low nibble and ``2i + 1`` in its high nibble), scaled so the fullest
class is 15. An all-zero part is "not measurable".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DESCRIPTOR_BYTES = 16
LAYOUT_COLOUR_HISTOGRAMS_V1 = 1
PARTS = 2
CLASSES = 16


def unpack(descriptors: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Histograms of ``descriptors`` (shape ``(k, 16)``) as shares, shape ``(k, PARTS, CLASSES)``.

    Each measurable part sums to 1; an unmeasurable (all-zero) part is all zeros.
    """
    if descriptors.ndim != 2 or descriptors.shape[1] != DESCRIPTOR_BYTES:
        raise ValueError(f"descriptors have shape {descriptors.shape}, expected (k, {DESCRIPTOR_BYTES})")
    low = descriptors & 0x0F
    high = descriptors >> 4
    counts = np.empty((descriptors.shape[0], DESCRIPTOR_BYTES * 2), dtype=np.float32)
    counts[:, 0::2] = low
    counts[:, 1::2] = high
    parts: npt.NDArray[np.float32] = counts.reshape(descriptors.shape[0], PARTS, CLASSES)
    totals = parts.sum(axis=2, keepdims=True)
    shares: npt.NDArray[np.float32] = np.divide(parts, totals, out=np.zeros_like(parts), where=totals > 0)
    return shares


def pack(shares: npt.NDArray[np.floating]) -> npt.NDArray[np.uint8]:
    """The inverse of :func:`unpack` up to quantisation: ``(k, PARTS, CLASSES)`` non-negative weights to
    descriptors (the fullest class of each part becomes 15; an all-zero part stays zero)."""
    if shares.ndim != 3 or shares.shape[1:] != (PARTS, CLASSES):
        raise ValueError(f"shares have shape {shares.shape}, expected (k, {PARTS}, {CLASSES})")
    peak = shares.max(axis=2, keepdims=True)
    scaled = np.divide(shares * 15.0, peak, out=np.zeros(shares.shape, dtype=np.float64), where=peak > 0)
    nibbles = np.clip(np.rint(scaled), 0, 15).astype(np.uint8).reshape(shares.shape[0], DESCRIPTOR_BYTES * 2)
    packed: npt.NDArray[np.uint8] = (nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)).astype(np.uint8)
    return packed


def similarity(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float | None:
    """Histogram intersection of two unpacked descriptors (``(PARTS, CLASSES)`` each), averaged over the parts
    measurable in both: 1 = the same colours, 0 = nothing in common; None when no part is measurable in both."""
    both = (a.sum(axis=1) > 0) & (b.sum(axis=1) > 0)
    if not bool(both.any()):
        return None
    return float(np.minimum(a[both], b[both]).sum(axis=1).mean())
