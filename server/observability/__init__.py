"""Operators' view of the server: JSON logs and Prometheus metrics. Imports no Django.

Use::

    from server.observability import metrics
    metrics.record_frame_accepted(tracks=3, latency_s=0.042, handle_s=0.0007)
    metrics.record_frame_rejected(metrics.RejectReason.INVALID_ARGUMENT)

    from server.observability import edge_health
    edge_health.record_health(device_id, health)  # a heartbeat_to_health record

    from server.observability.exposition import metrics_asgi_app, render_metrics, start_metrics_server

    LOGGING = server.observability.jsonlog.logging_config(level="INFO", log_format="json")
"""

from server.observability.exposition import metrics_asgi_app, render_metrics, start_metrics_server
from server.observability.jsonlog import JsonFormatter, logging_config, logging_config_from_env

__all__ = [
    "JsonFormatter",
    "logging_config",
    "logging_config_from_env",
    "metrics_asgi_app",
    "render_metrics",
    "start_metrics_server",
]
