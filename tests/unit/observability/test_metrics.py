"""Prometheus metrics: the recording helpers, the edge heartbeat collector and the exposition paths."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from proto.retail.v1 import track_pb2
from server.observability import edge_health, metrics
from server.observability.exposition import (
    MetricsBindError,
    metrics_asgi_app,
    parse_bind,
    render_metrics,
    start_metrics_server,
)


def _value(name: str, labels: dict[str, str] | None = None) -> float:
    value = REGISTRY.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


@pytest.fixture(autouse=True)
def _clean_edge_health() -> Iterator[None]:
    edge_health.EDGE_HEALTH.clear()
    yield
    edge_health.EDGE_HEALTH.clear()


def test_accepted_frames_count_frames_tracks_and_latency() -> None:
    frames_before = _value("retail_ingest_frames_accepted_total")
    tracks_before = _value("retail_ingest_tracks_total")
    latency_count_before = _value("retail_ingest_latency_seconds_count")
    fast_bucket_before = _value("retail_ingest_latency_seconds_bucket", {"le": "0.05"})

    metrics.record_frame_accepted(tracks=3, latency_s=0.04, handle_s=0.0007)
    metrics.record_frame_accepted(tracks=0, latency_s=-0.2)  # clock skew: counted as 0 s
    metrics.record_frame_accepted(tracks=2, latency_s=12.0)

    assert _value("retail_ingest_frames_accepted_total") - frames_before == 3
    assert _value("retail_ingest_tracks_total") - tracks_before == 5
    assert _value("retail_ingest_latency_seconds_count") - latency_count_before == 3
    assert _value("retail_ingest_latency_seconds_bucket", {"le": "0.05"}) - fast_bucket_before == 2


def test_negative_track_count_is_refused() -> None:
    with pytest.raises(ValueError, match="tracks"):
        metrics.record_frame_accepted(tracks=-1)


@pytest.mark.parametrize("reason", list(metrics.RejectReason))
def test_rejections_are_counted_by_reason(reason: metrics.RejectReason) -> None:
    labels = {"reason": reason.value}
    before = _value("retail_ingest_frames_rejected_total", labels)
    metrics.record_frame_rejected(reason)
    metrics.record_frame_rejected(reason)
    assert _value("retail_ingest_frames_rejected_total", labels) - before == 2


def test_rejection_reason_outside_the_enum_is_refused() -> None:
    with pytest.raises(ValueError, match="not_a_reason"):
        metrics.record_frame_rejected("not_a_reason")  # type: ignore[arg-type]


def test_streams_queues_and_timeseries_buffer() -> None:
    streams_before = _value("retail_ingest_streams_open")
    metrics.stream_opened()
    metrics.stream_opened()
    metrics.stream_closed()
    assert _value("retail_ingest_streams_open") - streams_before == 1
    metrics.stream_closed()

    # A label of its own: a worker made by an earlier test of the process reads the fusion queue's depth by a
    # function (register_queue_depth), which a set value does not replace.
    metrics.set_queue_depth("test_set_depth", 17)
    assert _value("retail_queue_depth", {"queue": "test_set_depth"}) == 17

    pending = [1, 2, 3, 4]
    metrics.register_queue_depth("live_push", lambda: float(len(pending)))
    assert _value("retail_queue_depth", {"queue": "live_push"}) == 4
    pending.pop()
    assert _value("retail_queue_depth", {"queue": "live_push"}) == 3

    written_before = _value("retail_timeseries_points_written_total")
    dropped_before = _value("retail_timeseries_points_dropped_total")
    errors_before = _value("retail_timeseries_write_errors_total")
    metrics.set_timeseries_buffer(250)
    metrics.record_timeseries_written(100)
    metrics.record_timeseries_written(0)
    metrics.record_timeseries_dropped(7)
    metrics.record_timeseries_write_error()
    assert _value("retail_timeseries_buffer_points") == 250
    assert _value("retail_timeseries_points_written_total") - written_before == 100
    assert _value("retail_timeseries_points_dropped_total") - dropped_before == 7
    assert _value("retail_timeseries_write_errors_total") - errors_before == 1


def test_build_info_keeps_one_version() -> None:
    metrics.set_build_info("0.1.0")
    metrics.set_build_info("0.2.0")
    assert _value("retail_build_info", {"version": "0.2.0"}) == 1
    assert REGISTRY.get_sample_value("retail_build_info", {"version": "0.1.0"}) is None


def _heartbeat(dropped: int, connected: bool = True) -> track_pb2.Heartbeat:
    return track_pb2.Heartbeat(
        sent_time_us=1_700_000_000_000_000,
        uptime_s=3600,
        spool_depth_frames=42,
        spool_evicted_total=5,
        software_version="0.1.0",
        cameras=[
            track_pb2.CameraHealth(
                camera_id=3,
                connected=connected,
                analysed_fps_mhz=12_500,
                inference_time_us=23_000,
                dropped_frames_total=dropped,
                reconnects_total=2,
            )
        ],
    )


def test_heartbeat_message_becomes_edge_series_in_base_units() -> None:
    edge_health.record_heartbeat_message(9, _heartbeat(dropped=120))
    camera = {"device": "9", "camera": "3"}
    assert _value("retail_edge_dropped_frames_total", camera) == 120
    assert _value("retail_edge_reconnects_total", camera) == 2
    assert _value("retail_edge_analysed_fps", camera) == pytest.approx(12.5)
    assert _value("retail_edge_inference_seconds", camera) == pytest.approx(0.023)
    assert _value("retail_edge_camera_connected", camera) == 1
    assert _value("retail_edge_spool_depth_frames", {"device": "9"}) == 42
    assert _value("retail_edge_spool_evicted_frames_total", {"device": "9"}) == 5
    assert _value("retail_edge_uptime_seconds", {"device": "9"}) == 3600
    assert _value("retail_edge_last_heartbeat_timestamp_seconds", {"device": "9"}) > 1_600_000_000


def test_latest_heartbeat_wins_and_forget_removes_the_device() -> None:
    edge_health.record_heartbeat_message("box-1", _heartbeat(dropped=10))
    edge_health.record_heartbeat_message("box-1", _heartbeat(dropped=11, connected=False))
    edge_health.record_heartbeat_message("box-2", _heartbeat(dropped=0))
    assert edge_health.EDGE_HEALTH.devices() == ["box-1", "box-2"]
    camera = {"device": "box-1", "camera": "3"}
    assert _value("retail_edge_dropped_frames_total", camera) == 11
    assert _value("retail_edge_camera_connected", camera) == 0

    edge_health.EDGE_HEALTH.forget("box-1")
    assert REGISTRY.get_sample_value("retail_edge_dropped_frames_total", camera) is None
    assert edge_health.EDGE_HEALTH.devices() == ["box-2"]


def test_text_exposition_parses_and_lists_every_family() -> None:
    metrics.record_frame_accepted(tracks=1, latency_s=0.1)
    edge_health.record_heartbeat_message(1, _heartbeat(dropped=3))
    body, content_type = render_metrics(None)
    assert content_type.startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    expected = {
        "retail_ingest_frames_accepted",
        "retail_ingest_frames_rejected",
        "retail_ingest_latency_seconds",
        "retail_ingest_handle_seconds",
        "retail_queue_depth",
        "retail_timeseries_buffer_points",
        "retail_edge_dropped_frames",
        "retail_edge_spool_depth_frames",
    }
    assert expected <= names


def test_openmetrics_is_served_when_asked_for() -> None:
    body, content_type = render_metrics("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


async def _call_asgi(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/metrics",
        "query_string": b"",
        "headers": headers,
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


def test_asgi_app_serves_metrics_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    status, body = asyncio.run(_call_asgi(metrics_asgi_app(), []))
    assert status == 200
    assert b"retail_ingest_frames_accepted_total" in body


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        (b"Bearer wrong", 401),
        (b"Bearer s3cret-token", 200),
    ],
)
def test_asgi_app_checks_the_bearer_token(
    monkeypatch: pytest.MonkeyPatch, header: bytes | None, status: int
) -> None:
    monkeypatch.setenv("METRICS_TOKEN", "s3cret-token")
    headers = [] if header is None else [(b"authorization", header)]
    got_status, body = asyncio.run(_call_asgi(metrics_asgi_app(), headers))
    assert got_status == status
    assert (b"retail_queue_depth" in body) == (status == 200)


def test_asgi_app_refuses_websocket_scopes() -> None:
    async def nothing() -> dict[str, Any]:
        return {}

    async def ignore(message: Any) -> None:
        return None

    async def call() -> None:
        await metrics_asgi_app(bearer_token="")({"type": "websocket"}, nothing, ignore)

    with pytest.raises(RuntimeError, match="HTTP only"):
        asyncio.run(call())


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("0.0.0.0:9100", ("0.0.0.0", 9100)),
        ("[::]:9100", ("::", 9100)),
        (":9100", ("0.0.0.0", 9100)),
        ("localhost", None),
        ("host:port", None),
        ("host:70000", None),
    ],
)
def test_parse_bind(bind: str, expected: tuple[str, int] | None) -> None:
    if expected is None:
        with pytest.raises(MetricsBindError, match="HOST:PORT"):
            parse_bind(bind)
    else:
        assert parse_bind(bind) == expected


def test_standalone_metrics_server_answers_on_loopback() -> None:
    server, thread = start_metrics_server("127.0.0.1:0")
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read()
        assert response.status == 200
        assert b"retail_ingest_streams_open" in body
    finally:
        server.shutdown()
        server.server_close()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_package_imports_no_django() -> None:
    code = (
        "import sys, server.observability, server.observability.metrics, server.observability.edge_health;"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_camera_skews_are_published_per_site_and_camera() -> None:
    metrics.record_camera_skews(41, {3: 0.12, 4: -0.12})
    assert _value("retail_fusion_camera_skew_seconds", {"site": "41", "camera": "3"}) == pytest.approx(0.12)
    assert _value("retail_fusion_camera_skew_seconds", {"site": "41", "camera": "4"}) == pytest.approx(-0.12)
    metrics.record_camera_skews(41, {3: 0.05})
    assert _value("retail_fusion_camera_skew_seconds", {"site": "41", "camera": "3"}) == pytest.approx(0.05)


def test_camera_pair_distances_are_published_per_pair_and_quantile() -> None:
    from server.fusion.agreement import CameraPairAgreement

    pair = CameraPairAgreement(
        3, 5, samples=250.0, median_distance_m=0.4, p90_distance_m=1.2, offset_m=(0.3, 0.0)
    )
    metrics.record_camera_agreement(41, [pair])
    labels = {"site": "41", "camera": "3", "other": "5"}
    assert _value(
        "retail_fusion_camera_pair_distance_metres", {**labels, "quantile": "0.5"}
    ) == pytest.approx(0.4)
    assert _value(
        "retail_fusion_camera_pair_distance_metres", {**labels, "quantile": "0.9"}
    ) == pytest.approx(1.2)


def test_a_site_that_leaves_the_process_stops_exporting_its_cameras_series() -> None:
    from server.fusion.agreement import CameraPairAgreement

    metrics.record_camera_skews(42, {3: 0.1, 5: -0.1})
    metrics.record_camera_agreement(42, [CameraPairAgreement(3, 5, 200.0, 0.3, 0.5, (0.1, 0.0))])
    metrics.record_camera_skews(43, {7: 0.2})  # another site stays
    metrics.forget_site_fusion(42, [3, 5])
    exported = generate_latest(REGISTRY).decode()
    assert 'site="42"' not in exported
    assert _value("retail_fusion_camera_skew_seconds", {"site": "43", "camera": "7"}) == pytest.approx(0.2)
    metrics.forget_site_fusion(42, [3, 5])  # twice: nothing left to drop, no error
