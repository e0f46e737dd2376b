"""Opening sources through OpenCV: video files, rtsp:// / http(s):// URLs and USB cameras ("usb:N")."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from edge_agent.errors import SourceError

# The login rules of source URLs are shared with the server (one implementation, retail_common.redaction).
from retail_common.redaction import redact_source as redact_source

logger = logging.getLogger(__name__)

_URL_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


class FrameSource(Protocol):
    """What the camera reader needs of a source (cv2.VideoCapture satisfies it; tests substitute fakes)."""

    def read(self) -> tuple[bool, object]: ...

    def get(self, prop_id: int) -> float: ...

    def release(self) -> None: ...


def is_url(source: str) -> bool:
    return source.lower().startswith(_URL_PREFIXES)


def usb_index(source: str) -> int | None:
    if source.lower().startswith("usb:"):
        try:
            return int(source[4:])
        except ValueError as err:
            raise SourceError(f"bad USB source {source!r}: expected usb:N with N an integer") from err
    return None


def is_file(source: str) -> bool:
    return not is_url(source) and usb_index(source) is None


def open_source(source: str) -> FrameSource:
    """Open a source; raises ``SourceError`` naming it when it cannot deliver a first frame's worth of
    data."""
    index = usb_index(source)
    if index is not None:
        capture = cv2.VideoCapture(index)
    elif is_url(source):
        capture = cv2.VideoCapture(source, cv2.CAP_FFMPEG)
    else:
        path = Path(source)
        if not path.is_file():
            raise SourceError(f"video file not found: {path}")
        capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"cannot open video source {redact_source(source)}")
    return capture


def validate_image(image: object) -> NDArray[np.uint8] | None:
    """The image as BGR uint8 HxWx3, or None for garbage (None, wrong dtype, wrong shape, empty)."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        return None
    if image.ndim == 2 and image.size:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 8 or image.shape[1] < 8:
        return None
    return image


def check_source(source: str) -> tuple[int, int, float]:
    """Open a source and read one frame: returns (width_px, height_px, fps). Raises ``SourceError``."""
    capture = open_source(source)
    try:
        ok, image = capture.read()
        valid = validate_image(image) if ok else None
        if valid is None:
            raise SourceError(f"video source {redact_source(source)} opened but delivered no readable frame")
        return int(valid.shape[1]), int(valid.shape[0]), float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        capture.release()
