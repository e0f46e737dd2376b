"""Typed errors of the analytics core. Each carries a stable machine-readable ``code``."""

from __future__ import annotations

from server.errors import CodedError


class AnalyticsError(CodedError):
    """Base class of analytics errors; ``code`` is stable and safe to show to an operator."""

    code = "analytics_error"


class AnalyticsConfigError(AnalyticsError, ValueError):
    """A site configuration value is invalid (zone polygon, grid, thresholds)."""

    code = "invalid_analytics_config"


class AnalyticsInputError(AnalyticsError, ValueError):
    """A fused frame or a record handed to the analytics is malformed (NaN, shapes, time going backwards)."""

    code = "invalid_analytics_input"


class UnknownZoneError(AnalyticsError, KeyError):
    """A zone id that the site configuration does not define."""

    code = "unknown_zone"
