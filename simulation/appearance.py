"""Synthetic appearance: what people wear and the layout-1 descriptors an edge box would send of them.

The simulator has no pixels, so the colour cue is modelled where it would come from:

**Clothing.** Each person wears an upper and a lower garment, each a share vector over the 16 colour classes
of :mod:`server.fusion.appearance` (a dominant colour, often a second one, a little of everything). Dark
clothes are common (about 40 % of garments are mostly black, dark grey or navy), and ``uniform_fraction`` of
the people (the employees first, then visitors at random) wear one shared uniform with only small personal
variation: look-alikes that no colour cue can tell apart.

**Measurement** by camera ``c`` of a person in a frame: the clothing shares through the camera's colour cast (a
fixed per-camera lighting shift that moves 10-35 % of each class into a neighbouring one: black into dark grey,
white into beige, blue into navy, ...), a per-camera background colour mixed in (more of it the smaller the
box: 5 % at 200 px and taller, up to 30 % at 40 px), multiplicative per-class noise (log-normal, sigma 0.35),
and occlusion: the part of the box hidden behind a nearer person's box takes that person's colours; a part
hidden by more than half, or a person whose box is under 50 px tall (the lower body under 80 px), is not
measurable (an all-zero part). False-positive tracklets measure background.

**Sending.** Like an edge box, each local track keeps an exponential average (weight 0.3) of its
measurements and sends it (``pack``) at first sighting, whenever the average has drifted from what was last
sent (histogram intersection below 0.85: e.g. a tracker swapped two people), and at least every 5 s while
measurable. Lost rows send nothing. Nothing here is tuned to make the fusion look good: the casts, the
uniforms and the contamination by occluders are what real cameras do to a colour histogram.

Everything draws from its own random stream (seeded from the run's seed), so switching the cue on or off
changes no position, detection or local id of a run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from server.fusion.appearance import CLASSES, PARTS, pack, unpack
from simulation.people import SimPerson

FloatArray = npt.NDArray[np.float64]
UInt8Array = npt.NDArray[np.uint8]

# Colour classes by index (the edge's palette order is its own; the simulator needs only neighbourhoods).
BLACK, DARK_GREY, GREY, WHITE, RED, ORANGE, YELLOW, OLIVE = range(8)
DARK_GREEN, TEAL, BLUE, NAVY, PURPLE, PINK, BROWN, BEIGE = range(8, 16)
DARK_CLASSES = (BLACK, DARK_GREY, NAVY)
# Where a lighting shift moves a class (two plausible neighbours each).
NEIGHBOURS: tuple[tuple[int, int], ...] = (
    (DARK_GREY, NAVY),  # black
    (BLACK, GREY),  # dark grey
    (DARK_GREY, WHITE),  # grey
    (GREY, BEIGE),  # white
    (ORANGE, PINK),  # red
    (RED, YELLOW),  # orange
    (ORANGE, BEIGE),  # yellow
    (DARK_GREEN, BROWN),  # olive
    (OLIVE, NAVY),  # dark green
    (BLUE, DARK_GREEN),  # teal
    (NAVY, TEAL),  # blue
    (BLACK, BLUE),  # navy
    (NAVY, PINK),  # purple
    (RED, PURPLE),  # pink
    (ORANGE, DARK_GREY),  # brown
    (WHITE, YELLOW),  # beige
)
DARK_GARMENT_SHARE = 0.4
EMA_GAIN = 0.3
RESEND_BELOW_SIMILARITY = 0.85
REFRESH_S = 5.0
UNMEASURABLE_BELOW_PX = 50.0
LOWER_UNMEASURABLE_BELOW_PX = 80.0
HIDDEN_UNMEASURABLE = 0.5
NOISE_SIGMA = 0.35


def _garment(rng: np.random.Generator) -> FloatArray:
    shares = rng.dirichlet(np.full(CLASSES, 0.3)) * 0.1
    dark = rng.random() < DARK_GARMENT_SHARE
    main = int(rng.choice(DARK_CLASSES)) if dark else int(rng.integers(CLASSES))
    shares[main] += float(rng.uniform(0.55, 0.85))
    if rng.random() < 0.5:
        shares[int(rng.integers(CLASSES))] += float(rng.uniform(0.1, 0.3))
    result: FloatArray = shares / shares.sum()
    return result


def dress(people: Sequence[SimPerson], seed: int, *, uniform_fraction: float = 0.15) -> dict[int, FloatArray]:
    """Per person id, the clothing shares ``(PARTS, CLASSES)`` (see the module docstring)."""
    rng = np.random.default_rng((seed, 0xC0105))
    uniform = np.stack([_garment(rng), _garment(rng)])
    staff = [p.person_id for p in people if p.identity.employee_id is not None]
    visitors = [p.person_id for p in people if p.identity.employee_id is None]
    wanted = round(uniform_fraction * len(people))
    rng.shuffle(visitors)
    uniformed = set(staff[:wanted]) | set(visitors[: max(0, wanted - len(staff))])
    clothing: dict[int, FloatArray] = {}
    for person in people:
        if person.person_id in uniformed:
            own = uniform + rng.dirichlet(np.full(CLASSES, 0.3), size=PARTS) * 0.05
        else:
            own = np.stack([_garment(rng), _garment(rng)])
        clothing[person.person_id] = own / own.sum(axis=1, keepdims=True)
    return clothing


class CameraAppearance:
    """One camera's colour rendering and its edge box's send-on-change state (see the module docstring)."""

    def __init__(self, camera_id: int, seed: int) -> None:
        self._rng = np.random.default_rng((seed, 0xCA3, camera_id))
        cast = np.eye(CLASSES)
        for c in range(CLASSES):
            amount = float(self._rng.uniform(0.1, 0.35))
            target = NEIGHBOURS[c][int(self._rng.integers(2))]
            cast[c, c] -= amount
            cast[c, target] += amount
        self.cast: FloatArray = cast
        background = self._rng.dirichlet(np.full(CLASSES, 0.5))
        self.background: FloatArray = np.stack([background, background])
        self._ema: dict[int, FloatArray] = {}
        self._sent: dict[int, tuple[FloatArray, float]] = {}

    def measure(self, shares: FloatArray, boxes_xywh: npt.NDArray[np.integer] | FloatArray) -> FloatArray:
        """Measured shares ``(n, PARTS, CLASSES)`` of ``n`` people (clothing ``shares``) with these image
        boxes, occluding each other (a box whose bottom is lower in the image is nearer); unmeasurable parts
        are all zero."""
        n = shares.shape[0]
        if n == 0:
            return np.zeros((0, PARTS, CLASSES))
        rng = self._rng
        height = boxes_xywh[:, 3].astype(np.float64)
        clutter = 0.05 + 0.25 * np.clip((200.0 - height) / 160.0, 0.0, 1.0)
        seen = shares @ self.cast
        measured = (1.0 - clutter)[:, None, None] * seen + clutter[:, None, None] * self.background
        hidden = _hidden_fractions(boxes_xywh)  # (n, n, PARTS): share of i's part behind j's box
        if n > 1 and hidden.any():
            total = np.minimum(hidden.sum(axis=1), 1.0)  # (n, PARTS)
            occluder = np.einsum("ijp,jpc->ipc", hidden, seen)
            measured = (1.0 - total)[..., None] * measured + occluder
        else:
            total = np.zeros((n, PARTS))
        measured *= np.exp(rng.normal(0.0, NOISE_SIGMA, measured.shape))
        measurable = (total <= HIDDEN_UNMEASURABLE) & (height >= UNMEASURABLE_BELOW_PX)[:, None]
        measurable[:, 1] &= height >= LOWER_UNMEASURABLE_BELOW_PX
        measured = np.where(measurable[..., None], measured, 0.0)
        sums = measured.sum(axis=2, keepdims=True)
        result: FloatArray = np.divide(measured, sums, out=np.zeros_like(measured), where=sums > 0)
        return result

    def background_measurement(self, count: int) -> FloatArray:
        """What a false-positive box measures: background."""
        noisy = self.background[None] * np.exp(self._rng.normal(0.0, NOISE_SIGMA, (count, PARTS, CLASSES)))
        result: FloatArray = noisy / noisy.sum(axis=2, keepdims=True)
        return result

    def send(
        self, local_ids: Sequence[int], measured: FloatArray, t_s: float, removed: Sequence[int]
    ) -> tuple[list[int], UInt8Array]:
        """Fold this frame's measurements into each track's average; return the indices (into ``local_ids``)
        that send a descriptor now and the descriptors (``(k, 16)``)."""
        for local_id in removed:
            self._ema.pop(local_id, None)
            self._sent.pop(local_id, None)
        rows: list[int] = []
        averages: list[FloatArray] = []
        for index, local_id in enumerate(local_ids):
            now = measured[index]
            ok = now.sum(axis=1) > 0
            if not ok.any():
                continue
            ema = self._ema.get(local_id)
            if ema is None:
                ema = np.where(ok[:, None], now, 0.0)
            else:
                fresh = ok & (ema.sum(axis=1) == 0)
                blend = ok & ~fresh
                ema = np.where(fresh[:, None], now, ema)
                ema = np.where(blend[:, None], ema + EMA_GAIN * (now - ema), ema)
            self._ema[local_id] = ema
            sent = self._sent.get(local_id)
            if sent is not None and t_s - sent[1] < REFRESH_S:
                last = sent[0]
                common = (last.sum(axis=1) > 0) & (ema.sum(axis=1) > 0)
                if common.any() and float(np.minimum(last[common], ema[common]).sum(axis=1).min()) >= (
                    RESEND_BELOW_SIMILARITY
                ):
                    continue
            rows.append(index)
            averages.append(ema)
        if not rows:
            return [], np.zeros((0, 16), dtype=np.uint8)
        packed = pack(np.stack(averages))
        for index, shares in zip(rows, unpack(packed), strict=True):
            self._sent[local_ids[index]] = (shares.astype(np.float64), t_s)
        return rows, packed


def _hidden_fractions(boxes: npt.NDArray[np.integer] | FloatArray) -> FloatArray:
    """``out[i, j, p]``: the share of part ``p`` (0 the upper half, 1 the lower half of box ``i``) that box
    ``j`` hides, ``j`` being nearer (its bottom lower in the image)."""
    x, y, w, h = (boxes[:, k].astype(np.float64) for k in range(4))
    bottom = y + h
    middle = y + h / 2
    out = np.zeros((boxes.shape[0], boxes.shape[0], PARTS))
    overlap_x = np.clip(np.minimum(x + w, (x + w)[:, None]) - np.maximum(x, x[:, None]), 0.0, None)
    overlap_x = np.minimum(overlap_x.T, w[:, None])  # rows i, columns j
    nearer = bottom[None, :] > bottom[:, None]
    for part, (top, low) in enumerate(((y, middle), (middle, bottom))):
        overlap_y = np.clip(
            np.minimum(low[:, None], bottom[None, :]) - np.maximum(top[:, None], y[None, :]), 0, None
        )
        area = np.maximum(w * (low - top), 1.0)
        out[:, :, part] = np.where(nearer, overlap_x * overlap_y / area[:, None], 0.0)
    np.einsum("iip->ip", out)[:] = 0.0
    return out


__all__ = ["CameraAppearance", "dress"]
