"""Plain data flowing through the agent: numpy arrays in dataclasses, no cv2 / grpc imports."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

# The most tracks one TrackFrame carries (proto/retail/v1/track.proto): the encoder sends the lowest ids.
MAX_TRACKS_PER_FRAME = 1000


class TrackState(enum.IntEnum):
    """Life cycle of a track; values equal the wire enum ``retail.v1.TrackState``."""

    TENTATIVE = 1
    CONFIRMED = 2
    LOST = 3
    REMOVED = 4


class TrackFlag(enum.IntFlag):
    """Bits of a track's flags; values equal the wire enum ``retail.v1.TrackFlag``."""

    NONE = 0
    OUTSIDE_FLOOR_REGION = 1
    UNCALIBRATED = 2


@dataclass(slots=True)
class Frame:
    """One image of one camera. ``image`` is BGR uint8 HxWx3 (already cropped to the analysed region)."""

    camera_id: int
    image: NDArray[np.uint8]
    capture_time_us: int
    index: int

    @property
    def width_px(self) -> int:
        return int(self.image.shape[1])

    @property
    def height_px(self) -> int:
        return int(self.image.shape[0])


def _empty_boxes() -> NDArray[np.float32]:
    return np.zeros((0, 4), dtype=np.float32)


def _empty_scores() -> NDArray[np.float32]:
    return np.zeros((0,), dtype=np.float32)


@dataclass(slots=True)
class Detections:
    """Person detections of one frame: ``xyxy_px`` float32 Nx4 in frame pixels, ``scores`` float32 N in
    0..1, and optionally ``appearance``: float32 Nx2x16 colour-class shares of each box's upper and lower body
    (``edge_agent.appearance.describe``; an all-zero part is not measurable). None: no pixels looked at (the
    tracker then associates by boxes alone)."""

    xyxy_px: NDArray[np.float32] = field(default_factory=_empty_boxes)
    scores: NDArray[np.float32] = field(default_factory=_empty_scores)
    appearance: NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        if self.xyxy_px.ndim != 2 or self.xyxy_px.shape[1] != 4:
            raise ValueError(f"xyxy_px must be Nx4, got {self.xyxy_px.shape}")
        if self.scores.shape != (self.xyxy_px.shape[0],):
            raise ValueError(f"scores must have shape ({self.xyxy_px.shape[0]},), got {self.scores.shape}")
        if self.appearance is not None and self.appearance.shape != (self.xyxy_px.shape[0], 2, 16):
            raise ValueError(
                f"appearance must have shape ({self.xyxy_px.shape[0]}, 2, 16), got {self.appearance.shape}"
            )

    def __len__(self) -> int:
        return int(self.xyxy_px.shape[0])


@dataclass(slots=True)
class Tracks:
    """Tracks reported by a camera's tracker for one frame (all columns have N rows).

    ``ids`` int64 (local, ≥ 1), ``xyxy_px`` float32 Nx4, ``scores`` float32 (last matched detection),
    ``states`` int8 (``TrackState`` values), ``floor_xy_cm`` float32 Nx2 (NaN until projected or when the
    camera is uncalibrated), ``flags`` uint32 (``TrackFlag`` bits).

    Appearance (None when the tracker saw no descriptors): ``appearance_shares`` float32 Nx2x16, each track's
    smoothed colour-class shares (all-zero part: not measured yet); ``appearance`` uint8 Nx16, the wire
    descriptors this frame carries (``edge_agent.appearance.AppearanceSender``; an all-zero row sends none).
    """

    ids: NDArray[np.int64]
    xyxy_px: NDArray[np.float32]
    scores: NDArray[np.float32]
    states: NDArray[np.int8]
    floor_xy_cm: NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 2), dtype=np.float32))
    flags: NDArray[np.uint32] = field(default_factory=lambda: np.zeros((0,), dtype=np.uint32))
    appearance_shares: NDArray[np.float32] | None = None
    appearance: NDArray[np.uint8] | None = None

    def __post_init__(self) -> None:
        n = self.ids.shape[0]
        if self.floor_xy_cm.shape[0] != n:
            self.floor_xy_cm = np.full((n, 2), np.nan, dtype=np.float32)
        if self.flags.shape[0] != n:
            self.flags = np.zeros((n,), dtype=np.uint32)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def empty(cls) -> Tracks:
        return cls(
            ids=np.zeros((0,), dtype=np.int64),
            xyxy_px=np.zeros((0, 4), dtype=np.float32),
            scores=np.zeros((0,), dtype=np.float32),
            states=np.zeros((0,), dtype=np.int8),
        )


@dataclass(frozen=True, slots=True)
class RemoteCameraConfig:
    """A camera as configured on the server (DeviceConfig.cameras), in agent units."""

    camera_id: int
    name: str
    source_uri: str
    analysis_fps: float
    homography_px_to_cm: tuple[float, ...] | None
    floor_region_cm: tuple[tuple[float, float], ...] | None
    min_score: float
    enabled: bool


@dataclass(frozen=True, slots=True)
class RemoteDeviceConfig:
    revision: int
    cameras: tuple[RemoteCameraConfig, ...]
    heartbeat_interval_s: float


@dataclass(slots=True)
class CameraHealthStatus:
    camera_id: int
    connected: bool
    analysed_fps: float
    inference_time_us: int
    dropped_frames_total: int
    reconnects_total: int
    last_sequence: int
    last_error: str
    frame_width_px: int
    frame_height_px: int


@dataclass(slots=True)
class AgentStatus:
    """What a heartbeat reports (the uplink adds the spool figures)."""

    uptime_s: float
    software_version: str
    cameras: list[CameraHealthStatus]
    spool_depth_frames: int = 0
    spool_evicted_total: int = 0
