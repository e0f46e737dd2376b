"""The bus message of a decoded TrackFrame: every column round-trips exactly, and bad bytes are refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from server.bus.codec import FrameCodecError, decode_frame_message, encode_frame, message_id
from server.frames import DecodedFrame


def _frame(tracks: int = 3) -> DecodedFrame:
    rng = np.random.default_rng(5)
    return DecodedFrame(
        camera_id=17,
        sequence=2**62 + 5,
        capture_time_us=1_700_000_000_123_456,
        local_ids=np.cumsum(rng.integers(1, 9, tracks)).astype(np.int64),
        bbox_xywh_px=rng.integers(-100, 3000, (tracks, 4)).astype(np.int32),
        floor_xy_cm=rng.integers(-90_000, 90_000, (tracks, 2)).astype(np.int32),
        score_permille=rng.integers(0, 1000, tracks).astype(np.int32),
        state=rng.integers(1, 5, tracks).astype(np.int32),
        flags=rng.integers(0, 2, tracks).astype(np.int32),
        sequence_epoch=1_733_000_000_000_000,
    )


@pytest.mark.parametrize("tracks", [0, 1, 40])
def test_every_column_round_trips(tracks: int) -> None:
    frame = _frame(tracks)
    decoded = decode_frame_message(encode_frame(frame))
    for spec in dataclasses.fields(frame):
        original, back = getattr(frame, spec.name), getattr(decoded, spec.name)
        if isinstance(original, np.ndarray):
            assert back.dtype == original.dtype, spec.name
            assert back.shape == original.shape, spec.name
            assert np.array_equal(back, original), spec.name
        else:
            assert back == original, spec.name


def test_message_id_names_camera_epoch_and_sequence() -> None:
    assert message_id(3, 0, 9) == "3:0:9"
    assert message_id(3, 1, 9) != message_id(3, 0, 9)


@pytest.mark.parametrize("data", [b"", b"RF1", b"XX1\x00\x00\x00\x00{}", b"RF1\x05\x00\x00\x00{bad}"])
def test_bytes_that_are_no_frame_message_are_refused(data: bytes) -> None:
    with pytest.raises(FrameCodecError):
        decode_frame_message(data)


def test_a_truncated_column_is_refused() -> None:
    data = encode_frame(_frame(10))
    with pytest.raises(FrameCodecError, match="runs past"):
        decode_frame_message(data[:-8])


def test_appearance_descriptors_reach_the_worker_byte_for_byte() -> None:
    """The fusion of a site worker needs the descriptors as much as the embedded one does."""
    rng = np.random.default_rng(8)
    frame = dataclasses.replace(
        _frame(5),
        appearance_rows=np.array([0, 3], dtype=np.int64),
        appearance=rng.integers(0, 256, (2, 16)).astype(np.uint8),
    )
    decoded = decode_frame_message(encode_frame(frame))
    np.testing.assert_array_equal(decoded.appearance_rows, frame.appearance_rows)
    np.testing.assert_array_equal(decoded.appearance, frame.appearance)
    assert decoded.appearance.dtype == np.uint8


def test_decoded_columns_are_writable_and_independent() -> None:
    """The worker's decoder hands out views of one copy of the message's bytes: each column is writable (as a copy
    of its own was), aligned, and writing one changes neither another column nor the message."""
    rng = np.random.default_rng(9)
    frame = dataclasses.replace(
        _frame(5),  # 5 rows: the appearance rows (int64) start at an offset that is no multiple of 8
        appearance_rows=np.array([1, 4], dtype=np.int64),
        appearance=rng.integers(0, 256, (2, 16)).astype(np.uint8),
    )
    data = encode_frame(frame)
    decoded = decode_frame_message(data)
    columns = {
        spec.name: getattr(decoded, spec.name)
        for spec in dataclasses.fields(decoded)
        if isinstance(getattr(decoded, spec.name), np.ndarray)
    }
    for name, column in columns.items():
        assert column.flags.writeable, name
        assert column.flags.aligned, name
    decoded.local_ids[:] = -1
    decoded.bbox_xywh_px[:] = -1
    for name, column in columns.items():
        if name not in ("local_ids", "bbox_xywh_px"):
            np.testing.assert_array_equal(column, getattr(frame, name), err_msg=name)
    again = decode_frame_message(data)  # the message is as it was
    np.testing.assert_array_equal(again.local_ids, frame.local_ids)
    np.testing.assert_array_equal(again.bbox_xywh_px, frame.bbox_xywh_px)
