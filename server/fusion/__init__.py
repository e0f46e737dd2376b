"""Multi-camera fusion: the TrackFrames of a site's cameras fused on the floor plane into global persons.

Pure Python + NumPy/SciPy; no Django imports. Entry point: :class:`SiteFusion`.
"""

from server.fusion.errors import FusionConfigError, FusionError, FusionInputError
from server.fusion.reorder import ReorderBuffer
from server.fusion.site import SiteFusion
from server.fusion.types import CameraObservations, EndedPerson, FusedFrame, FusionConfig

__all__ = [
    "CameraObservations",
    "EndedPerson",
    "FusedFrame",
    "FusionConfig",
    "FusionConfigError",
    "FusionError",
    "FusionInputError",
    "ReorderBuffer",
    "SiteFusion",
]
