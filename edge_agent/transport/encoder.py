"""Tracks → TrackFrame (columnar, quantised; see proto/retail/v1/track.proto) and EdgeMessage framing."""

from __future__ import annotations

import numpy as np

from edge_agent.types import MAX_TRACKS_PER_FRAME as MAX_TRACKS_PER_FRAME  # the contract's bound, re-exported
from edge_agent.types import Tracks
from proto.retail.v1 import edge_service_pb2, track_pb2

_BBOX_XY_MIN_PX = -16384
_BBOX_XY_MAX_PX = 32768
_BBOX_WH_MAX_PX = 16384
_FLOOR_LIMIT_CM = 1_000_000
APPEARANCE_LAYOUT_COLOUR_HISTOGRAMS_V1 = 1
APPEARANCE_DESCRIPTOR_BYTES = 16


def encode_track_frame(
    camera_id: int, sequence: int, capture_time_us: int, tracks: Tracks, sequence_epoch: int = 0
) -> track_pb2.TrackFrame:
    """Build the wire frame: ids sorted and delta-encoded, every column in the same order, flags only when
    set, appearance descriptors only for the rows that carry one in this frame (``Tracks.appearance``, all-zero
    rows carry none; layout 1).

    Floor positions that are NaN (uncalibrated camera, point beyond the horizon) travel as 0 (their flag
    says why). At most ``MAX_TRACKS_PER_FRAME`` tracks are sent (the lowest ids), as the contract allows.
    """
    order = np.argsort(tracks.ids, kind="stable")[:MAX_TRACKS_PER_FRAME]
    ids = tracks.ids[order]
    boxes = tracks.xyxy_px[order].astype(np.float64)
    deltas = np.diff(ids, prepend=0)
    x = np.clip(np.rint(boxes[:, 0]), _BBOX_XY_MIN_PX, _BBOX_XY_MAX_PX)
    y = np.clip(np.rint(boxes[:, 1]), _BBOX_XY_MIN_PX, _BBOX_XY_MAX_PX)
    w = np.clip(np.rint(boxes[:, 2] - boxes[:, 0]), 1, _BBOX_WH_MAX_PX)
    h = np.clip(np.rint(boxes[:, 3] - boxes[:, 1]), 1, _BBOX_WH_MAX_PX)
    floor = tracks.floor_xy_cm[order].astype(np.float64)
    floor = np.clip(np.nan_to_num(np.rint(floor), nan=0.0), -_FLOOR_LIMIT_CM, _FLOOR_LIMIT_CM)
    scores = np.clip(np.rint(tracks.scores[order].astype(np.float64) * 1000.0), 0, 1000)
    flags = tracks.flags[order]
    frame = track_pb2.TrackFrame(
        camera_id=camera_id,
        sequence=sequence,
        sequence_epoch=sequence_epoch,
        capture_time_us=capture_time_us,
        local_id_deltas=deltas.astype(np.int64).tolist(),
        bbox_x_px=x.astype(np.int64).tolist(),
        bbox_y_px=y.astype(np.int64).tolist(),
        bbox_w_px=w.astype(np.int64).tolist(),
        bbox_h_px=h.astype(np.int64).tolist(),
        floor_x_cm=floor[:, 0].astype(np.int64).tolist(),
        floor_y_cm=floor[:, 1].astype(np.int64).tolist(),
        score_permille=scores.astype(np.int64).tolist(),
        state=tracks.states[order].astype(np.int64).tolist(),
    )
    if flags.any():
        frame.flags.extend(flags.astype(np.int64).tolist())
    if tracks.appearance is not None:
        descriptors = tracks.appearance[order]
        rows = np.flatnonzero(descriptors.any(axis=1))
        if rows.size:
            frame.appearance_layout = APPEARANCE_LAYOUT_COLOUR_HISTOGRAMS_V1
            frame.appearance_rows.extend(rows.tolist())
            frame.appearance = np.ascontiguousarray(descriptors[rows], dtype=np.uint8).tobytes()
    return frame


def decode_local_ids(frame: track_pb2.TrackFrame) -> list[int]:
    """The absolute local ids of a TrackFrame (inverse of the delta encoding)."""
    return [int(v) for v in np.cumsum(np.asarray(frame.local_id_deltas, dtype=np.int64))]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def frame_message_bytes(track_frame_bytes: bytes) -> bytes:
    """Serialized ``EdgeMessage{frame: ...}`` from already-serialized TrackFrame bytes (no re-encoding)."""
    return b"\x0a" + _varint(len(track_frame_bytes)) + track_frame_bytes


def heartbeat_message_bytes(heartbeat: track_pb2.Heartbeat) -> bytes:
    return edge_service_pb2.EdgeMessage(heartbeat=heartbeat).SerializeToString()


def snapshot_message_bytes(camera_id: int, capture_time_us: int, jpeg: bytes) -> bytes:
    snapshot = edge_service_pb2.CameraSnapshot(
        camera_id=camera_id, capture_time_us=capture_time_us, jpeg=jpeg
    )
    return edge_service_pb2.EdgeMessage(snapshot=snapshot).SerializeToString()
