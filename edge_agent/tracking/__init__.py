"""Multi-object tracking: ByteTrack-family tracker (core), batched Kalman filter, association."""

from edge_agent.tracking.core import ByteTracker, TrackerConfig

__all__ = ["ByteTracker", "TrackerConfig"]
