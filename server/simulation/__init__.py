"""Ground-truth store simulator: people, cameras and edge trackers, with the exact truth of every analytic.

Pure Python + NumPy/SciPy; no Django imports. ``simulate`` produces frames, ``compute_truth`` the truth and
``evaluate`` scores fusion + analytics against it.
"""

from server.simulation.evaluation import EvaluationReport, default_analytics_config, evaluate
from server.simulation.layout import StoreLayout, VirtualCamera, default_store
from server.simulation.people import SimPerson
from server.simulation.simulator import SimCameraFrame, SimulationConfig, SimulationResult, simulate
from server.simulation.truth import GroundTruth, TruthEntry, TruthViolation, compute_truth

__all__ = [
    "EvaluationReport",
    "GroundTruth",
    "SimCameraFrame",
    "SimPerson",
    "SimulationConfig",
    "SimulationResult",
    "StoreLayout",
    "TruthEntry",
    "TruthViolation",
    "VirtualCamera",
    "compute_truth",
    "default_analytics_config",
    "default_store",
    "evaluate",
    "simulate",
]
