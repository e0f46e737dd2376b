"""Typed settings of the agent: read from a YAML file, overridden by CLI flags and by the server's
DeviceConfig."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edge_agent.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_PATH = REPO_ROOT.parent / "shared" / "assets" / "models" / "yolox_nano.onnx"
DEFAULT_SAMPLE_VIDEO = REPO_ROOT.parent / "shared" / "assets" / "video" / "vtest.avi"
MODEL_PATH_ENV = "RETAIL_MODEL_PATH"
SAMPLE_VIDEO_ENV = "RETAIL_SAMPLE_VIDEO"


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CameraSettings(_Settings):
    camera_id: int = Field(title="Camera id", description="Server-assigned camera id.", ge=1, le=2**32 - 1)
    name: str = Field(default="", title="Display name", max_length=200)
    source: str = Field(
        title="Source", description="Video file path, rtsp:// or http(s):// URL, or usb:N.", min_length=1
    )
    enabled: bool = Field(default=True, title="Enabled")
    analysis_fps: float = Field(
        default=0.0,
        title="Analysis rate",
        description="Frames analysed per second; 0 = as fast as possible.",
        ge=0,
        le=120,
    )
    loop: bool = Field(
        default=True, title="Loop video files", description="Start a video file again at its end."
    )
    pace: Literal["native", "fast"] = Field(
        default="native",
        title="File pacing",
        description="native: play a file at its own fps; fast: as fast as the pipeline analyses (no drops).",
    )
    crop_xywh_px: tuple[int, int, int, int] | None = Field(
        default=None,
        title="Crop",
        description="Analyse only this region x, y, width, height of the source image.",
    )
    homography_px_to_cm: list[float] | None = Field(
        default=None,
        title="Homography",
        description="Row-major 3x3 matrix mapping analysed-frame pixels to floor centimetres.",
        min_length=9,
        max_length=9,
    )
    floor_region_cm: list[tuple[float, float]] | None = Field(
        default=None,
        title="Floor region",
        description="Polygon (floor cm) this camera is trusted for.",
        min_length=3,
    )
    min_score: float = Field(
        default=0.0, title="Minimum detection score", description="0 = detector default.", ge=0, le=1
    )

    @field_validator("crop_xywh_px")
    @classmethod
    def _crop_positive(cls, value: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if value is not None and (value[0] < 0 or value[1] < 0 or value[2] < 1 or value[3] < 1):
            raise ValueError("crop needs x, y >= 0 and width, height >= 1")
        return value


class DetectorSettings(_Settings):
    model_path: Path | None = Field(
        default=None, title="ONNX model", description=f"Default: ${MODEL_PATH_ENV} or assets."
    )
    score_threshold: float = Field(default=0.3, title="Score threshold", ge=0.01, le=1.0)
    nms_iou_threshold: float = Field(default=0.45, title="NMS IoU threshold", ge=0.05, le=1.0)
    intra_op_threads: int = Field(
        default=0, title="ONNX Runtime threads", description="0 = runtime default.", ge=0, le=256
    )
    providers: list[str] | None = Field(
        default=None, title="Execution providers", description="Default: TensorRT, CUDA, CPU."
    )
    max_batch: int = Field(default=8, title="Largest batch", ge=1, le=64)
    batch_buckets: bool | None = Field(
        default=None,
        title="Batch-size buckets",
        description="Dynamic-batch models: run at 1, 2, 4, ... images, each tuned at start. Default: on a GPU.",
    )

    def resolved_model_path(self) -> Path:
        if self.model_path is not None:
            return self.model_path
        if os.environ.get(MODEL_PATH_ENV):
            return Path(os.environ[MODEL_PATH_ENV])
        return DEFAULT_MODEL_PATH


class TrackerSettings(_Settings):
    high_score_threshold: float = Field(default=0.2, title="High-score threshold", ge=0, le=1)
    low_score_threshold: float = Field(default=0.1, title="Low-score threshold", ge=0, le=1)
    new_track_threshold: float = Field(default=0.3, title="New-track threshold", ge=0, le=1)
    min_hits_to_confirm: int = Field(default=2, title="Matches before a track is confirmed", ge=1, le=100)
    lost_track_buffer_s: float = Field(
        default=1.0, title="Lost-track buffer", description="Seconds.", gt=0, le=60
    )
    report_lost: bool = Field(default=True, title="Report lost tracks (predicted position)")
    report_detection_boxes: bool = Field(
        default=True,
        title="Report matched tracks with their detection box",
        description="Off: the Kalman estimate, which lags people who start walking and crop at image edges.",
    )


class AppearanceSettings(_Settings):
    """The appearance cue (docs/privacy.md, "Appearance descriptor"): colour-class histograms of each person's upper
    and lower body, used by the tracker to re-acquire people after an occlusion and sent (16 bytes, only when
    changed) for the server's fusion."""

    enabled: bool = Field(
        default=True,
        title="Appearance descriptors",
        description="Off: the tracker associates by boxes alone and frames carry no descriptors.",
    )
    change_threshold: float = Field(
        default=0.8,
        title="Send when similarity drops below",
        description="A track's descriptor is sent again when its similarity to the last one sent falls below this.",
        ge=0,
        le=1,
    )
    refresh_s: float = Field(
        default=10.0,
        title="Descriptor refresh",
        description="Seconds after which a track's descriptor is sent again even if unchanged.",
        gt=0,
        le=3600,
    )


class SpoolSettings(_Settings):
    max_frames: int = Field(default=500_000, title="Spool frame bound", ge=10, le=100_000_000)
    max_bytes: int = Field(default=512 * 1024 * 1024, title="Spool byte bound", ge=64 * 1024, le=2**40)


class UplinkSettings(_Settings):
    server: str | None = Field(
        default=None, title="Server", description="HOST:PORT of the ingest gRPC server."
    )
    device_id: int | None = Field(default=None, title="Device id", ge=1)
    device_secret: str | None = Field(default=None, title="Device secret", min_length=1)
    tls: bool = Field(default=False, title="Use TLS")
    root_cert: Path | None = Field(default=None, title="Root certificate (PEM) for TLS")
    heartbeat_interval_s: float = Field(default=10.0, title="Heartbeat interval", ge=0.1, le=3600)
    reconnect_initial_s: float = Field(default=0.5, title="First reconnect delay", gt=0, le=60)
    reconnect_max_s: float = Field(default=30.0, title="Longest reconnect delay", gt=0, le=3600)
    max_in_flight_frames: int = Field(default=2000, title="Unacked frames on the wire", ge=1, le=1_000_000)


class AgentSettings(_Settings):
    state_dir: Path = Field(
        default=Path("var/edge"), title="State directory", description="Credentials, spool, config."
    )
    cameras: list[CameraSettings] = Field(default_factory=list, title="Cameras")
    detector: DetectorSettings = Field(default_factory=DetectorSettings, title="Detector")
    tracker: TrackerSettings = Field(default_factory=TrackerSettings, title="Tracker")
    appearance: AppearanceSettings = Field(default_factory=AppearanceSettings, title="Appearance cue")
    spool: SpoolSettings = Field(default_factory=SpoolSettings, title="Spool")
    uplink: UplinkSettings = Field(default_factory=UplinkSettings, title="Uplink")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", title="Log level")

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, cameras: list[CameraSettings]) -> list[CameraSettings]:
        ids = [c.camera_id for c in cameras]
        if len(ids) != len(set(ids)):
            raise ValueError(f"camera ids must be unique, got {ids}")
        return cameras

    @property
    def credentials_path(self) -> Path:
        return self.state_dir / "credentials.json"

    @property
    def device_config_path(self) -> Path:
        return self.state_dir / "device-config.yaml"

    @property
    def spool_path(self) -> Path:
        return self.state_dir / "spool.sqlite3"


def load_settings(path: Path | None = None) -> AgentSettings:
    """Settings from a YAML file (or defaults when ``path`` is None). Raises ``ConfigError`` with the
    reason."""
    if path is None:
        return AgentSettings()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    try:
        return AgentSettings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"config file {path} is invalid: {err}") from err


def sample_video_path() -> Path:
    return Path(os.environ.get(SAMPLE_VIDEO_ENV) or DEFAULT_SAMPLE_VIDEO)
