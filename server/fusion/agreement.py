"""How far apart two cameras of a site place the same people: a calibration check for installers.

Where two cameras see one fused person, each camera's smoothed offset from the person's estimate is known (the
fusion's camera-consistency check, step 2); their difference, on the common clock (clock skew corrected), is
where the second camera puts the person relative to the first. Well calibrated cameras differ by their
observation noise (a decimetre or two near them, more far away); a calibration off by a metre, or a wide-angle
lens left undistorted, shows as a large and persistent difference. Samples are taken at the fusion's skew
cadence and forgotten with a time constant of about 100 s, per camera pair: a histogram of the distance (0.1 m
bins up to 5 m) and the mean difference over the samples within 3 m (the direction of a systematic shift; the
farther ones are mostly two different people mistaken for one).

A sample is a (person, camera pair) at one check: samples of one person in consecutive checks are not
independent, so a pair's figure rests on the people it saw, not on its sample count alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from server.fusion.types import FloatArray, IntArray

BIN_M = 0.1
BINS = 50  # 0-5 m; the last bin holds everything beyond
FORGET_PER_S = 0.99  # a sample's weight after one second of stream time: a time constant of ~100 s
OFFSET_WITHIN_M = 3.0
# A pair is suspect (a calibration to check) when, over at least JUDGE_SAMPLES of weight, its median distance or
# its 90th percentile is beyond these. Chosen on the simulator (benchmarks/camera_agreement.py, seeds 31-32 and
# 41-46; fresh seeds in docs/benchmarks.md): well calibrated overhead cameras agree to a median of 0.10-0.12 m and
# a p90 of 0.19-0.24 m, tilted ceiling cameras (whose foot points differ with the side they see a person from) to
# at most 0.71 / 1.01 m; one calibration off by 1.1 m gives 0.61-0.96 / 1.28-1.42 m, barrel lenses left
# undistorted p90s of 0.40-1.39 m (the pairs that see people at the image borders above 1.1 m). A calibration off
# by 0.5 m is within the ceiling cameras' spread: it shows in the figures, it is not flagged. (Measured before the
# edge's foot point moved to where a person stands; after it the ceiling pairs agree a little better, see there.)
SUSPECT_MEDIAN_M = 0.8
SUSPECT_P90_M = 1.1
JUDGE_SAMPLES = 100.0


@dataclass(frozen=True, slots=True)
class CameraPairAgreement:
    """Two cameras' placements of the people both see (``camera_id`` < ``other_camera_id``)."""

    camera_id: int
    other_camera_id: int
    # Weight of the samples (each forgotten by FORGET_PER_S per second): about the number of checks in the
    # last ~100 s that found a person seen by both.
    samples: float
    # Median and 90th percentile of the distance between the two cameras' placements (to BIN_M; (BINS - 1) *
    # BIN_M means "at least that").
    median_distance_m: float
    p90_distance_m: float
    # Mean of (where `other_camera_id` places the person) - (where `camera_id` does), over samples within
    # OFFSET_WITHIN_M: a systematic shift of one calibration against the other shows here.
    offset_m: tuple[float, float]

    @property
    def suspect(self) -> bool:
        """Enough evidence that the two calibrations disagree by more than tilted cameras' geometry explains."""
        return self.samples >= JUDGE_SAMPLES and (
            self.median_distance_m > SUSPECT_MEDIAN_M or self.p90_distance_m > SUSPECT_P90_M
        )

    def describe(self) -> str:
        """One line for an installer."""
        dx, dy = self.offset_m
        return (
            f"cameras {self.camera_id} and {self.other_camera_id} place the people both see "
            f"{self.median_distance_m:.2f} m apart (median; 90 % within {self.p90_distance_m:.2f} m; camera "
            f"{self.other_camera_id} {dx:+.2f} m x, {dy:+.2f} m y of camera {self.camera_id} on average)"
        )


class _Pair:
    __slots__ = ("histogram", "offset_sum", "offset_weight", "updated_us")

    def __init__(self, t_us: int) -> None:
        self.histogram = np.zeros(BINS, dtype=np.float64)
        self.offset_sum = np.zeros(2, dtype=np.float64)
        self.offset_weight = 0.0
        self.updated_us = t_us

    def forget(self, t_us: int) -> None:
        if t_us > self.updated_us:
            factor = FORGET_PER_S ** ((t_us - self.updated_us) / 1e6)
            self.histogram *= factor
            self.offset_sum *= factor
            self.offset_weight *= factor
            self.updated_us = t_us


class CameraAgreement:
    """The camera pairs' agreement of one site, by camera column (``SiteFusion``'s columns)."""

    def __init__(self) -> None:
        self._pairs: dict[tuple[int, int], _Pair] = {}

    def record(self, t_us: int, column: int, others: IntArray, gaps: FloatArray) -> None:
        """Samples of camera ``column`` against camera column ``others[k]``: ``gaps[k]`` is where that camera
        places the person minus where ``column`` does (metres, on the common clock)."""
        distance = np.hypot(gaps[:, 0], gaps[:, 1])
        # Run inside the fusion's frame loop: a non-finite gap (no placement) is left out rather than cast to a
        # bin (NaN and infinity cast to a negative index, and bincount raised), a huge one is capped before the
        # cast.
        finite = np.isfinite(distance)
        if not finite.all():
            others, gaps, distance = others[finite], gaps[finite], distance[finite]
        if others.size == 0:
            return
        bins = np.minimum(distance / BIN_M, BINS - 1).astype(np.int64)
        near = distance <= OFFSET_WITHIN_M
        for other in np.unique(others).tolist():
            mine = others == other
            low, high = (column, other) if column < other else (other, column)
            pair = self._pairs.get((low, high))
            if pair is None:
                pair = self._pairs[(low, high)] = _Pair(t_us)
            pair.forget(t_us)
            pair.histogram += np.bincount(bins[mine], minlength=BINS)
            within = mine & near
            # Oriented from the lower column to the higher one.
            sign = 1.0 if column == low else -1.0
            pair.offset_sum += sign * gaps[within].sum(axis=0)
            pair.offset_weight += float(np.count_nonzero(within))

    def summary(self, t_us: int, camera_ids: IntArray, min_samples: float = 1.0) -> list[CameraPairAgreement]:
        """Every camera pair with at least ``min_samples`` of weight at ``t_us``, ordered by camera ids
        (``camera_ids[column]``: the camera id of each column)."""
        out: list[CameraPairAgreement] = []
        for (low, high), pair in self._pairs.items():
            factor = FORGET_PER_S ** (max(0, t_us - pair.updated_us) / 1e6)
            histogram = pair.histogram * factor
            total = float(histogram.sum())
            if total < min_samples or total <= 0.0:
                continue
            offset = pair.offset_sum / pair.offset_weight if pair.offset_weight > 0.0 else np.zeros(2)
            first, second = int(camera_ids[low]), int(camera_ids[high])
            if first > second:
                first, second, offset = second, first, -offset
            out.append(
                CameraPairAgreement(
                    camera_id=first,
                    other_camera_id=second,
                    samples=total,
                    median_distance_m=_quantile(histogram, total, 0.5),
                    p90_distance_m=_quantile(histogram, total, 0.9),
                    offset_m=(float(offset[0]), float(offset[1])),
                )
            )
        out.sort(key=lambda a: (a.camera_id, a.other_camera_id))
        return out


def _quantile(histogram: FloatArray, total: float, q: float) -> float:
    """The ``q`` quantile of a binned distance (linear within its bin); the last bin's lower edge is "at
    least"."""
    cumulative = np.cumsum(histogram)
    wanted = total * q
    k = int(np.searchsorted(cumulative, wanted))
    if k >= BINS - 1:
        return (BINS - 1) * BIN_M
    below = float(cumulative[k - 1]) if k > 0 else 0.0
    share = (wanted - below) / float(histogram[k]) if histogram[k] > 0 else 0.0
    return (k + share) * BIN_M
