"""Backends for the shared-semantics tests: InfluxDB 1.x over HTTP (a real influxd) and the embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.timeseries.base import TimeSeriesBackend
from server.timeseries.embedded import EmbeddedBackend
from server.timeseries.influx_v1 import InfluxV1Backend
from tests.support.influx_fixtures import (  # noqa: F401 (fixtures)
    ephemeral_influxdb,
    influx_database,
    influxdb,
)


@pytest.fixture(params=["influxdb-v1", "embedded"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimeSeriesBackend]:
    store: TimeSeriesBackend
    if request.param == "influxdb-v1":
        server = request.getfixturevalue("influxdb")
        store = InfluxV1Backend(server.url, request.getfixturevalue("influx_database"))
    else:
        store = EmbeddedBackend(tmp_path / "ts.sqlite3")
    yield store
    store.close()
