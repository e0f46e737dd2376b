"""Prometheus metrics of the server: what operators watch (docs/operations.md, "Monitoring").

Django-free. Every metric lives in prometheus_client's default registry (which also carries the process and GC
collectors), so one scrape of `/metrics` shows them all. Callers use the small typed functions below rather
than the metric objects, which keeps label values bounded and names in one place.

Metric families (all prefixed ``retail_``; type; meaning):

- ingest_frames_accepted_total (counter): TrackFrames stored
- ingest_frames_rejected_total{reason} (counter): TrackFrames answered with FrameRejected, by reason
- ingest_frames_duplicate_total (counter): replayed TrackFrames acked but not stored again
- ingest_tracks_total (counter): tracks carried by accepted frames
- ingest_latency_seconds (histogram): edge capture time → stored (network, spool replay)
- ingest_handle_seconds (histogram): server time to validate and store one frame
- ingest_streams_open (gauge): device streams open in this process
- ingest_state_save_failures_total (counter): failed saves of a camera's stream state (its acks are withheld)
- ingest_auth_failures_total (counter): streams / enrollments refused as UNAUTHENTICATED
- queue_depth{queue} (gauge): items waiting in an in-process queue
- timeseries_buffer_points (gauge): time-series points waiting to be written
- timeseries_points_written_total (counter): time-series points written
- timeseries_points_dropped_total (counter): points evicted from a full buffer (lost)
- timeseries_write_errors_total (counter): failed batch writes (retried)
- analytics_records_dropped_total (counter): analytics records the database refused as bad data (lost)
- analytics_write_errors_total (counter): failed writes of analytics records (kept and retried)
- websocket_connections (gauge): open dashboard WebSockets in this process
- alerts_raised_total{kind} (counter): access-control incidents opened, warnings escalated to alarms, capacity and
  queue alerts opened, by kind
- fusion_camera_skew_seconds{site,camera} (gauge): each camera's clock skew as the fusion estimates it
- fusion_camera_pair_distance_metres{site,camera,other,quantile} (gauge): how far apart two cameras place the
  people both see (quantiles 0.5 and 0.9 over about 100 s): a calibration check
- edge_* (see server.observability.edge_health): the last heartbeat of each edge box and camera
- build_info{version} (gauge): 1, labelled with the software version
- worker_sites_owned (gauge): sites a site worker fuses now (JetStream pinned them on it)
- worker_site_lag_seconds{site} (gauge): server clock minus the capture time of the frame the worker applied last
- worker_shedding{site} (gauge): 1 while the site's live pushes are shed (the worker fell behind), else 0
- worker_takeovers_total / worker_releases_total (counters): sites taken over (failover, rebalancing) / handed back
- bus_publish_pending (gauge): frames a gateway published that JetStream has not acknowledged yet (acks wait)
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from prometheus_client import Counter, Gauge, Histogram

from server.fusion.agreement import CameraPairAgreement
from server.observability.edge_health import EDGE_HEALTH, EdgeHealthCollector

NAMESPACE: Final = "retail"

# Capture → stored: tens of milliseconds live; minutes for a frame replayed from the spool after an outage.
INGEST_LATENCY_BUCKETS_S: Final[tuple[float, ...]] = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    1800.0,
)
# Server-side handling of one frame: validation + de-duplication + the store call.
INGEST_HANDLE_BUCKETS_S: Final[tuple[float, ...]] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1.0,
)


class RejectReason(enum.StrEnum):
    """Why a TrackFrame was rejected; the `reason` label of ``retail_ingest_frames_rejected_total``."""

    INVALID_ARGUMENT = (
        "invalid_argument"  # malformed values: NaN, negative sizes, absurd coordinates, bad columns
    )
    OVERSIZED = "oversized"  # message larger than INGEST_MAX_MESSAGE_BYTES
    UNKNOWN_CAMERA = "unknown_camera"  # NOT_FOUND
    PERMISSION_DENIED = "permission_denied"  # camera of another device
    OUT_OF_WINDOW = "out_of_window"  # capture time too far in the past / future, or behind the reorder window
    INTERNAL = "internal"  # the store failed; the agent resends after reconnect


class Queue(enum.StrEnum):
    """Well-known in-process queues; the `queue` label of ``retail_queue_depth``."""

    INGEST = "ingest"  # frames received, not yet stored
    FUSION = "fusion"  # frames stored, waiting for the site's fusion worker
    ANALYTICS = "analytics"  # fused states waiting for the analytics
    LIVE_PUSH = "live_push"  # live positions waiting to be pushed to the channel layer
    TIMESERIES = "timeseries"  # batches waiting for the time-series writer


INGEST_FRAMES_ACCEPTED: Final = Counter(
    "ingest_frames_accepted", "TrackFrames validated and stored.", namespace=NAMESPACE
)
INGEST_FRAMES_REJECTED: Final = Counter(
    "ingest_frames_rejected",
    "TrackFrames answered with FrameRejected, by reason.",
    ["reason"],
    namespace=NAMESPACE,
)
INGEST_FRAMES_DUPLICATE: Final = Counter(
    "ingest_frames_duplicate",
    "Replayed TrackFrames (same camera and sequence) acked without being stored again.",
    namespace=NAMESPACE,
)
INGEST_TRACKS: Final = Counter(
    "ingest_tracks", "Tracks carried by accepted TrackFrames.", namespace=NAMESPACE
)
INGEST_LATENCY: Final = Histogram(
    "ingest_latency_seconds",
    "Time from the edge capture timestamp to the frame being stored (network, spool replay, clock skew).",
    namespace=NAMESPACE,
    buckets=INGEST_LATENCY_BUCKETS_S,
)
INGEST_HANDLE: Final = Histogram(
    "ingest_handle_seconds",
    "Server time spent validating, de-duplicating and storing one TrackFrame.",
    namespace=NAMESPACE,
    buckets=INGEST_HANDLE_BUCKETS_S,
)
INGEST_STREAMS_OPEN: Final = Gauge(
    "ingest_streams_open", "Edge device streams open in this process.", namespace=NAMESPACE
)
INGEST_STATE_SAVE_FAILURES: Final = Counter(
    "ingest_state_save_failures",
    "Saves of a camera's ingest stream state that failed; the camera's acks are withheld until one succeeds.",
    namespace=NAMESPACE,
)
INGEST_AUTH_FAILURES: Final = Counter(
    "ingest_auth_failures",
    "Streams and enrollments refused with UNAUTHENTICATED (unknown, wrong, revoked or used credentials).",
    namespace=NAMESPACE,
)
QUEUE_DEPTH: Final = Gauge(
    "queue_depth", "Items waiting in an in-process queue.", ["queue"], namespace=NAMESPACE
)
TIMESERIES_BUFFER: Final = Gauge(
    "timeseries_buffer_points", "Time-series points buffered, waiting to be written.", namespace=NAMESPACE
)
TIMESERIES_WRITTEN: Final = Counter(
    "timeseries_points_written", "Time-series points written to the store.", namespace=NAMESPACE
)
TIMESERIES_DROPPED: Final = Counter(
    "timeseries_points_dropped",
    "Time-series points evicted from a full buffer while the store was unreachable (lost).",
    namespace=NAMESPACE,
)
TIMESERIES_WRITE_ERRORS: Final = Counter(
    "timeseries_write_errors",
    "Batch writes to the time-series store that failed (and will be retried).",
    namespace=NAMESPACE,
)
ANALYTICS_RECORDS_DROPPED: Final = Counter(
    "analytics_records_dropped",
    "Analytics records (visits, dwell, flow, violations, heat map) the database refused as bad data (lost).",
    namespace=NAMESPACE,
)
ANALYTICS_WRITE_ERRORS: Final = Counter(
    "analytics_write_errors",
    "Writes of analytics records that failed (the records are kept and written again; frames stay unacked).",
    namespace=NAMESPACE,
)
WEBSOCKET_CONNECTIONS: Final = Gauge(
    "websocket_connections", "Dashboard WebSocket connections open in this process.", namespace=NAMESPACE
)
ALERTS_RAISED: Final = Counter(
    "alerts_raised",
    "Access-control incidents opened, warnings escalated to alarms, capacity and queue alerts opened, by kind.",
    ["kind"],
    namespace=NAMESPACE,
)
FUSION_CAMERA_SKEW: Final = Gauge(
    "fusion_camera_skew_seconds",
    "Clock skew of each camera relative to the other cameras of its site, as the fusion estimates it (mean "
    "zero per site; more than a few hundred ms means the box's NTP is off).",
    ["site", "camera"],
    namespace=NAMESPACE,
)
FUSION_CAMERA_PAIR_DISTANCE: Final = Gauge(
    "fusion_camera_pair_distance_metres",
    "How far apart two cameras of a site place the people both see, over about the last 100 s (quantile 0.5 and "
    "0.9): a calibration check (server.fusion.agreement; tens of centimetres is normal, a metre is not).",
    ["site", "camera", "other", "quantile"],
    namespace=NAMESPACE,
)
LIVE_PUSH_SUPERSEDED: Final = Counter(
    "live_push_superseded",
    "Live site states dropped unsent because a newer one replaced them (throttle period, or a push still in "
    "flight to the channel layer).",
    namespace=NAMESPACE,
)
LIVE_PUSH_FAILURES: Final = Counter(
    "live_push_failures",
    "Pushes to the channel layer (Redis) that failed, by reason (timeout: no answer within LIVE_PUSH_TIMEOUT_S).",
    ["reason"],
    namespace=NAMESPACE,
)
BUILD_INFO: Final = Gauge(
    "build_info", "Always 1; labelled with the software version.", ["version"], namespace=NAMESPACE
)

__all__ = [
    "EDGE_HEALTH",
    "EdgeHealthCollector",
    "Queue",
    "RejectReason",
    "forget_site_fusion",
    "record_alert",
    "record_analytics_dropped",
    "record_analytics_write_error",
    "record_auth_failure",
    "record_camera_agreement",
    "record_camera_skews",
    "record_frame_accepted",
    "record_frame_duplicate",
    "record_frame_rejected",
    "record_live_push_failure",
    "record_live_push_superseded",
    "record_state_save_failure",
    "record_timeseries_dropped",
    "record_timeseries_write_error",
    "record_timeseries_written",
    "register_queue_depth",
    "set_build_info",
    "set_queue_depth",
    "set_timeseries_buffer",
    "stream_closed",
    "stream_opened",
    "websocket_closed",
    "websocket_opened",
]


def record_frame_accepted(
    *, tracks: int, latency_s: float | None = None, handle_s: float | None = None
) -> None:
    """Count one stored TrackFrame carrying `tracks` tracks.

    `latency_s`: server receive time minus the frame's capture time (negative values, from clock skew, count
    as 0);
    `handle_s`: time spent on the frame by the server. Either may be omitted.
    """
    if tracks < 0:
        raise ValueError(f"tracks must be >= 0, got {tracks}")
    INGEST_FRAMES_ACCEPTED.inc()
    if tracks:
        INGEST_TRACKS.inc(tracks)
    if latency_s is not None:
        INGEST_LATENCY.observe(max(latency_s, 0.0))
    if handle_s is not None:
        INGEST_HANDLE.observe(max(handle_s, 0.0))


def record_frame_rejected(reason: RejectReason) -> None:
    """Count one TrackFrame answered with FrameRejected."""
    INGEST_FRAMES_REJECTED.labels(reason=RejectReason(reason).value).inc()


def record_frame_duplicate() -> None:
    """Count one replayed TrackFrame that was acked but not stored again."""
    INGEST_FRAMES_DUPLICATE.inc()


def record_live_push_superseded() -> None:
    """Count one live state dropped unsent in favour of a newer one."""
    LIVE_PUSH_SUPERSEDED.inc()


def record_live_push_failure(*, timeout: bool) -> None:
    """Count one push to the channel layer that failed (`timeout`: no answer in time) or raised."""
    LIVE_PUSH_FAILURES.labels(reason="timeout" if timeout else "error").inc()


def record_state_save_failure() -> None:
    """Count one camera whose stream state could not be saved (acks for it withheld, retried)."""
    INGEST_STATE_SAVE_FAILURES.inc()


def record_auth_failure() -> None:
    """Count one stream or enrollment refused with UNAUTHENTICATED."""
    INGEST_AUTH_FAILURES.inc()


def stream_opened() -> None:
    """A device stream was authenticated and is open."""
    INGEST_STREAMS_OPEN.inc()


def stream_closed() -> None:
    """A device stream ended (call once per `stream_opened`, in a `finally`)."""
    INGEST_STREAMS_OPEN.dec()


def set_queue_depth(queue: Queue | str, depth: int) -> None:
    """Set the depth of an in-process queue (use the `Queue` names where one fits)."""
    QUEUE_DEPTH.labels(queue=str(queue)).set(depth)


def register_queue_depth(queue: Queue | str, read_depth: Callable[[], float]) -> None:
    """Make ``retail_queue_depth{queue=...}`` call `read_depth` at every scrape (e.g. ``queue.qsize``)."""
    QUEUE_DEPTH.labels(queue=str(queue)).set_function(read_depth)


def set_timeseries_buffer(points: int) -> None:
    """Set the number of time-series points waiting in the write buffer."""
    TIMESERIES_BUFFER.set(points)


def record_timeseries_written(points: int) -> None:
    """Count `points` time-series points written successfully."""
    if points > 0:
        TIMESERIES_WRITTEN.inc(points)


def record_timeseries_dropped(points: int) -> None:
    """Count `points` time-series points evicted from a full buffer."""
    if points > 0:
        TIMESERIES_DROPPED.inc(points)


def record_timeseries_write_error() -> None:
    """Count one failed batch write to the time-series store."""
    TIMESERIES_WRITE_ERRORS.inc()


def record_analytics_dropped(records: int = 1) -> None:
    ANALYTICS_RECORDS_DROPPED.inc(records)


def record_analytics_write_error() -> None:
    ANALYTICS_WRITE_ERRORS.inc()


def websocket_opened() -> None:
    """A dashboard WebSocket was accepted."""
    WEBSOCKET_CONNECTIONS.inc()


def websocket_closed() -> None:
    """A dashboard WebSocket closed (once per `websocket_opened`)."""
    WEBSOCKET_CONNECTIONS.dec()


def record_alert(kind: str) -> None:
    """Count one incident opened or escalated, of `kind` ("warning" or "alarm"), or a condition alert opened
    ("capacity", "queue")."""
    ALERTS_RAISED.labels(kind=kind).inc()


def record_camera_skews(site_id: int, skews_s: Mapping[int, float]) -> None:
    """Publish the fusion's estimated clock skew of each camera of ``site_id`` (camera id -> seconds)."""
    for camera_id, skew_s in skews_s.items():
        FUSION_CAMERA_SKEW.labels(site=str(site_id), camera=str(camera_id)).set(skew_s)


def record_camera_agreement(site_id: int, pairs: Sequence[CameraPairAgreement]) -> None:
    """Publish how far apart each camera pair of ``site_id`` places the people both see."""
    for pair in pairs:
        labels = {"site": str(site_id), "camera": str(pair.camera_id), "other": str(pair.other_camera_id)}
        FUSION_CAMERA_PAIR_DISTANCE.labels(quantile="0.5", **labels).set(pair.median_distance_m)
        FUSION_CAMERA_PAIR_DISTANCE.labels(quantile="0.9", **labels).set(pair.p90_distance_m)


def forget_site_fusion(site_id: int, camera_ids: Sequence[int]) -> None:
    """The site left this process (a worker released it or lost it): drop its cameras' skew and pair-distance
    series, which its new owner publishes (else this process would go on exporting their last values)."""
    site = str(site_id)
    cameras = [str(camera_id) for camera_id in camera_ids]
    for camera in cameras:
        with contextlib.suppress(KeyError):
            FUSION_CAMERA_SKEW.remove(site, camera)
        for other in cameras:
            for quantile in ("0.5", "0.9"):
                with contextlib.suppress(KeyError):
                    FUSION_CAMERA_PAIR_DISTANCE.remove(site, camera, other, quantile)


WORKER_SITES_OWNED: Final = Gauge(
    "worker_sites_owned", "Sites this site worker fuses now.", namespace=NAMESPACE
)
WORKER_SITE_LAG: Final = Gauge(
    "worker_site_lag_seconds",
    "Server clock minus the capture time of the site's frame applied last.",
    ["site"],
    namespace=NAMESPACE,
)
WORKER_SHEDDING: Final = Gauge(
    "worker_shedding",
    "1 while the site's live pushes are shed (the worker fell behind).",
    ["site"],
    namespace=NAMESPACE,
)
WORKER_TAKEOVERS: Final = Counter(
    "worker_takeovers", "Sites this worker took over (failover or rebalancing).", namespace=NAMESPACE
)
WORKER_RELEASES: Final = Counter(
    "worker_releases", "Sites this worker handed back for rebalancing.", namespace=NAMESPACE
)
WORKER_SITES_LOST: Final = Counter(
    "worker_sites_lost",
    "Sites this worker dropped because another worker had taken them over (their unsaved state discarded).",
    namespace=NAMESPACE,
)
BUS_PUBLISH_PENDING: Final = Gauge(
    "bus_publish_pending", "Frames published to JetStream and not acknowledged yet.", namespace=NAMESPACE
)


# Per site: its children of WORKER_SITE_LAG and WORKER_SHEDDING (set for every frame a worker applies).
_worker_site_gauges: dict[int, tuple[Any, Any]] = {}


def record_worker_site(site_id: int, *, lag_s: float, shedding: bool) -> None:
    gauges = _worker_site_gauges.get(site_id)
    if gauges is None:
        label = str(site_id)
        gauges = _worker_site_gauges[site_id] = (
            WORKER_SITE_LAG.labels(site=label),
            WORKER_SHEDDING.labels(site=label),
        )
    gauges[0].set(lag_s)
    gauges[1].set(1 if shedding else 0)


def set_build_info(version: str) -> None:
    """Publish ``retail_build_info{version=...} 1``."""
    BUILD_INFO.clear()
    BUILD_INFO.labels(version=version).set(1)
