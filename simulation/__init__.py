"""Ground-truth store simulator: people, cameras and edge trackers, with the exact truth of every analytic.

Pure Python + NumPy/SciPy; no Django imports. ``simulate`` produces frames, ``compute_truth`` the truth and
``evaluate`` scores fusion + analytics against it.
"""

from simulation.cameras import PinholeCamera
from simulation.evaluation import EvaluationReport, default_analytics_config, evaluate
from simulation.layout import StoreLayout, VirtualCamera, ceiling_store, default_store
from simulation.people import SimPerson
from simulation.simulator import (
    Restart,
    SimCameraFrame,
    SimulationConfig,
    SimulationResult,
    ZoneEdit,
    simulate,
)
from simulation.truth import (
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
