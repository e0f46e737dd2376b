"""Backend selection from configuration and from Django-style settings."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from server.timeseries import factory
from server.timeseries.embedded import EmbeddedBackend
from server.timeseries.errors import TimeSeriesConfigError
from server.timeseries.factory import TimeSeriesConfig, build_backend, build_timeseries
from server.timeseries.influx_v1 import InfluxV1Backend
from server.timeseries.influx_v2 import InfluxV2Backend


def test_empty_url_gives_the_embedded_store(tmp_path: Path) -> None:
    backend, writer = build_timeseries(
        TimeSeriesConfig(embedded_path=str(tmp_path / "ts.sqlite3"), batch_size=7)
    )
    try:
        assert isinstance(backend, EmbeddedBackend)
        assert writer.batch_size == 7
        assert writer.backend is backend
    finally:
        backend.close()


def test_v1_url_with_token() -> None:
    backend = build_backend(
        TimeSeriesConfig(influx_url="http://db:8086", influx_db="shop", influx_token="tok")
    )
    try:
        assert isinstance(backend, InfluxV1Backend)
        assert backend.database == "shop"
        assert backend.base_url == "http://db:8086"
    finally:
        backend.close()


def test_v2_needs_token_org_and_bucket() -> None:
    config = TimeSeriesConfig(influx_url="http://db:8086", influx_api="V2", influx_token="t", influx_org="o")
    backend = build_backend(config)
    try:
        assert isinstance(backend, InfluxV2Backend)
        assert backend.bucket == "retail"  # falls back to INFLUX_DB
    finally:
        backend.close()
    with pytest.raises(TimeSeriesConfigError, match="INFLUX_TOKEN, INFLUX_ORG"):
        build_backend(TimeSeriesConfig(influx_url="http://db:8086", influx_api="v2"))


@pytest.mark.parametrize(
    ("config", "code"),
    [
        (TimeSeriesConfig(influx_url="http://db:8086", influx_api="v3"), "bad_api"),
        (TimeSeriesConfig(influx_url="db:8086"), "bad_url"),
        (TimeSeriesConfig(influx_url="http://db:8086", influx_db=""), "missing_db"),
    ],
)
def test_bad_configuration(config: TimeSeriesConfig, code: str) -> None:
    with pytest.raises(TimeSeriesConfigError) as caught:
        build_backend(config)
    assert caught.value.code == code


def test_timeseries_from_settings_reads_django_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import django.conf

    fake = types.SimpleNamespace(
        INFLUX_URL="",
        INFLUX_DB="retail",
        INFLUX_TOKEN="",
        INFLUX_ORG="",
        INFLUX_BUCKET="",
        INFLUX_API="v1",
        TIMESERIES_EMBEDDED_PATH=tmp_path / "ts.sqlite3",
        TIMESERIES_MAX_BUFFER_POINTS=1234,
    )
    monkeypatch.setattr(django.conf, "settings", fake)
    config = factory.config_from_settings()
    assert config.embedded_path == str(tmp_path / "ts.sqlite3")
    assert config.max_buffer_points == 1234
    assert config.batch_size == 5000  # not set: default
    backend, writer = factory.timeseries_from_settings()
    try:
        assert isinstance(backend, EmbeddedBackend)
        assert writer.max_buffer_points == 1234
    finally:
        backend.close()
