"""The server's one error family, at the bottom of the layers: plain Python, imported by every layer, importing
nothing of the server (no Django, no grpc), so the pure cores can raise it too.

Every error carries a ``message`` a person can act on, a stable machine-readable ``code`` and structured
``extra`` details (field errors go in ``extra["fields"]`` as ``{field: [message, ...]}``). A class sets its
default code as the class attribute ``code``; a raise site may give a more specific one.

``Error`` itself (and ``CodedError``, the pure cores' errors) is a fault of the server: not shown to API
clients, it ends as the API's generic, logged 500. ``ApplicationError`` and its subclasses are answers for the
caller; each names its meaning as an HTTP status (``status_code``), and the REST API's exception handler renders
them as ``{"message", "code", "extra"}`` with that status. Other transports map them their own way (the ingest
maps its rejection reasons to gRPC status codes).
"""

from __future__ import annotations

from typing import Any


class Error(Exception):
    """Base of every typed error of the server."""

    code = "error"
    status_code = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra: dict[str, Any] = extra or {}
        if status_code is not None:
            self.status_code = status_code

    def __str__(self) -> str:
        return self.message


class CodedError(Error):
    """An internal error of a pure core (fusion, analytics, time series); its text names its code."""

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class ApplicationError(Error):
    """A request the caller has to change (400 unless the raise site names another status)."""

    code = "invalid"
    status_code = 400


class FieldError(ApplicationError):
    """A 400 naming the offending input field."""

    def __init__(self, field: str, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code, extra={"fields": {field: [message]}})
        self.field = field


class NotFoundError(ApplicationError):
    code = "not_found"
    status_code = 404


class ConflictError(ApplicationError):
    code = "conflict"
    status_code = 409
