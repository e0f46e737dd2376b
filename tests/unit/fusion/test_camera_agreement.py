"""The camera-pair agreement (a calibration check): what two cameras say about the people both see."""

from __future__ import annotations

import numpy as np
import pytest

from server.fusion import FusionConfig, SiteFusion
from server.fusion.agreement import BIN_M, BINS, CameraAgreement
from tests.unit.fusion.helpers import SITE, obs

SECOND_US = 1_000_000


def _walkers(shift_m: tuple[float, float], *, noise_m: float = 0.05, seconds: int = 40) -> SiteFusion:
    """Six people walking to and fro through the overlap of cameras 1 and 2 (10 fps each, interleaved); camera
    2's calibration is off by ``shift_m``."""
    fusion = SiteFusion(FusionConfig(site_id=SITE))
    rng = np.random.default_rng(5)
    for k in range(seconds * 10):
        t_s = k / 10
        people = [
            (i + 1, 4.0 + 2.5 * i, 3.0 + 2.0 * np.sin(0.3 * t_s + i)) for i in range(6)
        ]  # about 0.6 m/s at most, 2.5 m apart
        for camera, offset_ms, shift in ((1, 0.0, (0.0, 0.0)), (2, 50.0, shift_m)):
            rows = [
                (pid, x + shift[0] + rng.normal(0.0, noise_m), y + shift[1] + rng.normal(0.0, noise_m))
                for pid, x, y in people
            ]
            fusion.update_frames(obs(camera, t_s * 1000 + offset_ms, rows))
    return fusion


def test_well_calibrated_cameras_agree_to_their_noise() -> None:
    (pair,) = _walkers((0.0, 0.0)).camera_agreement(min_samples=50)
    assert (pair.camera_id, pair.other_camera_id) == (1, 2)
    assert pair.median_distance_m < 0.15
    assert pair.p90_distance_m < 0.25
    assert np.hypot(*pair.offset_m) < 0.05


def test_a_calibration_off_by_half_a_metre_shows_its_size_and_direction() -> None:
    (pair,) = _walkers((0.5, -0.2)).camera_agreement(min_samples=50)
    assert pair.median_distance_m == pytest.approx(0.54, abs=0.08)
    # Where camera 2 places the people relative to camera 1.
    assert pair.offset_m == pytest.approx((0.5, -0.2), abs=0.08)


def test_pairs_are_reported_lower_camera_id_first_whatever_the_column_order() -> None:
    agreement = CameraAgreement()
    ids = np.array([9, 4], dtype=np.int64)  # column 0 is camera 9, column 1 camera 4
    agreement.record(0, 0, np.array([1, 1]), np.array([[0.3, 0.4], [0.3, 0.4]]))  # camera 4 vs 9: +0.3, +0.4
    (pair,) = agreement.summary(0, ids)
    assert (pair.camera_id, pair.other_camera_id) == (4, 9)
    assert pair.offset_m == pytest.approx((-0.3, -0.4))  # camera 9 relative to camera 4
    assert pair.median_distance_m == pytest.approx(0.5, abs=BIN_M)


def test_samples_are_forgotten_over_about_a_hundred_seconds() -> None:
    agreement = CameraAgreement()
    ids = np.array([1, 2], dtype=np.int64)
    agreement.record(0, 0, np.ones(100, dtype=np.int64), np.tile([[0.1, 0.0]], (100, 1)))
    (now,) = agreement.summary(0, ids)
    (later,) = agreement.summary(100 * SECOND_US, ids)
    assert now.samples == pytest.approx(100.0)
    assert later.samples == pytest.approx(100.0 * 0.99**100)
    # Newer samples outweigh the old ones: a calibration fixed at 100 s reads as fixed soon after.
    agreement.record(100 * SECOND_US, 0, np.ones(200, dtype=np.int64), np.tile([[1.5, 0.0]], (200, 1)))
    (fixed,) = agreement.summary(100 * SECOND_US, ids)
    assert fixed.median_distance_m == pytest.approx(1.55, abs=BIN_M)
    assert agreement.summary(100 * SECOND_US, ids, min_samples=1000) == []


def test_distances_beyond_the_histogram_read_as_at_least_its_end() -> None:
    agreement = CameraAgreement()
    agreement.record(0, 0, np.array([1, 1, 1]), np.array([[9.0, 0.0], [0.0, 8.0], [7.0, 7.0]]))
    (pair,) = agreement.summary(0, np.array([1, 2], dtype=np.int64))
    assert pair.median_distance_m == pytest.approx((BINS - 1) * BIN_M)
    assert pair.offset_m == (0.0, 0.0)  # beyond 3 m: two different people, not a shift


def test_a_non_finite_or_huge_gap_cannot_break_the_check() -> None:
    """The check runs inside the fusion's frame loop: a NaN, infinite or absurd gap (a position gone wrong
    elsewhere) must not raise there (its bin index cast from NaN or 1e300 was negative and bincount raised); the
    non-finite samples are left out, a huge finite one is "at least" the histogram's end."""
    agreement = CameraAgreement()
    gaps = np.array([[np.nan, 0.0], [np.inf, 0.0], [1e300, 1e300], [0.25, 0.0]])
    agreement.record(0, 0, np.array([1, 1, 1, 1]), gaps)
    (pair,) = agreement.summary(0, np.array([1, 2], dtype=np.int64))
    assert pair.samples == pytest.approx(2.0)
    assert pair.p90_distance_m == pytest.approx((BINS - 1) * BIN_M)
    assert pair.offset_m == pytest.approx((0.25, 0.0))
