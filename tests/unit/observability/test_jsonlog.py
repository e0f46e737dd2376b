"""The JSON log formatter and the LOGGING dict built from it."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest

from server.observability.jsonlog import JsonFormatter, logging_config, logging_config_from_env


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(static_fields={"service": "test-svc"}))
    logger = logging.getLogger("tests.observability.jsonlog")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.handlers = []


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_record_is_one_line_of_json_with_the_standard_fields(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.warning("frame rejected: camera %d belongs to device %s", 7, "box-2")
    (entry,) = _lines(stream)
    assert entry["message"] == "frame rejected: camera 7 belongs to device box-2"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "tests.observability.jsonlog"
    assert entry["service"] == "test-svc"
    assert isinstance(entry["ts"], str)
    assert entry["ts"].endswith("Z")
    assert isinstance(entry["line"], int)
    assert entry["line"] > 0
    assert entry["module"] == "test_jsonlog"


def test_extra_fields_are_kept_and_unserialisable_values_become_strings(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured

    class Opaque:
        def __str__(self) -> str:
            return "opaque-value"

    logger.info("stored", extra={"device_id": 12, "cameras": (1, 2), "thing": Opaque(), "level": "clash"})
    (entry,) = _lines(stream)
    assert entry["device_id"] == 12
    assert entry["cameras"] == [1, 2]
    assert entry["thing"] == "opaque-value"
    # a field named like one the formatter writes does not overwrite it
    assert entry["level"] == "INFO"
    assert entry["extra_level"] == "clash"


def test_exception_adds_type_and_traceback(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise ValueError("bad homography")
    except ValueError:
        logger.exception("calibration failed")
    (entry,) = _lines(stream)
    assert entry["exc_type"] == "ValueError"
    assert "bad homography" in str(entry["exc"])
    assert "Traceback" in str(entry["exc"])


def test_newlines_in_messages_stay_on_one_line(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.error("first line\nsecond line ünïcode")
    assert len(stream.getvalue().splitlines()) == 1
    assert _lines(stream)[0]["message"] == "first line\nsecond line ünïcode"


def test_logging_config_is_accepted_by_dictconfig_and_emits_json(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        logging.config.dictConfig(logging_config(level="info", log_format="json", service="retail-server"))
        logging.getLogger("server.ingest").info("hello %s", "operators")
        err_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        entries = [json.loads(line) for line in err_lines]
        assert any(e["message"] == "hello operators" and e["service"] == "retail-server" for e in entries)
        assert logging.getLogger("django.db.backends").level == logging.WARNING
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)


@pytest.mark.parametrize(
    ("level", "log_format", "error"),
    [
        ("INFO", "json", None),
        ("debug", "plain", None),
        ("LOUD", "json", "LOG_LEVEL"),
        ("INFO", "xml", "LOG_FORMAT"),
    ],
)
def test_logging_config_validates_its_inputs(level: str, log_format: str, error: str | None) -> None:
    if error is None:
        config = logging_config(level=level, log_format=log_format)
        assert config["handlers"]["console"]["formatter"] == log_format
        assert config["root"]["level"] == level.upper()
    else:
        with pytest.raises(ValueError, match=error):
            logging_config(level=level, log_format=log_format)


def test_logging_config_from_env_reads_level_and_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.setenv("LOG_FORMAT", "plain")
    config = logging_config_from_env(service="retail-edge")
    assert config["root"]["level"] == "WARNING"
    assert config["handlers"]["console"]["formatter"] == "plain"
    assert config["formatters"]["json"]["static_fields"] == {"service": "retail-edge"}
