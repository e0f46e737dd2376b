"""The YOLOX ONNX detector on real frames of the sample video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.config import DetectorSettings, sample_video_path
from edge_agent.detection import Detector, YoloxOnnxDetector, YoloxOptions, select_providers
from edge_agent.detection.dynamic_batch import dynamic_batch_copy
from edge_agent.detection.dynamic_batch import main as dynamic_batch_main
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


def test_it_reports_the_providers_the_session_runs_on(detector: YoloxOnnxDetector) -> None:
    assert detector.providers == detector.session.get_providers()


def test_a_provider_that_could_not_start_is_not_reported_as_running(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """onnxruntime-gpu drops TensorRT when libnvinfer is missing and retries on CUDA; this CPU-only machine has
    no such provider, so a named fake session reports the dropped provider the way onnxruntime-gpu does."""
    import onnxruntime as ort

    class SessionThatDroppedAProvider(ort.InferenceSession):  # type: ignore[misc]  # fake: stands in for a GPU build's fallback
        def get_providers(self) -> list[str]:
            return [p for p in super().get_providers() if p != "AzureExecutionProvider"]

    monkeypatch.setattr(ort, "InferenceSession", SessionThatDroppedAProvider)
    monkeypatch.setattr(
        ort, "get_available_providers", lambda: ["AzureExecutionProvider", "CPUExecutionProvider"]
    )
    with caplog.at_level("WARNING", logger="edge_agent.detection.yolox_onnx"):
        detector = YoloxOnnxDetector(
            DetectorSettings().resolved_model_path(),
            YoloxOptions(providers=("AzureExecutionProvider", "CPUExecutionProvider")),
        )
    assert detector.requested_providers == ["AzureExecutionProvider", "CPUExecutionProvider"]
    assert detector.providers == ["CPUExecutionProvider"]
    assert "AzureExecutionProvider could not start" in caplog.text


def test_a_provider_dropped_at_run_time_is_not_reported_as_running(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, frames: list[np.ndarray]
) -> None:
    """onnxruntime's Python session also falls back while running: on an EPFail (a TensorRT engine that cannot
    be built for a new batch size, CUDA out of memory) it calls set_providers(CUDA, CPU) or (CPU) and retries,
    printing to stdout; the detector kept reporting the providers of the load. The session here does that
    set_providers call itself at its first run, as onnxruntime would."""
    import onnxruntime as ort

    class SessionThatFellBackWhileRunning(ort.InferenceSession):  # type: ignore[misc]  # does ORT's own fallback call
        fell_back = False

        def run(self, *args: object, **kwargs: object) -> object:
            if not self.fell_back:
                self.fell_back = True
                self.set_providers(["CPUExecutionProvider"])
            return super().run(*args, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", SessionThatFellBackWhileRunning)
    detector = YoloxOnnxDetector(
        DetectorSettings().resolved_model_path(),
        YoloxOptions(providers=("AzureExecutionProvider", "CPUExecutionProvider")),
    )
    assert detector.providers == ["AzureExecutionProvider", "CPUExecutionProvider"]
    with caplog.at_level("WARNING", logger="edge_agent.detection.yolox_onnx"):
        assert len(detector.detect(frames[0])) >= 15
    assert detector.providers == ["CPUExecutionProvider"]
    assert "AzureExecutionProvider,CPUExecutionProvider to CPUExecutionProvider" in caplog.text


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


@pytest.fixture(scope="module")
def dynamic_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("models") / "yolox-dynamic-batch.onnx"
    return dynamic_batch_copy(DetectorSettings().resolved_model_path(), target)


def test_a_fixed_batch_export_made_dynamic_gives_the_same_people(
    dynamic_model: Path, detector: YoloxOnnxDetector, frames: list[np.ndarray]
) -> None:
    batched = YoloxOnnxDetector(dynamic_model, YoloxOptions(score_threshold=0.3, max_batch=8))
    assert batched.dynamic_batch
    assert not detector.dynamic_batch
    found = batched.detect_batch(frames)
    for image, result in zip(frames, found, strict=True):
        alone = detector.detect(image)
        assert len(result) == len(alone) >= 10
        assert np.allclose(result.xyxy_px, alone.xyxy_px, atol=0.01)
    assert batched.batch_sizes_run == {3}  # one inference for the three frames; no buckets on the CPU


def test_gpu_batch_buckets_pad_to_a_power_of_two(dynamic_model: Path, frames: list[np.ndarray]) -> None:
    """On a GPU every new batch size costs seconds of cuDNN tuning (measured on an H200: docs/benchmarks.md);
    buckets bound the shapes to 1, 2, 4, 8. The CPU has no such cost, so the test asks for them explicitly."""
    bucketed = YoloxOnnxDetector(dynamic_model, YoloxOptions(max_batch=8, batch_buckets=True))
    plain = YoloxOnnxDetector(dynamic_model, YoloxOptions(max_batch=8, batch_buckets=False))
    for count in (1, 2, 3, 5, 8, 11):
        images = [frames[i % len(frames)] for i in range(count)]
        for ours, theirs in zip(bucketed.detect_batch(images), plain.detect_batch(images), strict=True):
            assert np.allclose(ours.xyxy_px, theirs.xyxy_px, atol=0.01)
    assert bucketed.batch_sizes_run == {1, 2, 4, 8}
    assert plain.batch_sizes_run == {1, 2, 3, 5, 8}  # 11 = 8 + 3


def test_a_model_that_is_no_onnx_file_cannot_be_made_dynamic(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07this is not an onnx graph" * 100)
    with pytest.raises(ModelLoadError, match=r"corrupt\.onnx"):
        dynamic_batch_copy(corrupt, tmp_path / "out.onnx")
    assert dynamic_batch_main([str(corrupt), str(tmp_path / "out.onnx")]) == 2
    assert not (tmp_path / "out.onnx").exists()


def _with_reshape_shapes_in_constant_nodes(source: Path, target: Path, *, via_identity: bool = False) -> Path:
    """``source`` with the head's ``Reshape`` shapes held in ``Constant`` nodes instead of initialisers, as a
    ``torch.onnx.export`` without constant folding writes them (optionally behind an ``Identity``)."""
    import onnx  # type: ignore[import-untyped, unused-ignore]
    from onnx import helper  # type: ignore[import-untyped, unused-ignore]

    model = onnx.load(str(source))
    graph = model.graph
    shape_names = {node.input[1] for node in graph.node if node.op_type == "Reshape"}
    constants = []
    for tensor in graph.initializer:
        if tensor.name in shape_names:
            if via_identity:
                constants.append(helper.make_node("Constant", [], [tensor.name + "_c"], value=tensor))
                constants.append(helper.make_node("Identity", [tensor.name + "_c"], [tensor.name]))
            else:
                constants.append(helper.make_node("Constant", [], [tensor.name], value=tensor))
    kept = [tensor for tensor in graph.initializer if tensor.name not in shape_names]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = constants + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(target))
    return target


def test_reshape_shapes_in_constant_nodes_are_freed_too(
    tmp_path: Path, detector: YoloxOnnxDetector, frames: list[np.ndarray]
) -> None:
    """The copy used to edit initialisers only: with the shapes in Constant nodes it wrote a model whose batch of
    two came out as one image of 7098 rows, the two images' anchors mixed (and slot 1 an IndexError)."""
    source = _with_reshape_shapes_in_constant_nodes(
        DetectorSettings().resolved_model_path(), tmp_path / "c.onnx"
    )
    batched = YoloxOnnxDetector(
        dynamic_batch_copy(source, tmp_path / "c-batch.onnx"), YoloxOptions(max_batch=4)
    )
    for image, result in zip(frames, batched.detect_batch(frames), strict=True):
        alone = detector.detect(image)
        assert len(result) == len(alone) >= 10
        assert np.allclose(result.xyxy_px, alone.xyxy_px, atol=0.01)


def test_a_batch_the_copy_cannot_free_is_refused_not_written(tmp_path: Path) -> None:
    source = _with_reshape_shapes_in_constant_nodes(
        DetectorSettings().resolved_model_path(), tmp_path / "i.onnx", via_identity=True
    )
    with pytest.raises(ModelLoadError, match="batch of 2"):
        dynamic_batch_copy(source, tmp_path / "i-batch.onnx")
    assert not (tmp_path / "i-batch.onnx").exists()


def test_an_already_dynamic_model_stays_dynamic(dynamic_model: Path, tmp_path: Path) -> None:
    again = YoloxOnnxDetector(dynamic_batch_copy(dynamic_model, tmp_path / "again.onnx"))
    assert again.dynamic_batch


def test_a_fixed_batch_of_two_detects_one_image(
    dynamic_model: Path, tmp_path: Path, detector: YoloxOnnxDetector, frames: list[np.ndarray]
) -> None:
    """A fixed-batch export of 2 was fed one image ([1, 3, H, W]): onnxruntime refused the shape."""
    import onnx  # type: ignore[import-untyped, unused-ignore]

    model = onnx.load(str(dynamic_model))
    for value in list(model.graph.input) + list(model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = 2
    onnx.save(model, str(tmp_path / "batch2.onnx"))
    pair = YoloxOnnxDetector(tmp_path / "batch2.onnx")
    assert (pair.dynamic_batch, pair.batch_capacity) == (False, 2)
    assert np.allclose(pair.detect(frames[0]).xyxy_px, detector.detect(frames[0]).xyxy_px, atol=0.01)
    found = pair.detect_batch(frames)  # 2 + 1
    for image, result in zip(frames, found, strict=True):
        assert np.allclose(result.xyxy_px, detector.detect(image).xyxy_px, atol=0.01)
    assert pair.batch_sizes_run == {2}


def test_a_model_listing_its_weights_as_inputs_is_made_dynamic(tmp_path: Path) -> None:
    """Old exporters (IR 3) list every initialiser among the graph inputs; onnxruntime (and the detector) see
    one input, while the copy counted them all and refused the model as 'not a YOLOX detector'."""
    import onnx  # type: ignore[import-untyped, unused-ignore]
    from onnx import helper  # type: ignore[import-untyped, unused-ignore]

    model = onnx.load(str(DetectorSettings().resolved_model_path()))
    for tensor in model.graph.initializer:
        model.graph.input.append(
            helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims))
        )
    onnx.save(model, str(tmp_path / "ir3.onnx"))
    assert YoloxOnnxDetector(tmp_path / "ir3.onnx").input_name == "images"
    copy = dynamic_batch_copy(tmp_path / "ir3.onnx", tmp_path / "ir3-batch.onnx")
    assert YoloxOnnxDetector(copy).dynamic_batch
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    for value in onnx.load(str(copy)).graph.input:  # the weights' own shapes are left as they were
        if value.name in weights:
            assert [d.dim_value for d in value.type.tensor_type.shape.dim] == weights[value.name]
