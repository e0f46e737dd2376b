"""Typed errors of the fusion core. Each carries a stable machine-readable ``code``."""

from __future__ import annotations

from server.errors import CodedError


class FusionError(CodedError):
    """Base class of fusion errors; ``code`` is stable and safe to show to an operator."""

    code = "fusion_error"


class FusionInputError(FusionError, ValueError):
    """A CameraObservations value is malformed (wrong shape or dtype, NaN/inf, site mismatch)."""

    code = "invalid_observations"


class FusionConfigError(FusionError, ValueError):
    """A FusionConfig value is out of its allowed range."""

    code = "invalid_fusion_config"
