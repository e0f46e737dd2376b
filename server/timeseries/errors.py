"""Typed errors of the time-series layer; each carries a short machine-readable ``code``."""

from __future__ import annotations

from server.errors import CodedError


class TimeSeriesError(CodedError):
    """Base of every time-series error."""

    code = "timeseries_error"


class TimeSeriesUnavailable(TimeSeriesError):  # noqa: N818 (name fixed by the interface)
    """The store cannot be reached or answered 5xx / 429 / auth failure: retry later, keep the data."""

    code = "unavailable"


class TimeSeriesRejected(TimeSeriesError):  # noqa: N818 (name fixed by the interface)
    """The store refused the data itself (4xx): retrying the same points would fail again.

    ``bad_indices`` lists the positions (in the batch given to ``write_batch``) of the points known to be bad
    when the backend could tell (local validation); nothing of the batch was written then. When it is ``None``
    the backend cannot say which points were bad (the server refused the request) and some points may have
    been written.
    """

    code = "rejected"

    def __init__(
        self, message: str, *, code: str | None = None, bad_indices: tuple[int, ...] | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.bad_indices = bad_indices


class TimeSeriesQueryError(TimeSeriesError):
    """A query is malformed or the store refused it."""

    code = "bad_query"


class TimeSeriesConfigError(TimeSeriesError):
    """The configuration names no usable backend."""

    code = "bad_config"
