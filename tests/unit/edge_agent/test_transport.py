"""TrackFrame encoding (wire contract) and the on-disk spool."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from edge_agent.transport.encoder import (
    decode_local_ids,
    encode_track_frame,
    frame_message_bytes,
    heartbeat_message_bytes,
)
from edge_agent.transport.sink import SpoolSink
from edge_agent.transport.spool import Spool
from edge_agent.types import Tracks, TrackState
from proto.retail.v1 import edge_service_pb2, track_pb2


def make_tracks(n: int, seed: int = 0, flags: bool = False) -> Tracks:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1200, (n, 2))
    size = rng.uniform((30, 80), (70, 200), (n, 2))
    return Tracks(
        ids=rng.choice(np.arange(1, 5000), n, replace=False).astype(np.int64),
        xyxy_px=np.concatenate((xy, xy + size), axis=1).astype(np.float32),
        scores=rng.uniform(0.3, 1.0, n).astype(np.float32),
        states=rng.choice([2, 3], n).astype(np.int8),
        floor_xy_cm=rng.uniform(-500, 3000, (n, 2)).astype(np.float32),
        flags=(rng.integers(0, 2, n) if flags else np.zeros(n)).astype(np.uint32),
    )


def test_columns_are_sorted_delta_encoded_and_quantised() -> None:
    tracks = make_tracks(12, flags=True)
    frame = track_pb2.TrackFrame.FromString(
        encode_track_frame(4, 99, 1_700_000_000_123_456, tracks).SerializeToString()
    )
    order = np.argsort(tracks.ids)
    assert (frame.camera_id, frame.sequence, frame.capture_time_us) == (4, 99, 1_700_000_000_123_456)
    assert decode_local_ids(frame) == sorted(tracks.ids.tolist())
    assert all(d > 0 for d in frame.local_id_deltas)
    boxes = tracks.xyxy_px[order]
    assert list(frame.bbox_x_px) == np.rint(boxes[:, 0]).astype(int).tolist()
    assert list(frame.bbox_h_px) == np.rint(boxes[:, 3] - boxes[:, 1]).astype(int).tolist()
    assert list(frame.floor_y_cm) == np.rint(tracks.floor_xy_cm[order, 1]).astype(int).tolist()
    assert list(frame.score_permille) == np.rint(tracks.scores[order] * 1000).astype(int).tolist()
    assert list(frame.state) == tracks.states[order].tolist()
    assert list(frame.flags) == tracks.flags[order].tolist()


def test_flags_column_is_omitted_when_all_zero_and_nan_floor_travels_as_zero() -> None:
    tracks = make_tracks(3)
    tracks.floor_xy_cm[:] = np.nan
    frame = encode_track_frame(1, 1, 0, tracks)
    assert len(frame.flags) == 0
    assert list(frame.floor_x_cm) == [0, 0, 0]


@pytest.mark.parametrize(
    ("box", "floor", "expected_box", "expected_floor"),
    [
        ((-20000.0, 10.0, -19990.0, 30.0), (5e6, -5e6), (-16384, 10, 10, 20), (1_000_000, -1_000_000)),
        ((5.2, 5.6, 5.3, 5.7), (1.4, 1.6), (5, 6, 1, 1), (1, 2)),
    ],
)
def test_values_are_clamped_to_the_contract_ranges(
    box: tuple[float, ...],
    floor: tuple[float, float],
    expected_box: tuple[int, ...],
    expected_floor: tuple[int, int],
) -> None:
    tracks = Tracks(
        ids=np.array([7], np.int64),
        xyxy_px=np.array([box], np.float32),
        scores=np.array([1.2], np.float32),
        states=np.array([TrackState.CONFIRMED], np.int8),
        floor_xy_cm=np.array([floor], np.float32),
    )
    frame = encode_track_frame(1, 1, 0, tracks)
    assert (frame.bbox_x_px[0], frame.bbox_y_px[0], frame.bbox_w_px[0], frame.bbox_h_px[0]) == expected_box
    assert (frame.floor_x_cm[0], frame.floor_y_cm[0]) == expected_floor
    assert frame.score_permille[0] == 1000


@pytest.mark.parametrize("people", [10, 30])
def test_bytes_per_person_on_the_socket_stay_under_20(people: int) -> None:
    tracks = make_tracks(people)
    tracks.ids = np.arange(
        2000, 2000 + people, dtype=np.int64
    )  # a camera's ids after a while: dense, 4 digits
    payload = encode_track_frame(3, 250_000, 1_760_000_000_000_000, tracks).SerializeToString()
    message = frame_message_bytes(payload)
    assert edge_service_pb2.EdgeMessage.FromString(message).frame.sequence == 250_000
    on_socket = len(message) + 5 + 9  # gRPC length prefix + HTTP/2 DATA frame header
    assert on_socket / people <= 20.0


def test_heartbeat_message_round_trip() -> None:
    heartbeat = track_pb2.Heartbeat(uptime_s=5, spool_depth_frames=3)
    assert edge_service_pb2.EdgeMessage.FromString(heartbeat_message_bytes(heartbeat)).heartbeat.uptime_s == 5


# ---- spool ------------------------------------------------------------------------------------------------------


def append(spool: Spool, camera_id: int, size: int = 10) -> int:
    return spool.append(camera_id, lambda sequence: bytes([sequence % 256]) * size)


def test_sequences_continue_across_restarts_and_frames_survive(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    spool = Spool(path)
    assert [append(spool, 1) for _ in range(3)] == [1, 2, 3]
    assert append(spool, 2) == 1
    spool.close()
    reopened = Spool(path)
    assert reopened.depth_frames == 4
    assert append(reopened, 1) == 4
    assert reopened.last_sequence(2) == 1
    assert [(f.camera_id, f.sequence) for f in reopened.pending(0, 10)] == [
        (1, 1),
        (1, 2),
        (1, 3),
        (2, 1),
        (1, 4),
    ]


def test_a_fresh_spool_starts_a_new_sequence_epoch_that_survives_restarts(tmp_path: Path) -> None:
    before_us = time.time_ns() // 1000
    first = Spool(tmp_path / "a" / "spool.sqlite3")
    assert before_us <= first.epoch <= time.time_ns() // 1000
    first.close()
    assert Spool(tmp_path / "a" / "spool.sqlite3").epoch == first.epoch
    # A wiped spool (or the fresh spool of a replacement box) is a new epoch; its sequences restart at 1.
    (tmp_path / "a" / "spool.sqlite3").unlink()
    wiped = Spool(tmp_path / "a" / "spool.sqlite3")
    assert wiped.epoch > first.epoch
    assert append(wiped, 1) == 1


def test_a_spool_of_an_agent_before_epochs_keeps_the_legacy_epoch(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    legacy = sqlite3.connect(path)
    legacy.executescript(
        "CREATE TABLE frames (id INTEGER PRIMARY KEY AUTOINCREMENT, camera_id INTEGER NOT NULL,"
        " sequence INTEGER NOT NULL, payload BLOB NOT NULL, UNIQUE (camera_id, sequence));"
        "CREATE TABLE sequences (camera_id INTEGER PRIMARY KEY, last_sequence INTEGER NOT NULL);"
        "INSERT INTO sequences VALUES (1, 41);"
    )
    legacy.close()
    spool = Spool(path)
    assert spool.epoch == 0
    assert append(spool, 1) == 42
    spool.close()
    assert Spool(path).epoch == 0


def test_the_sink_stamps_frames_with_the_spool_epoch(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    SpoolSink(spool).emit(3, 1_700_000_000_000_000, make_tracks(2))
    frame = track_pb2.TrackFrame.FromString(spool.pending(0, 1)[0].payload)
    assert (frame.camera_id, frame.sequence, frame.sequence_epoch) == (3, 1, spool.epoch)


def test_ack_and_reject_remove_frames(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    for _ in range(5):
        append(spool, 1)
        append(spool, 2)
    assert spool.ack(1, 3) == 3
    assert spool.remove(2, 2) == 1
    assert spool.ack(1, 3) == 0
    assert [(f.camera_id, f.sequence) for f in spool.pending(0, 100)] == [
        (2, 1), (2, 3), (1, 4), (2, 4), (1, 5), (2, 5)
    ]  # fmt: skip
    assert spool.depth_frames == 6
    assert spool.depth_bytes == 60
    cursor = spool.pending(0, 2)[-1].row_id
    assert [f.sequence for f in spool.pending(cursor, 100)] == [4, 4, 5, 5]


@pytest.mark.parametrize(("max_frames", "max_bytes", "kept"), [(5, 10_000_000, 5), (1000, 64 * 1024, 6)])
def test_full_spool_evicts_oldest_first_and_counts(
    tmp_path: Path, max_frames: int, max_bytes: int, kept: int
) -> None:
    spool = Spool(tmp_path / "spool.sqlite3", max_frames=max_frames, max_bytes=max_bytes)
    for _ in range(12):
        append(spool, 1, size=10_000)
    assert spool.depth_frames == kept
    assert spool.evicted_total == 12 - kept
    assert [f.sequence for f in spool.pending(0, 100)] == list(range(13 - kept, 13))
    assert spool.depth_bytes <= max_bytes


def test_a_failed_write_is_a_spool_error_and_keeps_counts(tmp_path: Path) -> None:
    from edge_agent.errors import SpoolError

    spool = Spool(tmp_path / "spool.sqlite3")
    append(spool, 1)
    spool._db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON frames BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(SpoolError, match="disk full"):
        append(spool, 1)
    assert spool.depth_frames == 1
    assert spool.last_sequence(1) == 1


def test_unreadable_spool_file_is_a_spool_error(tmp_path: Path) -> None:
    from edge_agent.errors import SpoolError

    path = tmp_path / "spool.sqlite3"
    path.write_bytes(b"not a database" * 1000)
    with pytest.raises((SpoolError, sqlite3.DatabaseError)):
        Spool(path)
