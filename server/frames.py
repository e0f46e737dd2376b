"""A camera's frame of tracks as it leaves the ingest's validation, in the form every stage after it takes.

The TrackFrame walks one way: the servicer decodes it (server.ingest.validation), the pipeline admits it, the frame
processors (server.insights.processor, the bus sink, the per-camera live tracks) take it from here, and the fusion
gets it as `CameraObservations` (`camera_observations`). Those stages import these types, not the ingest.

Pure: NumPy and the generated protobuf enum values only, no Django, no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from proto.retail.v1 import track_pb2
from server.fusion.appearance import DESCRIPTOR_BYTES
from server.fusion.types import CameraObservations


class TrackState(enum.IntEnum):
    """A track's state on the wire (track.proto `TrackState`), as the `state` column of a decoded frame holds it."""

    TENTATIVE = track_pb2.TRACK_STATE_TENTATIVE
    CONFIRMED = track_pb2.TRACK_STATE_CONFIRMED
    LOST = track_pb2.TRACK_STATE_LOST
    REMOVED = track_pb2.TRACK_STATE_REMOVED


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """One TrackFrame after validation: row ``i`` of every column is one local track of the camera."""

    camera_id: int
    sequence: int
    capture_time_us: int
    local_ids: npt.NDArray[np.int64]
    bbox_xywh_px: npt.NDArray[np.int32]  # (N, 4)
    floor_xy_cm: npt.NDArray[np.int32]  # (N, 2)
    score_permille: npt.NDArray[np.int32]
    state: npt.NDArray[np.int32]
    flags: npt.NDArray[np.int32]

    sequence_epoch: int = 0
    # Appearance descriptors sent with this frame (layout 1): `appearance[k]` belongs to row `appearance_rows[k]`.
    appearance_rows: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    appearance: npt.NDArray[np.uint8] = field(
        default_factory=lambda: np.zeros((0, DESCRIPTOR_BYTES), dtype=np.uint8)
    )

    @property
    def track_count(self) -> int:
        return int(self.local_ids.shape[0])


class CameraRef(Protocol):
    """Which camera a frame came from and the site it belongs to: all a frame processor needs of the camera (the
    ingest's `CameraRuntime`, with its sequence bookkeeping, is one)."""

    @property
    def camera_id(self) -> int: ...

    @property
    def site_id(self) -> int: ...


@dataclass(frozen=True, slots=True)
class SiteCamera:
    """A plain `CameraRef` (the site worker's, which keeps no sequence windows of its own)."""

    camera_id: int
    site_id: int


def camera_observations(camera: CameraRef, frame: DecodedFrame) -> CameraObservations:
    """The fusion's input for `frame` of `camera`: floor positions in metres, scores as fractions;
    confirmed rows are those CONFIRMED on the edge, a row's floor position counts unless flagged or REMOVED, and
    the REMOVED rows end their local tracks."""
    state = frame.state
    return CameraObservations(
        site_id=camera.site_id,
        camera_id=camera.camera_id,
        capture_time_us=frame.capture_time_us,
        local_ids=frame.local_ids,
        floor_xy_m=frame.floor_xy_cm.astype(np.float64) / 100.0,
        scores=frame.score_permille.astype(np.float32) / 1000.0,
        confirmed=state == TrackState.CONFIRMED,
        valid_floor=(frame.flags == 0) & (state != TrackState.REMOVED),
        removed_local_ids=frame.local_ids[state == TrackState.REMOVED],
        appearance_rows=frame.appearance_rows,
        appearance=frame.appearance,
    )
