"""Builds the configured backend and writer: Django settings → ``TimeSeriesConfig`` → objects.

Only ``timeseries_from_settings`` / ``config_from_settings`` read ``django.conf.settings``;
``build_timeseries`` takes a plain config, so the rest of the package stays Django-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from server.timeseries.base import TimeSeriesBackend
from server.timeseries.errors import TimeSeriesConfigError
from server.timeseries.writer import BatchingWriter


@dataclass(frozen=True, slots=True)
class TimeSeriesConfig:
    influx_url: str = ""  # empty = the embedded store
    influx_db: str = "retail"
    influx_token: str = ""
    influx_org: str = ""
    influx_bucket: str = ""
    influx_api: str = (
        "v1"  # "v1" (InfluxQL over HTTP, 1.x and 2.x/3.x compat) or "v2" (influxdb-client, Flux)
    )
    embedded_path: str = "timeseries.sqlite3"
    max_buffer_points: int = 100_000
    batch_size: int = 5000
    flush_interval_s: float = 0.5


def build_backend(config: TimeSeriesConfig) -> TimeSeriesBackend:
    if not config.influx_url:
        from server.timeseries.embedded import EmbeddedBackend

        return EmbeddedBackend(Path(config.embedded_path))
    api = config.influx_api.strip().lower()
    if api == "v1":
        from server.timeseries.influx_v1 import InfluxV1Backend

        database = config.influx_db or config.influx_bucket
        if not database:
            raise TimeSeriesConfigError("INFLUX_API=v1 needs INFLUX_DB (or INFLUX_BUCKET)", code="missing_db")
        try:
            return InfluxV1Backend(config.influx_url, database, token=config.influx_token)
        except ValueError as err:
            raise TimeSeriesConfigError(str(err), code="bad_url") from err
    if api == "v2":
        from server.timeseries.influx_v2 import InfluxV2Backend

        bucket = config.influx_bucket or config.influx_db
        missing = [
            name
            for name, value in (("INFLUX_TOKEN", config.influx_token), ("INFLUX_ORG", config.influx_org))
            if not value
        ]
        if missing or not bucket:
            raise TimeSeriesConfigError(
                f"INFLUX_API=v2 needs {', '.join(missing or ['INFLUX_BUCKET'])}", code="missing_v2_settings"
            )
        return InfluxV2Backend(
            config.influx_url, token=config.influx_token, org=config.influx_org, bucket=bucket
        )
    raise TimeSeriesConfigError(f"INFLUX_API must be 'v1' or 'v2', not {config.influx_api!r}", code="bad_api")


def build_timeseries(config: TimeSeriesConfig) -> tuple[TimeSeriesBackend, BatchingWriter]:
    backend = build_backend(config)
    writer = BatchingWriter(
        backend,
        max_buffer_points=config.max_buffer_points,
        batch_size=config.batch_size,
        flush_interval_s=config.flush_interval_s,
    )
    return backend, writer


def config_from_settings() -> TimeSeriesConfig:
    from django.conf import settings

    return TimeSeriesConfig(
        influx_url=str(getattr(settings, "INFLUX_URL", "") or ""),
        influx_db=str(getattr(settings, "INFLUX_DB", "retail") or ""),
        influx_token=str(getattr(settings, "INFLUX_TOKEN", "") or ""),
        influx_org=str(getattr(settings, "INFLUX_ORG", "") or ""),
        influx_bucket=str(getattr(settings, "INFLUX_BUCKET", "") or ""),
        influx_api=str(getattr(settings, "INFLUX_API", "v1") or "v1"),
        embedded_path=str(getattr(settings, "TIMESERIES_EMBEDDED_PATH", "timeseries.sqlite3")),
        max_buffer_points=int(getattr(settings, "TIMESERIES_MAX_BUFFER_POINTS", 100_000)),
        batch_size=int(getattr(settings, "TIMESERIES_BATCH_SIZE", 5000)),
        flush_interval_s=float(getattr(settings, "TIMESERIES_FLUSH_INTERVAL_S", 0.5)),
    )


def timeseries_from_settings() -> tuple[TimeSeriesBackend, BatchingWriter]:
    """The backend and its writer as configured in Django settings (INFLUX_URL empty → embedded SQLite store).

    The writer's thread starts on its first ``write()``; call ``writer.stop()`` then ``backend.close()`` at
    shutdown."""
    return build_timeseries(config_from_settings())
