"""Structured logs for operators: one JSON object per line, and the `LOGGING` dict that uses it.

Django-free on purpose: the settings import it before Django is set up; the edge agent may use it too.

A record becomes::

    {"ts": "2026-11-25T08:15:02.123Z", "level": "WARNING", "logger": "server.ingest.servicer",
     "message": "frame rejected: camera 7 belongs to another device", "process": 4242, "thread": "MainThread",
     "device_id": 12, "camera_id": 7}

Fields passed with ``logger.warning("...", extra={"device_id": 12})`` are kept as top-level keys (values
that JSON cannot carry are turned into strings); an exception adds ``exc_type`` and ``exc`` (the formatted
traceback).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any, Final

# Attributes every LogRecord has; anything else on a record came from `extra=` and is emitted as a field.
_RECORD_ATTRIBUTES: Final[frozenset[str]] = frozenset(
    vars(logging.LogRecord("name", logging.INFO, "path", 1, "msg", None, None)).keys()
    | {"message", "asctime", "taskName"}
)
# Keys the formatter writes itself; an `extra` field of the same name is written as "extra_<name>".
_RESERVED_KEYS: Final[frozenset[str]] = frozenset(
    {"ts", "level", "logger", "message", "process", "thread", "module", "line", "exc_type", "exc", "stack"}
)

LOG_FORMATS: Final[tuple[str, ...]] = ("json", "plain")


def _jsonable(value: Any) -> Any:
    """Return `value` if json can encode it as is, else its `str()`."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return str(value)


class JsonFormatter(logging.Formatter):
    """Formats a record as a single line of JSON (UTC timestamps with milliseconds, `extra` fields kept).

    `static_fields` are added to every line (for example ``{"service": "retail-server"}``).
    """

    def __init__(self, static_fields: dict[str, Any] | None = None, include_location: bool = True) -> None:
        super().__init__()
        self._static_fields = {key: _jsonable(value) for key, value in (static_fields or {}).items()}
        self._include_location = include_location

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "thread": record.threadName,
        }
        if self._include_location:
            entry["module"] = record.module
            entry["line"] = record.lineno
        for key, value in self._static_fields.items():
            entry.setdefault(key, value)
        for key, value in vars(record).items():
            if key in _RECORD_ATTRIBUTES or key.startswith("_"):
                continue
            entry["extra_" + key if key in _RESERVED_KEYS else key] = _jsonable(value)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


def logging_config(
    *,
    level: str = "INFO",
    log_format: str = "json",
    service: str = "retail-server",
    quiet_loggers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Return a `logging.config.dictConfig` dict: one console handler on stderr, JSON or plain text.

    `level` is a logging level name (``LOG_LEVEL``); `log_format` is "json" or "plain" (``LOG_FORMAT``);
    `service` is added to every JSON line; `quiet_loggers` maps logger names to their own level (the
    defaults keep SQL and access chatter at WARNING).
    """
    level_name = level.strip().upper()
    if level_name not in logging.getLevelNamesMapping():
        raise ValueError(
            f"LOG_LEVEL={level!r} is not a logging level (DEBUG, INFO, WARNING, ERROR, CRITICAL)"
        )
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT={log_format!r} must be one of {', '.join(LOG_FORMATS)}")
    loggers = {"django.db.backends": "WARNING", "uvicorn.access": "WARNING", "grpc": "WARNING"}
    loggers.update(quiet_loggers or {})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "server.observability.jsonlog.JsonFormatter",
                "static_fields": {"service": service},
            },
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["console"], "level": level_name},
        "loggers": {name: {"level": logger_level} for name, logger_level in loggers.items()},
    }


def logging_config_from_env(service: str = "retail-server") -> dict[str, Any]:
    """`logging_config` with ``LOG_LEVEL`` (default INFO) and ``LOG_FORMAT`` (default json) from the env."""
    return logging_config(
        level=os.environ.get("LOG_LEVEL", "INFO") or "INFO",
        log_format=(os.environ.get("LOG_FORMAT", "json") or "json").strip().lower(),
        service=service,
    )
