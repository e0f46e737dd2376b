"""`CodedError`: the base of the pure cores' typed errors (fusion, analytics, time series). Each carries a stable,
machine-readable ``code`` that is safe to show to an operator; a subclass sets its default as a class attribute
and a raise site may give a more specific one."""

from __future__ import annotations


class CodedError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"
