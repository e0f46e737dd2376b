"""Capture: sources (files, URLs, USB) and one reader thread per camera with a latest-frame slot."""

from edge_agent.capture.camera import CameraReader, CameraStats, LatestFrameSlot
from edge_agent.capture.sources import (
    FrameSource,
    check_source,
    is_file,
    open_source,
    redact_source,
    validate_image,
)

__all__ = [
    "CameraReader",
    "CameraStats",
    "FrameSource",
    "LatestFrameSlot",
    "check_source",
    "is_file",
    "open_source",
    "redact_source",
    "validate_image",
]
