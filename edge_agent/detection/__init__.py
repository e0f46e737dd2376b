"""Person detection: the ``Detector`` interface and its plugins."""

from edge_agent.detection.base import Detector
from edge_agent.detection.yolox_onnx import YoloxOnnxDetector, YoloxOptions, select_providers

__all__ = ["Detector", "YoloxOnnxDetector", "YoloxOptions", "select_providers"]
