"""The one error type of the REST API: a message a person can act on, a stable code and structured extras."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """Raised by services; rendered by `api_exception_handler` as `{"message", "code", "extra"}`.

    `status_code` is the HTTP status the API answers with; `extra` carries details such as field errors
    (`{"fields": {"polygon": ["..."]}}`).
    """

    status_code = 400
    default_code = "invalid"

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
        self.code = code or self.default_code
        self.extra = extra or {}
        if status_code is not None:
            self.status_code = status_code


class FieldError(ApplicationError):
    """A 400 naming the offending input field(s)."""

    def __init__(self, field: str, message: str, *, code: str = "invalid") -> None:
        super().__init__(message, code=code, extra={"fields": {field: [message]}})
        self.field = field


class NotFoundError(ApplicationError):
    status_code = 404
    default_code = "not_found"


class ConflictError(ApplicationError):
    status_code = 409
    default_code = "conflict"
