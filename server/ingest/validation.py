"""Validation and decoding of TrackFrames: protobuf in, plain numpy arrays out (`server.frames.DecodedFrame`), or a
typed error with a reason.

Pure: no Django, no I/O. Every check is vectorised over the columns of a frame.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import grpc
import numpy as np
import numpy.typing as npt

from proto.retail.v1 import track_pb2
from server.errors import ApplicationError
from server.frames import DecodedFrame, TrackState
from server.fusion.appearance import DESCRIPTOR_BYTES, LAYOUT_COLOUR_HISTOGRAMS_V1
from server.ingest.sequencing import MAX_EPOCH, MAX_SEQUENCE

MAX_TRACKS_PER_FRAME = 1000
MAX_ABS_FLOOR_CM = 1_000_000
MAX_BOX_SIDE_PX = 16_384
MIN_BOX_XY_PX = -16_384
MAX_BOX_XY_PX = 32_768
MAX_SCORE_PERMILLE = 1000
MAX_LOCAL_ID = 2**32 - 1


VALID_STATES = frozenset(TrackState)
_MAX_STATE = max(VALID_STATES)


class Rejection(enum.StrEnum):
    """Why the ingest refuses a device's message (SPEC §7). The servicer maps each to the gRPC status the device
    gets in its FrameRejected (`server.ingest.servicer.GRPC_STATUS`); a frame's reason is also its key in the
    ingest stats (`IngestStats.rejected_by_reason`) and picks its metric label."""

    MALFORMED = "malformed"  # bytes that are no EdgeMessage
    EMPTY = "empty"  # an EdgeMessage without payload
    INVALID_ARGUMENT = "invalid_argument"  # values out of range, a sequence its window cannot take
    OUT_OF_WINDOW = (
        "failed_precondition"  # capture time off the server clock, a sequence epoch no longer tracked
    )
    OVERSIZED = "oversized"  # a TrackFrame over INGEST_MAX_MESSAGE_BYTES
    UNKNOWN_CAMERA = "unknown_camera"  # no such camera (or deleted)
    FOREIGN_CAMERA = "foreign_camera"  # a camera of another device
    HEARTBEAT_OVERSIZED = "heartbeat_oversized"
    HEARTBEAT_TOO_FREQUENT = "heartbeat_too_frequent"
    HEARTBEAT_PARTIAL = "heartbeat_partial"  # recorded without the entries the device may not report
    SNAPSHOT_FOREIGN_CAMERA = "snapshot_foreign_camera"
    SNAPSHOT_OVERSIZED = "snapshot_oversized"
    SNAPSHOT_NOT_JPEG = "snapshot_not_jpeg"
    SNAPSHOT_UNKNOWN_CAMERA = "snapshot_unknown_camera"  # a camera deleted since the stream's last re-check


class InvalidFrameError(ApplicationError):
    """A frame that will never be stored: `rejection` says why, `message` tells the device's operator."""

    def __init__(self, rejection: Rejection | grpc.StatusCode, message: str) -> None:
        if isinstance(
            rejection, grpc.StatusCode
        ):  # the pipeline's raise sites name the status of their reason
            rejection = Rejection(rejection.name.lower())
        super().__init__(message, code=rejection.value)
        self.rejection = rejection


@dataclass(frozen=True, slots=True)
class TimeWindow:
    max_past_us: int
    max_future_us: int


def _column(values: object, name: str, count: int) -> npt.NDArray[np.int64]:
    array: npt.NDArray[np.int64] = np.fromiter(values, dtype=np.int64)  # type: ignore[call-overload]
    if array.shape[0] != count:
        raise InvalidFrameError(
            Rejection.INVALID_ARGUMENT,
            f"column {name} has {array.shape[0]} entries, expected {count} (one per track)",
        )
    return array


def _check_range(array: npt.NDArray[np.int64], name: str, low: int, high: int) -> None:
    bad = np.flatnonzero((array < low) | (array > high))
    if bad.size:
        index = int(bad[0])
        raise InvalidFrameError(
            Rejection.INVALID_ARGUMENT,
            f"{name}[{index}] = {int(array[index])} is outside {low} .. {high}",
        )


def decode_frame(frame: track_pb2.TrackFrame, *, now_us: int, window: TimeWindow) -> DecodedFrame:
    """Check every field of `frame` against the contract in track.proto and return its columns as arrays."""
    if frame.camera_id == 0:
        raise InvalidFrameError(Rejection.INVALID_ARGUMENT, "camera_id must be set (> 0)")
    if frame.sequence == 0:
        raise InvalidFrameError(Rejection.INVALID_ARGUMENT, "sequence must start at 1")
    if frame.sequence > MAX_SEQUENCE:
        raise InvalidFrameError(
            Rejection.INVALID_ARGUMENT,
            f"sequence {frame.sequence} is outside the legal range 1 .. 2^63-1",
        )
    if frame.sequence_epoch > MAX_EPOCH:
        raise InvalidFrameError(
            Rejection.INVALID_ARGUMENT,
            f"sequence_epoch {frame.sequence_epoch} is outside the legal range 0 .. 2^63-1",
        )
    if (
        frame.capture_time_us < now_us - window.max_past_us
        or frame.capture_time_us > now_us + window.max_future_us
    ):
        offset_s = (frame.capture_time_us - now_us) / 1e6
        raise InvalidFrameError(
            Rejection.OUT_OF_WINDOW,
            f"capture_time_us is {offset_s:+.1f} s from the server clock, outside the accepted window "
            f"(-{window.max_past_us / 1e6:.0f} s .. +{window.max_future_us / 1e6:.0f} s); check the box's clock (NTP)",
        )
    count = len(frame.local_id_deltas)
    if count > MAX_TRACKS_PER_FRAME:
        raise InvalidFrameError(
            Rejection.INVALID_ARGUMENT, f"{count} tracks in one frame, at most {MAX_TRACKS_PER_FRAME}"
        )
    deltas = _column(frame.local_id_deltas, "local_id_deltas", count)
    if count and (deltas[0] < 1 or (count > 1 and bool(np.any(deltas[1:] < 1)))):
        raise InvalidFrameError(
            Rejection.INVALID_ARGUMENT,
            "local_id_deltas must encode ids ≥ 1 sorted strictly ascending (every delta > 0)",
        )
    local_ids = np.cumsum(deltas)
    if count and int(local_ids[-1]) > MAX_LOCAL_ID:
        raise InvalidFrameError(Rejection.INVALID_ARGUMENT, "local ids exceed 2^32-1")
    x = _column(frame.bbox_x_px, "bbox_x_px", count)
    y = _column(frame.bbox_y_px, "bbox_y_px", count)
    w = _column(frame.bbox_w_px, "bbox_w_px", count)
    h = _column(frame.bbox_h_px, "bbox_h_px", count)
    _check_range(x, "bbox_x_px", MIN_BOX_XY_PX, MAX_BOX_XY_PX)
    _check_range(y, "bbox_y_px", MIN_BOX_XY_PX, MAX_BOX_XY_PX)
    _check_range(w, "bbox_w_px", 1, MAX_BOX_SIDE_PX)
    _check_range(h, "bbox_h_px", 1, MAX_BOX_SIDE_PX)
    fx = _column(frame.floor_x_cm, "floor_x_cm", count)
    fy = _column(frame.floor_y_cm, "floor_y_cm", count)
    _check_range(fx, "floor_x_cm", -MAX_ABS_FLOOR_CM, MAX_ABS_FLOOR_CM)
    _check_range(fy, "floor_y_cm", -MAX_ABS_FLOOR_CM, MAX_ABS_FLOOR_CM)
    score = _column(frame.score_permille, "score_permille", count)
    _check_range(score, "score_permille", 0, MAX_SCORE_PERMILLE)
    state = _column(frame.state, "state", count)
    _check_range(state, "state", 1, _MAX_STATE)
    flags = _column(frame.flags, "flags", count) if len(frame.flags) else np.zeros(count, dtype=np.int64)
    appearance_rows, appearance = _decode_appearance(frame, count)
    return DecodedFrame(
        camera_id=frame.camera_id,
        sequence=frame.sequence,
        capture_time_us=frame.capture_time_us,
        local_ids=local_ids,
        bbox_xywh_px=np.stack([x, y, w, h], axis=1).astype(np.int32),
        floor_xy_cm=np.stack([fx, fy], axis=1).astype(np.int32),
        score_permille=score.astype(np.int32),
        state=state.astype(np.int32),
        flags=flags.astype(np.int32),
        sequence_epoch=frame.sequence_epoch,
        appearance_rows=appearance_rows,
        appearance=appearance,
    )


def _decode_appearance(
    frame: track_pb2.TrackFrame, count: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """The appearance columns (track.proto fields 20-22): layout 0 with both columns empty, or layout 1 with one
    16-byte descriptor per listed row, rows strictly ascending and within the frame's tracks."""
    layout = frame.appearance_layout
    rows_given = len(frame.appearance_rows)
    if layout == 0:
        if rows_given or frame.appearance:
            raise InvalidFrameError(
                Rejection.INVALID_ARGUMENT,
                "appearance_layout is 0 (no descriptors) but appearance_rows or appearance is not empty",
            )
        return np.zeros(0, dtype=np.int64), np.zeros((0, DESCRIPTOR_BYTES), dtype=np.uint8)
    if layout != LAYOUT_COLOUR_HISTOGRAMS_V1:
        raise InvalidFrameError(
            Rejection.INVALID_ARGUMENT,
            f"appearance_layout {layout} is unknown (0 = none, {LAYOUT_COLOUR_HISTOGRAMS_V1} = colour histograms v1)",
        )
    if len(frame.appearance) != DESCRIPTOR_BYTES * rows_given:
        raise InvalidFrameError(
            Rejection.INVALID_ARGUMENT,
            f"appearance has {len(frame.appearance)} bytes, expected {DESCRIPTOR_BYTES} per row of appearance_rows "
            f"({DESCRIPTOR_BYTES * rows_given})",
        )
    if rows_given and count == 0:
        raise InvalidFrameError(
            Rejection.INVALID_ARGUMENT, "appearance_rows lists rows but the frame has no tracks"
        )
    rows = np.fromiter(frame.appearance_rows, dtype=np.int64, count=rows_given)
    if rows_given and (int(rows[-1]) >= count or (rows_given > 1 and bool(np.any(np.diff(rows) < 1)))):
        raise InvalidFrameError(
            Rejection.INVALID_ARGUMENT,
            f"appearance_rows must be strictly ascending track rows 0 .. {count - 1}",
        )
    descriptors = np.frombuffer(frame.appearance, dtype=np.uint8).reshape(rows_given, DESCRIPTOR_BYTES)
    return rows, descriptors.copy()
