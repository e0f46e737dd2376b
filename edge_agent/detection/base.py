"""The detector interface: one implementation (plugin) per runtime."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from edge_agent.types import Detections


@runtime_checkable
class Detector(Protocol):
    """Finds people in BGR uint8 images. Implementations are shared by all cameras of a box."""

    @property
    def name(self) -> str: ...

    def detect(self, image: NDArray[np.uint8]) -> Detections: ...

    def detect_batch(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]: ...
