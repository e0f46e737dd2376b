"""Typed errors of the fusion core. Each carries a stable machine-readable ``code``."""

from __future__ import annotations


class FusionError(Exception):
    """Base class of fusion errors; ``code`` is stable and safe to show to an operator."""

    code = "fusion_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class FusionInputError(FusionError, ValueError):
    """A CameraObservations value is malformed (wrong shape or dtype, NaN/inf, site mismatch)."""

    code = "invalid_observations"


class FusionConfigError(FusionError, ValueError):
    """A FusionConfig value is out of its allowed range."""

    code = "invalid_fusion_config"
