"""Wire layout 1 of the appearance descriptor: nibble packing, normalisation and the similarity measure."""

from __future__ import annotations

import numpy as np
import pytest

from server.fusion import appearance
from server.fusion.errors import FusionInputError
from server.fusion.types import CameraObservations


def test_pack_then_unpack_keeps_the_shares_up_to_quantisation() -> None:
    rng = np.random.default_rng(7)
    shares = rng.dirichlet(np.ones(appearance.CLASSES), size=(5, appearance.PARTS))
    descriptors = appearance.pack(shares)
    assert descriptors.shape == (5, appearance.DESCRIPTOR_BYTES)
    assert descriptors.dtype == np.uint8
    back = appearance.unpack(descriptors)
    assert back.shape == (5, appearance.PARTS, appearance.CLASSES)
    np.testing.assert_allclose(back.sum(axis=2), 1.0, rtol=1e-5)
    # The fullest class of each part is exactly 15 on the wire.
    nibbles = np.stack([descriptors & 0x0F, descriptors >> 4], axis=2).reshape(5, 2, 16)
    assert (nibbles.max(axis=2) == 15).all()


def test_class_order_low_nibble_first() -> None:
    shares = np.zeros((1, 2, 16))
    shares[0, 0, 1] = 1.0  # upper body, class 1: high nibble of byte 0
    shares[0, 1, 2] = 1.0  # lower body, class 2: low nibble of byte 9
    descriptor = appearance.pack(shares)[0]
    assert descriptor[0] == 0xF0
    assert descriptor[9] == 0x0F
    assert int(descriptor.sum()) == 0xF0 + 0x0F


def test_similarity_is_one_for_equal_zero_for_disjoint_none_when_unmeasurable() -> None:
    a = np.zeros((1, 2, 16))
    a[0, :, 3] = 1.0
    b = np.zeros((1, 2, 16))
    b[0, :, 4] = 1.0
    ua, ub = appearance.unpack(appearance.pack(a)), appearance.unpack(appearance.pack(b))
    assert appearance.similarity(ua[0], ua[0]) == pytest.approx(1.0)
    assert appearance.similarity(ua[0], ub[0]) == pytest.approx(0.0)
    empty = appearance.unpack(np.zeros((1, 16), dtype=np.uint8))[0]
    assert appearance.similarity(ua[0], empty) is None


def test_observations_reject_a_descriptor_for_a_row_that_does_not_exist() -> None:
    obs = CameraObservations(
        site_id=1,
        camera_id=1,
        capture_time_us=1,
        local_ids=np.array([1, 2], dtype=np.int64),
        floor_xy_m=np.zeros((2, 2)),
        scores=np.ones(2, dtype=np.float32),
        confirmed=np.ones(2, dtype=bool),
        valid_floor=np.ones(2, dtype=bool),
        appearance_rows=np.array([2], dtype=np.int64),
        appearance=np.zeros((1, 16), dtype=np.uint8),
    )
    with pytest.raises(FusionInputError):
        obs.validate()
