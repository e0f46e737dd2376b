"""The YOLOX ONNX detector on real frames of the sample video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.config import DetectorSettings, sample_video_path
from edge_agent.detection import Detector, YoloxOnnxDetector, YoloxOptions, select_providers
from edge_agent.detection.yolox_onnx import make_grid
from edge_agent.errors import ModelLoadError
from edge_agent.tracking.matching import iou_matrix


@pytest.fixture(scope="module")
def detector() -> YoloxOnnxDetector:
    return YoloxOnnxDetector(DetectorSettings().resolved_model_path(), YoloxOptions(score_threshold=0.3))


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(sample_video_path()))
    images = []
    for index in range(200):
        ok, image = capture.read()
        assert ok
        if index in (0, 100, 199):
            images.append(image)
    capture.release()
    return images


def test_it_is_a_detector(detector: YoloxOnnxDetector) -> None:
    assert isinstance(detector, Detector)
    assert detector.providers[-1] == "CPUExecutionProvider"
    assert select_providers(["CUDAExecutionProvider", "NoSuchProvider"]) == ["CPUExecutionProvider"]


def test_frame_zero_has_the_crowd(detector: YoloxOnnxDetector, frames: list[np.ndarray]) -> None:
    found = detector.detect(frames[0])
    assert len(found) >= 15
    assert found.scores.min() >= 0.3
    boxes = found.xyxy_px
    assert np.all(boxes[:, [0, 2]] >= 0)
    assert np.all(boxes[:, [0, 2]] <= 1280)
    assert np.all(boxes[:, [1, 3]] >= 0)
    assert np.all(boxes[:, [1, 3]] <= 720)
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    assert np.all((height / width > 1.0) & (height / width < 5.0))  # standing people are taller than wide
    assert np.all((height > 40) & (height < 400))


def test_people_are_found_where_they_are(detector: YoloxOnnxDetector, frames: list[np.ndarray]) -> None:
    """Blank out the left half: people there vanish, people on the right are found at the same places."""
    image = frames[1]
    full = detector.detect(image)
    masked = image.copy()
    masked[:, :640] = 114
    half = detector.detect(masked)
    centres_x = (half.xyxy_px[:, 0] + half.xyxy_px[:, 2]) / 2
    assert len(half) >= 5
    assert np.all(centres_x > 600)
    right = full.xyxy_px[full.xyxy_px[:, 0] > 700]
    overlap = iou_matrix(right, half.xyxy_px).max(axis=1)
    assert np.mean(overlap > 0.7) >= 0.8


def test_moved_people_move_with_the_image(detector: YoloxOnnxDetector, frames: list[np.ndarray]) -> None:
    image = frames[2]
    shift = np.array([[1, 0, 80], [0, 1, 40]], dtype=np.float32)
    shifted = np.asarray(
        cv2.warpAffine(image, shift, (1280, 720), borderValue=(114, 114, 114)), dtype=np.uint8
    )
    original = detector.detect(image)
    moved = detector.detect(shifted)
    inner = original.xyxy_px[(original.xyxy_px[:, 2] < 1150) & (original.xyxy_px[:, 3] < 650)]
    expected = inner + np.array([80, 40, 80, 40], dtype=np.float32)
    assert np.mean(iou_matrix(expected, moved.xyxy_px).max(axis=1) > 0.6) >= 0.8


def test_batch_equals_single_and_crops_work(detector: YoloxOnnxDetector, frames: list[np.ndarray]) -> None:
    crop = frames[0][0:720, 520:1280]  # a non-contiguous view, as the reader hands it over
    batch = detector.detect_batch([frames[0], crop])
    single = detector.detect(frames[0])
    assert np.allclose(batch[0].xyxy_px, single.xyxy_px)
    assert np.all(batch[1].xyxy_px[:, 2] <= 760)
    assert len(batch[1]) >= 8


def test_an_empty_scene_has_nobody(detector: YoloxOnnxDetector) -> None:
    assert len(detector.detect(np.full((480, 640, 3), 114, np.uint8))) == 0


def test_grid_covers_all_strides() -> None:
    grid = make_grid(416, 416, (8, 16, 32))
    assert len(grid) == 52 * 52 + 26 * 26 + 13 * 13
    assert len(make_grid(640, 480, (8, 16, 32))) == 80 * 60 + 40 * 30 + 20 * 15


def test_missing_and_corrupt_models_raise_model_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"not found: .*absent\.onnx"):
        YoloxOnnxDetector(tmp_path / "absent.onnx")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07this is not an onnx graph" * 100)
    with pytest.raises(ModelLoadError, match=r"corrupt\.onnx"):
        YoloxOnnxDetector(corrupt)
