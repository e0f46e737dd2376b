"""The time-series backend the process's runtime registered, for a purge run from the API; a process without a
runtime (a test, a management shell) builds one from the settings for the call."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_backend: Any | None = None


def use(backend: Any | None) -> None:
    global _backend
    with _lock:
        _backend = backend


@contextlib.contextmanager
def current_backend() -> Iterator[Any]:
    with _lock:
        registered = _backend
    if registered is not None:
        yield registered
        return
    from server.timeseries.factory import build_backend, config_from_settings

    backend = build_backend(config_from_settings())
    try:
        yield backend
    finally:
        backend.close()
