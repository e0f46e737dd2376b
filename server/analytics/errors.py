"""Typed errors of the analytics core. Each carries a stable machine-readable ``code``."""

from __future__ import annotations


class AnalyticsError(Exception):
    """Base class of analytics errors; ``code`` is stable and safe to show to an operator."""

    code = "analytics_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class AnalyticsConfigError(AnalyticsError, ValueError):
    """A site configuration value is invalid (zone polygon, grid, thresholds)."""

    code = "invalid_analytics_config"


class AnalyticsInputError(AnalyticsError, ValueError):
    """A fused frame or a record handed to the analytics is malformed (NaN, shapes, time going backwards)."""

    code = "invalid_analytics_input"


class UnknownZoneError(AnalyticsError, KeyError):
    """A zone id that the site configuration does not define."""

    code = "unknown_zone"
