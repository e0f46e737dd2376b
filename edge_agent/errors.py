"""Typed errors of the edge agent. Each carries a stable ``code`` that logs and the CLI print."""

from __future__ import annotations


class EdgeError(Exception):
    """Base class: ``code`` is a short machine-readable identifier, the message is for a person."""

    code = "edge_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class ConfigError(EdgeError):
    code = "config_invalid"


class ModelLoadError(EdgeError):
    code = "model_load_failed"


class SourceError(EdgeError):
    code = "source_unavailable"


class GeometryError(EdgeError):
    code = "geometry_invalid"


class SpoolError(EdgeError):
    code = "spool_failed"


class AuthenticationError(EdgeError):
    """The server refused the device credentials (unknown, revoked or expired): retrying cannot help."""

    code = "unauthenticated"


class EnrollmentError(EdgeError):
    code = "enrollment_failed"
