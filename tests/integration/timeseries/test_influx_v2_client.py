"""The real influxdb-client stack (urllib3) behind InfluxV2Backend, against a closed loopback port: connection
errors must come out as TimeSeriesUnavailable. (No InfluxDB 2.x server is available here.)"""

from __future__ import annotations

import pytest

from server.timeseries.errors import TimeSeriesUnavailable
from server.timeseries.influx_v2 import InfluxV2Backend
from server.timeseries.types import Point, SeriesQuery
from tests.support.processes import free_port


def test_real_client_maps_connection_refused_to_unavailable() -> None:
    backend = InfluxV2Backend(
        f"http://127.0.0.1:{free_port()}", token="t", org="o", bucket="b", timeout_s=1.0
    )
    try:
        with pytest.raises(TimeSeriesUnavailable) as caught:
            backend.write_batch([Point("m", {}, {"v": 1}, 5)])
        assert caught.value.code == "connection"
        with pytest.raises(TimeSeriesUnavailable):
            backend.query(SeriesQuery("m", 0, 10))
        with pytest.raises(TimeSeriesUnavailable):
            backend.ping()
    finally:
        backend.close()
