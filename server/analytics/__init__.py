"""Store analytics: occupancy, visits, dwell, heat map, flow, social distancing, access control
and door counting.

Pure Python + NumPy; no Django imports. Live: :class:`SiteAnalytics`; queries over stored records:
:mod:`server.analytics.aggregate`.
"""

from server.analytics.errors import (
    AnalyticsConfigError,
    AnalyticsError,
    AnalyticsInputError,
    UnknownZoneError,
)
from server.analytics.site import SiteAnalytics, alert_message
from server.analytics.types import (
    VISITOR,
    AccessAlert,
    AlertKind,
    AnalyticsConfig,
    AnalyticsUpdate,
    CapacityEvent,
    CountingLine,
    CrossingDirection,
    DistancingViolation,
    DwellRecord,
    FloorGrid,
    FlowTransition,
    HeatDelta,
    HeatmapBucket,
    IncidentPhase,
    LineCrossing,
    PersonIdentity,
    QueueAlert,
    QueueStatus,
    QueueThresholds,
    QueueVisit,
    Zone,
    ZoneEntry,
    ZoneKind,
)

__all__ = [
    "VISITOR",
    "AccessAlert",
    "AlertKind",
    "AnalyticsConfig",
    "AnalyticsConfigError",
    "AnalyticsError",
    "AnalyticsInputError",
    "AnalyticsUpdate",
    "CapacityEvent",
    "CountingLine",
    "CrossingDirection",
    "DistancingViolation",
    "DwellRecord",
    "FloorGrid",
    "FlowTransition",
    "HeatDelta",
    "HeatmapBucket",
    "IncidentPhase",
    "LineCrossing",
    "PersonIdentity",
    "QueueAlert",
    "QueueStatus",
    "QueueThresholds",
    "QueueVisit",
    "SiteAnalytics",
    "UnknownZoneError",
    "Zone",
    "ZoneEntry",
    "ZoneKind",
    "alert_message",
]
