"""The appearance columns of a TrackFrame (track.proto fields 20-22): what the edge encodes, what the ingest decodes,
and the malformed ones it refuses with INVALID_ARGUMENT."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from edge_agent.transport.encoder import encode_track_frame
from edge_agent.types import Tracks
from server.ingest.servicer import GRPC_STATUS
from server.ingest.validation import InvalidFrameError, decode_frame
from tests.unit.ingest.test_validation import NOW_US, WINDOW, make_frame

DESCRIPTOR = bytes(range(16))


def tracks_with(ids: list[int], descriptors: dict[int, bytes]) -> Tracks:
    count = len(ids)
    appearance = np.zeros((count, 16), dtype=np.uint8)
    for row, local_id in enumerate(ids):
        if local_id in descriptors:
            appearance[row] = np.frombuffer(descriptors[local_id], dtype=np.uint8)
    return Tracks(
        ids=np.array(ids, dtype=np.int64),
        xyxy_px=np.tile(np.array([[10, 20, 50, 140]], np.float32), (count, 1)),
        scores=np.full(count, 0.9, np.float32),
        states=np.full(count, 2, np.int8),
        appearance=appearance,
    )


def test_the_edge_encodes_descriptors_for_their_rows_and_the_ingest_decodes_them_unchanged() -> None:
    # Tracks in any order: the encoder sorts by id, the rows follow.
    first, second = bytes([0x0F] * 8 + [0xF0] * 8), bytes([0x1F, 0x23] + [0] * 6 + [0x0F] + [0] * 7)
    tracks = tracks_with([9, 3, 5], {9: first, 3: second})
    frame = encode_track_frame(7, 42, NOW_US, tracks)
    assert (frame.appearance_layout, list(frame.appearance_rows)) == (1, [0, 2])
    decoded = decode_frame(frame, now_us=NOW_US, window=WINDOW)
    assert decoded.local_ids.tolist() == [3, 5, 9]
    assert decoded.appearance_rows.tolist() == [0, 2]
    assert decoded.appearance.dtype == np.uint8
    assert [bytes(d) for d in decoded.appearance] == [second, first]


def test_frames_without_descriptors_carry_no_appearance_columns() -> None:
    for tracks in (tracks_with([1, 2], {}), Tracks.empty()):
        frame = encode_track_frame(7, 42, NOW_US, tracks)
        assert (frame.appearance_layout, len(frame.appearance_rows), frame.appearance) == (0, 0, b"")
        decoded = decode_frame(frame, now_us=NOW_US, window=WINDOW)
        assert decoded.appearance_rows.shape == (0,)
        assert decoded.appearance.shape == (0, 16)


def test_layout_one_with_every_row() -> None:
    frame = make_frame(appearance_layout=1, appearance_rows=[0, 1, 2], appearance=DESCRIPTOR * 3)
    decoded = decode_frame(frame, now_us=NOW_US, window=WINDOW)
    assert decoded.appearance.shape == (3, 16)
    assert decoded.appearance[2].tolist() == list(range(16))


@pytest.mark.parametrize(
    ("overrides", "reason_part"),
    [
        ({"appearance_layout": 2, "appearance_rows": [0], "appearance": DESCRIPTOR}, "appearance_layout 2"),
        (
            {"appearance_layout": 0, "appearance_rows": [0], "appearance": DESCRIPTOR},
            "appearance_layout is 0",
        ),
        ({"appearance_layout": 0, "appearance": DESCRIPTOR}, "appearance_layout is 0"),
        (
            {"appearance_layout": 1, "appearance_rows": [0, 1], "appearance": DESCRIPTOR},
            "expected 16 per row",
        ),
        ({"appearance_layout": 1, "appearance_rows": [0], "appearance": DESCRIPTOR + b"\x00"}, "17 bytes"),
        (
            {"appearance_layout": 1, "appearance_rows": [1, 1], "appearance": DESCRIPTOR * 2},
            "strictly ascending",
        ),
        (
            {"appearance_layout": 1, "appearance_rows": [2, 0], "appearance": DESCRIPTOR * 2},
            "strictly ascending",
        ),
        ({"appearance_layout": 1, "appearance_rows": [3], "appearance": DESCRIPTOR}, "rows 0 .. 2"),
        (
            {"appearance_layout": 1, "appearance_rows": [0, 1, 2, 3], "appearance": DESCRIPTOR * 4},
            "rows 0 .. 2",
        ),
    ],
)
def test_malformed_appearance_columns_are_invalid_arguments(
    overrides: dict[str, object], reason_part: str
) -> None:
    with pytest.raises(InvalidFrameError) as caught:
        decode_frame(make_frame(**overrides), now_us=NOW_US, window=WINDOW)
    assert GRPC_STATUS[caught.value.rejection] == grpc.StatusCode.INVALID_ARGUMENT
    assert reason_part in caught.value.message
