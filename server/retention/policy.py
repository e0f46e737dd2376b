"""The data classes the server keeps and how long each is kept (pure Python; periods from the settings, each
replaceable in the dashboard: `server.retention.models.RetentionSetting`).

Each class names its setting (RETENTION_<CLASS>_DAYS) and default in `DATA_CLASSES`; the table with what each
holds is in docs/privacy.md, "What the server keeps".

0 days keeps a class for ever.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from server.errors import Error


@dataclass(frozen=True, slots=True)
class DataClass:
    name: str
    setting: str
    default_days: int
    description: str


DATA_CLASSES = (
    DataClass("positions", "RETENTION_POSITIONS_DAYS", 30, "anonymous floor positions (time series)"),
    DataClass(
        "timeseries",
        "RETENTION_TIMESERIES_DAYS",
        400,
        "occupancy, zone counts, distancing counts, edge health, ingest statistics (time series)",
    ),
    DataClass("visits", "RETENTION_VISITS_DAYS", 400, "visits, zone dwell, flow (paths), distancing"),
    DataClass("heatmaps", "RETENTION_HEATMAPS_DAYS", 400, "heat maps per hour and per minute"),
    DataClass("bindings", "RETENTION_BINDINGS_DAYS", 90, "ended identity bindings (employee ↔ person)"),
    DataClass("snapshots", "RETENTION_SNAPSHOTS_DAYS", 30, "camera snapshots"),
    DataClass("alerts", "RETENTION_ALERTS_DAYS", 365, "closed alert incidents"),
    DataClass("audit", "RETENTION_AUDIT_DAYS", 730, "audit log entries"),
    DataClass("deliveries", "RETENTION_DELIVERIES_DAYS", 30, "notification delivery log (done rows)"),
)
CLASS_NAMES = tuple(c.name for c in DATA_CLASSES)


class RetentionConfigError(Error):
    code = "invalid_retention"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """`days`: the period in force per class; `environment_days`: what the settings say (the default of a class
    whose period was set in the dashboard, `overridden`)."""

    days: Mapping[str, int]
    environment_days: Mapping[str, int] = field(default_factory=dict)
    overridden: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Any, overrides: Mapping[str, int] | None = None) -> RetentionPolicy:
        """The settings' periods (RETENTION_<CLASS>_DAYS, else the class default), each replaced by `overrides`
        (the periods set in the dashboard) where given; unknown classes in `overrides` are ignored."""
        environment = {}
        for data_class in DATA_CLASSES:
            value = int(getattr(settings, data_class.setting, data_class.default_days))
            if value < 0:
                raise RetentionConfigError(f"{data_class.setting} must be 0 (keep for ever) or more days")
            environment[data_class.name] = value
        chosen = {name: days for name, days in (overrides or {}).items() if name in environment}
        return cls(days={**environment, **chosen}, environment_days=environment, overridden=frozenset(chosen))

    def cutoff(self, name: str, now: datetime) -> datetime | None:
        """Records of class `name` older than this are purged; None: kept for ever."""
        days = self.days[name]
        return None if days == 0 else now - timedelta(days=days)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "data_class": c.name,
                "description": c.description,
                "setting": c.setting,
                "days": self.days[c.name],
                "source": "dashboard" if c.name in self.overridden else "environment",
                "environment_days": self.environment_days.get(c.name, self.days[c.name]),
                "default_days": c.default_days,
            }
            for c in DATA_CLASSES
        ]
