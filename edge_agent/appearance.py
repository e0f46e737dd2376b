"""The appearance cue of a track: colour-class histograms of a person's upper and lower body (wire layout 1).

What a guard would say — "red top, dark trousers" — as 16 bytes: no face, no biometric template, no image
(docs/privacy.md, "Appearance descriptor"). Computed on the analysed frame from each detection's box:

- **Parts.** Upper body: 15-50 % of the box height (below the head, which is left out); lower body: 50-85 %
  (above the feet, which blur and touch the floor). Only the central 60 % of the width, where the person is and the
  background is not; pixels are weighted by a tent over the width (1 at the centre, 0.25 at the part's sides).
- **Colour classes** (``CLASSES`` = 16, fixed): each pixel's colour in CIELAB (OpenCV's 8-bit conversion of
  the BGR frame, through a 32x32x32 lookup table built once), then
  - achromatic (chroma C* below ~12): 0 black (L* around 12.5), 1 dark grey (37.5), 2 light grey (62.5),
    3 white (87.5);
  - chromatic, by hue angle h = atan2(b*, a*) in six sectors (red/orange/skin 0-70°, yellow/brown 70-115°,
    green 115-170°, cyan/teal 170-235°, blue/navy 235-315°, purple/pink 315-360°), each dark (L* below ~50,
    classes 4-9) or light (classes 10-15).
  A pixel's weight is shared between neighbouring classes near a boundary (linear ramps: chroma 8-16 between
  achromatic and chromatic, L* between adjacent grey levels' centres, L* 35-65 between dark and light), so a
  change of illumination shifts a histogram smoothly instead of flipping whole parts into the next class.
- **Not measurable** (an all-zero part): fewer than ``MIN_PART_SIDE_PX`` pixels on a side, less than half of
  the part inside the frame, or less than half of it left once the boxes of closer people (a lower bottom edge,
  i.e. a foot point nearer the camera) are cut out of it; both parts of a box with a NaN or infinite
  coordinate (which hides nobody either).

Quantisation (``pack``), its inverse (``unpack``) and the similarity (histogram intersection averaged over the
parts measurable in both) mirror ``server.fusion.appearance``: the edge and the server share only the wire
contract, so each side has its own copy and both are tested against the same layout (proto/retail/v1/track.proto).

``AppearanceSender`` decides, per camera, which tracks' descriptors go on the wire in a frame: a new track's
first, then only when it changed (similarity to the last one sent below a threshold, or a part measurable now
that was not), and at most every ``refresh_s`` seconds as a refresh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

DESCRIPTOR_BYTES = 16
LAYOUT_COLOUR_HISTOGRAMS_V1 = 1
PARTS = 2
CLASSES = 16

UPPER_BODY = (0.15, 0.50)  # fractions of the box height, from its top
LOWER_BODY = (0.50, 0.85)
CENTRAL_WIDTH = 0.60  # fraction of the box width kept, centred
EDGE_WEIGHT = 0.25  # weight of a pixel at the side of the kept width (1 at its centre)
MIN_PART_SIDE_PX = 4
MIN_VISIBLE_FRACTION = 0.5  # of a part inside the frame and not covered by a closer box
SAMPLES_PER_SIDE = 16  # a part is sampled on about this many pixels per side at most (cost bound)

ACHROMATIC_CHROMA = (8.0, 16.0)  # CIELAB chroma ramp from achromatic (black / grey / white) to chromatic
_GREY_CENTRES_L = 12.5 + 25.0 * np.arange(4)
_HUE_EDGES_DEG = (70.0, 115.0, 170.0, 235.0, 315.0)  # sector i spans [edge i-1, edge i), the last wraps to 0
_DARK_TO_LIGHT_L = (35.0, 65.0)
_LUT_BITS = 5  # per BGR channel

FloatArray = NDArray[np.float32]

# A colour's weight goes to its two classes of largest membership (renormalised): where two ramps overlap a colour
# can touch four, but the two largest hold 99.6 % of the mass over all colours, at half the cost per pixel.
_MAX_CLASSES_PER_COLOUR = 2
_lut: tuple[NDArray[np.int32], FloatArray] | None = None


def colour_memberships_of_lab(lab: NDArray[np.floating]) -> FloatArray:
    """Membership of CIELAB colours ``(k, 3)`` (L* 0..100, a*, b* signed) in the 16 colour classes: ``(k, 16)``,
    each row summing to 1."""
    lightness, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    rows = np.arange(lab.shape[0])
    low, high = ACHROMATIC_CHROMA
    grey = np.clip((high - np.hypot(a, b)) / (high - low), 0.0, 1.0)
    out = np.zeros((lab.shape[0], CLASSES), dtype=np.float64)
    position = np.clip((lightness - _GREY_CENTRES_L[0]) / 25.0, 0.0, 3.0)
    below = np.minimum(np.floor(position).astype(np.intp), 2)
    upper_share = position - below
    np.add.at(out, (rows, below), grey * (1.0 - upper_share))
    np.add.at(out, (rows, below + 1), grey * upper_share)
    hue = np.degrees(np.arctan2(b, a)) % 360.0
    sector = np.searchsorted(np.asarray(_HUE_EDGES_DEG), hue, side="right") % 6
    dark, light = _DARK_TO_LIGHT_L
    light_share = np.clip((lightness - dark) / (light - dark), 0.0, 1.0)
    np.add.at(out, (rows, 4 + sector), (1.0 - grey) * (1.0 - light_share))
    np.add.at(out, (rows, 10 + sector), (1.0 - grey) * light_share)
    memberships: FloatArray = out.astype(np.float32)
    return memberships


def colour_class_of_lab(lab: NDArray[np.floating]) -> NDArray[np.intp]:
    """The class of largest membership of each CIELAB colour ``(k, 3)``."""
    classes: NDArray[np.intp] = np.argmax(colour_memberships_of_lab(lab), axis=1)
    return classes


def _class_lut() -> tuple[NDArray[np.int32], FloatArray]:
    """Class memberships of every BGR colour quantised to 5 bits a channel (index ``b << 10 | g << 5 | r``),
    through OpenCV's 8-bit CIELAB conversion of the bin centres, as the (at most 4) classes of each colour and
    their weights: two ``(32768, 2)`` arrays. Built once (about 20 ms)."""
    global _lut
    if _lut is None:
        import cv2

        levels = (np.arange(1 << _LUT_BITS) << (8 - _LUT_BITS)) + (1 << (7 - _LUT_BITS))
        b, g, r = np.meshgrid(levels, levels, levels, indexing="ij")
        bgr = np.stack((b, g, r), axis=-1).reshape(1, -1, 3).astype(np.uint8)
        lab8 = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(np.float64)
        lab = np.stack((lab8[:, 0] * 100.0 / 255.0, lab8[:, 1] - 128.0, lab8[:, 2] - 128.0), axis=1)
        memberships = colour_memberships_of_lab(lab)
        classes = np.argsort(-memberships, axis=1, kind="stable")[:, :_MAX_CLASSES_PER_COLOUR]
        weights = np.take_along_axis(memberships, classes, axis=1)
        weights /= weights.sum(axis=1, keepdims=True)
        _lut = (
            np.ascontiguousarray(classes, dtype=np.int32),
            np.ascontiguousarray(weights, dtype=np.float32),
        )
    return _lut


def describe(image: NDArray[np.uint8], boxes_xyxy_px: NDArray[np.floating]) -> FloatArray:
    """Colour-class shares of every box's upper and lower body: ``(N, PARTS, CLASSES)`` float32, each measurable
    part summing to 1, an unmeasurable part all zeros. ``image`` is the analysed BGR frame the boxes refer to.

    The parts are cut out and weighted one by one (scalar arithmetic and views); their sampled pixels then go
    through the lookup table and into the histograms together, in a handful of NumPy calls for the whole frame.
    """
    count = int(boxes_xyxy_px.shape[0])
    shares = np.zeros((count, PARTS, CLASSES), dtype=np.float32)
    if count == 0:
        return shares
    height, width = int(image.shape[0]), int(image.shape[1])
    boxes = np.asarray(boxes_xyxy_px, dtype=np.float64)
    box_list = boxes.tolist()
    # A box with a NaN or infinite coordinate (a detector plug-in's, a model fed garbage) is not measurable and
    # hides nobody: it has no pixels to look at.
    finite_list = [bool(ok) for ok in np.all(np.isfinite(boxes), axis=1, keepdims=True)[:, 0]]
    occluders = [box for box, ok in zip(box_list, finite_list, strict=True) if ok]
    pixel_parts: list[NDArray[np.uint8]] = []
    weight_parts: list[NDArray[np.float64]] = []
    slots: list[int] = []
    for i, (x1, y1, x2, y2) in enumerate(box_list):
        box_w, box_h = x2 - x1, y2 - y1
        if not finite_list[i] or box_w <= 0 or box_h <= 0:
            continue
        margin = box_w * (1.0 - CENTRAL_WIDTH) / 2.0
        px1, px2 = x1 + margin, x2 - margin
        if px2 - px1 < MIN_PART_SIDE_PX:
            continue
        # People nearer the camera (a lower bottom edge): their boxes hide this one's pixels.
        closer = [other for other in occluders if other[3] > y2]
        centre, half = (px1 + px2) / 2.0, (px2 - px1) / 2.0
        for part, (top, bottom) in enumerate((UPPER_BODY, LOWER_BODY)):
            py1, py2 = y1 + top * box_h, y1 + bottom * box_h
            if py2 - py1 < MIN_PART_SIDE_PX:
                continue
            cx1, cy1 = max(0, math.ceil(px1)), max(0, math.ceil(py1))
            cx2, cy2 = min(width, math.floor(px2)), min(height, math.floor(py2))
            area = (px2 - px1) * (py2 - py1)
            if cx2 - cx1 < MIN_PART_SIDE_PX or cy2 - cy1 < MIN_PART_SIDE_PX:
                continue
            if (cx2 - cx1) * (cy2 - cy1) < MIN_VISIBLE_FRACTION * area:
                continue
            step_x = max(1, (cx2 - cx1) // SAMPLES_PER_SIDE)
            step_y = max(1, (cy2 - cy1) // SAMPLES_PER_SIDE)
            columns = -(-(cx2 - cx1) // step_x)
            rows = -(-(cy2 - cy1) // step_y)
            xs = np.arange(cx1, cx2, step_x, dtype=np.float64)
            weight_x = 1.0 - (1.0 - EDGE_WEIGHT) * np.minimum(1.0, np.abs(xs + (0.5 - centre)) / half)
            weights = np.empty((rows, columns), dtype=np.float64)
            weights[:] = weight_x
            hidden = False
            for ox1, oy1, ox2, oy2 in closer:
                if ox2 <= cx1 or ox1 >= cx2 or oy2 <= cy1 or oy1 >= cy2:
                    continue
                # The samples (cx1 + j * step + 0.5) inside the closer box, as index ranges of the grid.
                j0 = max(0, math.ceil((ox1 - 0.5 - cx1) / step_x))
                j1 = min(columns, math.ceil((ox2 - 0.5 - cx1) / step_x))
                k0 = max(0, math.ceil((oy1 - 0.5 - cy1) / step_y))
                k1 = min(rows, math.ceil((oy2 - 0.5 - cy1) / step_y))
                if j0 < j1 and k0 < k1:
                    weights[k0:k1, j0:j1] = 0.0
                    hidden = True
            if hidden:
                visible = np.count_nonzero(weights) / weights.size * (cx2 - cx1) * (cy2 - cy1)
                if visible < MIN_VISIBLE_FRACTION * area:
                    continue
            pixel_parts.append(image[cy1:cy2:step_y, cx1:cx2:step_x].reshape(-1, 3))
            weight_parts.append(weights.reshape(-1))
            slots.append(i * PARTS + part)
    if not slots:
        return shares
    classes_lut, weights_lut = _class_lut()
    pixels = np.concatenate(pixel_parts) >> (8 - _LUT_BITS)
    index = pixels[:, 0].astype(np.int32) << (2 * _LUT_BITS)
    index |= pixels[:, 1].astype(np.int32) << _LUT_BITS
    index |= pixels[:, 2]
    sizes = [w.size for w in weight_parts]
    slot = np.repeat(np.asarray(slots, dtype=np.int32) * CLASSES, sizes)
    bins = classes_lut[index] + slot[:, None]
    mass = weights_lut[index] * np.concatenate(weight_parts)[:, None]
    histograms = np.bincount(bins.ravel(), weights=mass.ravel(), minlength=count * PARTS * CLASSES)
    histograms = histograms.reshape(count, PARTS, CLASSES)
    totals = histograms.sum(axis=2, keepdims=True)
    shares[:] = np.divide(histograms, totals, out=np.zeros_like(histograms), where=totals > 0)
    return shares


def pack(shares: NDArray[np.floating]) -> NDArray[np.uint8]:
    """``(k, PARTS, CLASSES)`` non-negative weights to layout-1 descriptors ``(k, 16)``: per part the fullest class
    becomes 15, the others their rounded proportion of it; an all-zero part stays zero."""
    if shares.ndim != 3 or shares.shape[1:] != (PARTS, CLASSES):
        raise ValueError(f"shares have shape {shares.shape}, expected (k, {PARTS}, {CLASSES})")
    peak = shares.max(axis=2, keepdims=True)
    scaled = np.divide(shares * 15.0, peak, out=np.zeros(shares.shape, dtype=np.float64), where=peak > 0)
    nibbles = np.clip(np.rint(scaled), 0, 15).astype(np.uint8).reshape(shares.shape[0], DESCRIPTOR_BYTES * 2)
    packed: NDArray[np.uint8] = (nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)).astype(np.uint8)
    return packed


def unpack(descriptors: NDArray[np.uint8]) -> FloatArray:
    """Layout-1 descriptors ``(k, 16)`` to shares ``(k, PARTS, CLASSES)`` (measurable parts sum to 1)."""
    if descriptors.ndim != 2 or descriptors.shape[1] != DESCRIPTOR_BYTES:
        raise ValueError(f"descriptors have shape {descriptors.shape}, expected (k, {DESCRIPTOR_BYTES})")
    counts = np.empty((descriptors.shape[0], DESCRIPTOR_BYTES * 2), dtype=np.float32)
    counts[:, 0::2] = descriptors & 0x0F
    counts[:, 1::2] = descriptors >> 4
    parts = counts.reshape(descriptors.shape[0], PARTS, CLASSES)
    totals = parts.sum(axis=2, keepdims=True)
    shares: FloatArray = np.divide(parts, totals, out=np.zeros_like(parts), where=totals > 0)
    return shares


def similarity(a: NDArray[np.floating], b: NDArray[np.floating]) -> float | None:
    """Histogram intersection of two ``(PARTS, CLASSES)`` share arrays averaged over the parts measurable in both
    (1 = the same colours, 0 = nothing in common); None when no part is measurable in both."""
    both = (a.sum(axis=1) > 0) & (b.sum(axis=1) > 0)
    if not bool(both.any()):
        return None
    return float(np.minimum(a[both], b[both]).sum(axis=1).mean())


def similarity_matrix(a: NDArray[np.floating], b: NDArray[np.floating]) -> NDArray[np.float64]:
    """``similarity`` of every pair of ``a`` ``(n, PARTS, CLASSES)`` and ``b`` ``(m, ...)``: ``(n, m)``, NaN
    where no part is measurable in both."""
    overlap = np.minimum(a[:, None], b[None, :]).sum(axis=3)  # (n, m, PARTS)
    both = (a.sum(axis=2) > 0)[:, None, :] & (b.sum(axis=2) > 0)[None, :, :]
    parts = both.sum(axis=2)
    total = np.where(both, overlap, 0.0).sum(axis=2)
    result: NDArray[np.float64] = np.divide(
        total, parts, out=np.full(parts.shape, np.nan, dtype=np.float64), where=parts > 0
    )
    return result


def blend(track: FloatArray, observed: FloatArray, weight: float) -> FloatArray:
    """Running average of shares, part by part: ``(1 - weight) * track + weight * observed`` where both are
    measurable, the observation where only it is, the track's own where the observation is not."""
    seen = observed.sum(axis=-1, keepdims=True) > 0
    known = track.sum(axis=-1, keepdims=True) > 0
    mixed = np.where(known, (1.0 - weight) * track + weight * observed, observed)
    out: FloatArray = np.where(seen, mixed, track).astype(np.float32)
    return out


@dataclass(frozen=True, slots=True)
class SenderConfig:
    """When a track's descriptor goes on the wire (``AppearanceSender``)."""

    # A descriptor whose similarity to the last one sent falls below this is sent again.
    change_threshold: float = 0.8
    # Sent again at least this often while the track lives (a server that lost it, e.g. after a restart, has it
    # again within this long).
    refresh_s: float = 10.0


class AppearanceSender:
    """Per camera: which tracks' descriptors a frame carries (send on change)."""

    def __init__(self, config: SenderConfig | None = None) -> None:
        self.config = config or SenderConfig()
        self._sent: dict[int, tuple[FloatArray, int]] = {}  # local id -> (shares as sent, time sent us)

    def __len__(self) -> int:
        return len(self._sent)

    def forget(self, ids: NDArray[np.int64]) -> None:
        """The descriptors just selected for these tracks did not go out (their frame was lost, e.g. the spool
        was full): treat them as never sent, so the next frame that carries the tracks sends them."""
        for local_id in ids.tolist():
            self._sent.pop(local_id, None)

    def select(
        self, ids: NDArray[np.int64], shares: FloatArray, capture_time_us: int, removed: NDArray[np.bool_]
    ) -> NDArray[np.uint8]:
        """Descriptors to send for the tracks ``ids`` (rows of ``shares``, their smoothed shares): ``(N, 16)``,
        an all-zero row for a track that sends none in this frame. Tracks absent from ``ids`` or ``removed``
        are forgotten."""
        out = np.zeros((ids.shape[0], DESCRIPTOR_BYTES), dtype=np.uint8)
        if ids.shape[0] == 0:
            self._sent.clear()
            return out
        packed = pack(shares)
        quantised = unpack(packed)
        refresh_us = self.config.refresh_s * 1e6
        alive: dict[int, tuple[FloatArray, int]] = {}
        for row, local_id in enumerate(ids.tolist()):
            if removed[row]:
                continue
            last = self._sent.get(local_id)
            current = quantised[row]
            measurable = current.sum(axis=1) > 0
            if not measurable.any():
                if last is not None:
                    alive[local_id] = last
                continue
            send = last is None or capture_time_us - last[1] >= refresh_us
            if not send and last is not None:
                before = last[0].sum(axis=1) > 0
                if bool((measurable & ~before).any()):
                    send = True  # a part measurable now that the server has not had
                else:
                    value = similarity(current, last[0])
                    send = value is not None and value < self.config.change_threshold
            if send:
                out[row] = packed[row]
                alive[local_id] = (current, capture_time_us)
            elif last is not None:
                alive[local_id] = last
        self._sent = alive
        return out
