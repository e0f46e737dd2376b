"""Ground-truth store simulator: people, cameras and edge trackers, with the exact truth of every analytic.

Pure Python + NumPy/SciPy; no Django imports. ``simulate`` produces frames, ``compute_truth`` the truth and
``evaluate`` scores fusion + analytics against it.
"""

from server.simulation.cameras import PinholeCamera
from server.simulation.evaluation import EvaluationReport, default_analytics_config, evaluate
from server.simulation.layout import StoreLayout, VirtualCamera, ceiling_store, default_store
from server.simulation.people import SimPerson
from server.simulation.simulator import (
    Restart,
    SimCameraFrame,
    SimulationConfig,
    SimulationResult,
    ZoneEdit,
    simulate,
)
from server.simulation.truth import (
    GroundTruth,
    TruthEntry,
    TruthTransition,
    TruthViolation,
    TruthVisit,
    compute_truth,
)

__all__ = [
    "EvaluationReport",
    "GroundTruth",
    "PinholeCamera",
    "Restart",
    "SimCameraFrame",
    "SimPerson",
    "SimulationConfig",
    "SimulationResult",
    "StoreLayout",
    "TruthEntry",
    "TruthTransition",
    "TruthViolation",
    "TruthVisit",
    "VirtualCamera",
    "ZoneEdit",
    "ceiling_store",
    "compute_truth",
    "default_analytics_config",
    "default_store",
    "evaluate",
    "simulate",
]
