"""YOLOX person detector run by ONNX Runtime (any YOLOX-family ONNX export, any input size)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from edge_agent.errors import ModelLoadError
from edge_agent.types import Detections

logger = logging.getLogger(__name__)

PROVIDER_PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
# Providers that tune (cuDNN's algorithm search) or build (a TensorRT engine) per input shape, for seconds each.
SHAPE_TUNED_PROVIDERS = frozenset({"TensorrtExecutionProvider", "CUDAExecutionProvider"})
PAD_VALUE = 114
_STRIDE_SETS = ((8, 16, 32), (8, 16, 32, 64))


@dataclass(frozen=True, slots=True)
class YoloxOptions:
    """Detector settings (the agent's ``DetectorSettings`` maps onto this)."""

    score_threshold: float = 0.3
    nms_iou_threshold: float = 0.45
    intra_op_threads: int = 0
    providers: tuple[str, ...] | None = None
    fallback_input_size_px: tuple[int, int] = (416, 416)
    max_batch: int = 8
    output_decoded: bool = False
    person_class_index: int = 0
    # Run a dynamic-batch model only at batch sizes 1, 2, 4, ... (padded), each tuned once when loaded: on a GPU
    # every new batch size otherwise stalls the cameras for seconds. None = on where the provider is a GPU one.
    batch_buckets: bool | None = None


def select_providers(requested: Sequence[str] | None = None) -> list[str]:
    """Providers in preference order TensorRT → CUDA → CPU, keeping only those this onnxruntime offers."""
    available = set(ort.get_available_providers())
    wanted = requested if requested else PROVIDER_PREFERENCE
    chosen = [p for p in wanted if p in available]
    if "CPUExecutionProvider" not in chosen and "CPUExecutionProvider" in available:
        chosen.append("CPUExecutionProvider")
    return chosen


def make_grid(input_height_px: int, input_width_px: int, strides: Sequence[int]) -> NDArray[np.float32]:
    """Anchor grid of a YOLOX head: rows (grid_x, grid_y, stride) for every stride level, in output order."""
    parts = []
    for stride in strides:
        h, w = input_height_px // stride, input_width_px // stride
        ys, xs = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
        parts.append(np.stack((xs.ravel(), ys.ravel(), np.full(h * w, stride, dtype=np.float32)), axis=1))
    return np.concatenate(parts, axis=0)


class YoloxOnnxDetector:
    """Letterbox (top-left, pad 114, BGR 0..255 NCHW) → ONNX Runtime → YOLOX decode → person filter → NMS.

    One instance (one ``InferenceSession``) serves every camera; ``detect_batch`` runs one batched inference
    when the model's batch dimension is dynamic and loops otherwise (``dynamic_batch.py`` makes a fixed-batch
    export dynamic). On a GPU a dynamic-batch model runs at power-of-two batch sizes, tuned when loaded: the
    cameras' frames then come in a few shapes, not one per count of cameras with a new frame. Thread-safe.
    """

    def __init__(self, model_path: Path | str, options: YoloxOptions | None = None) -> None:
        self.options = options or YoloxOptions()
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ModelLoadError(f"model file not found: {self.model_path}")
        session_options = ort.SessionOptions()
        if self.options.intra_op_threads > 0:
            session_options.intra_op_num_threads = self.options.intra_op_threads
        session_options.inter_op_num_threads = 1
        session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.requested_providers = select_providers(self.options.providers)
        try:
            self.session = ort.InferenceSession(
                str(self.model_path), sess_options=session_options, providers=self.requested_providers
            )
        except Exception as err:  # onnxruntime raises several unrelated exception types for bad files
            raise ModelLoadError(f"cannot load ONNX model {self.model_path}: {err}") from err
        # What the session really runs on: onnxruntime drops a provider whose libraries are missing (TensorRT
        # without libnvinfer, CUDA without cuDNN) and retries with the rest, so the request can differ from this.
        self.providers: list[str] = list(self.session.get_providers())
        fallen_back = [p for p in self.requested_providers if p not in self.providers]
        if fallen_back:
            logger.warning(
                "detector %s: execution provider(s) %s could not start (missing GPU libraries?); running on %s",
                self.model_path.name,
                ",".join(fallen_back),
                ",".join(self.providers),
            )
        inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or not outputs:
            raise ModelLoadError(f"{self.model_path} is not a YOLOX detector (expected one NCHW input)")
        shape = inputs[0].shape
        self.input_name: str = inputs[0].name
        self.output_name: str = outputs[0].name
        self.dynamic_batch = not isinstance(shape[0], int)
        fallback_h, fallback_w = self.options.fallback_input_size_px
        self.input_height_px = shape[2] if isinstance(shape[2], int) else fallback_h
        self.input_width_px = shape[3] if isinstance(shape[3], int) else fallback_w
        self.batch_capacity = self.options.max_batch if self.dynamic_batch else int(shape[0])
        self._grid = self._grid_for_output(outputs[0].shape)
        self._input = np.full(
            (self.batch_capacity, 3, self.input_height_px, self.input_width_px), PAD_VALUE, dtype=np.float32
        )
        self._canvas = np.full((self.input_height_px, self.input_width_px, 3), PAD_VALUE, dtype=np.uint8)
        self._lock = threading.Lock()
        buckets = self.options.batch_buckets
        if buckets is None:
            buckets = bool(self.providers) and self.providers[0] in SHAPE_TUNED_PROVIDERS
        self.batch_sizes_run: set[int] = set()
        self._bucketed = self.dynamic_batch and buckets
        if self._bucketed:
            self._warm_up_buckets()
        logger.info(
            "detector %s loaded: input %dx%d, batch %s, providers %s",
            self.model_path.name,
            self.input_width_px,
            self.input_height_px,
            "dynamic" if self.dynamic_batch else self.batch_capacity,
            ",".join(self.providers),
        )

    def _run_size(self, count: int) -> int:
        """The batch size one inference of ``count`` images runs at: ``count``, its power-of-two bucket, or a
        fixed-batch model's own batch (the slots past ``count`` padded: a fixed model takes no other shape)."""
        if not self.dynamic_batch:
            return self.batch_capacity
        if not self._bucketed:
            return count
        size = 1
        while size < count:
            size *= 2
        return min(size, self.batch_capacity)

    def _bucket_sizes(self) -> list[int]:
        return sorted({self._run_size(count) for count in range(1, self.batch_capacity + 1)})

    def _warm_up_buckets(self) -> None:
        started = time.perf_counter()
        for size in self._bucket_sizes():
            self._run(self._input[:size])
        logger.info(
            "detector %s: batch sizes %s tuned in %.1f s",
            self.model_path.name,
            ",".join(str(size) for size in self._bucket_sizes()),
            time.perf_counter() - started,
        )

    def _run(self, feed: NDArray[np.float32]) -> NDArray[np.float32]:
        output: NDArray[np.float32] = self.session.run([self.output_name], {self.input_name: feed})[0]
        # onnxruntime's session falls back while running too: on an EPFail (a TensorRT engine that cannot be
        # built for a new shape, CUDA out of memory) it switches to CUDA or the CPU and retries, saying so only
        # on stdout. Keep what is reported true.
        running = self.session.get_providers()
        if running != self.providers:
            logger.warning(
                "detector %s: an execution provider failed while running; onnxruntime moved from %s to %s",
                self.model_path.name,
                ",".join(self.providers),
                ",".join(running),
            )
            self.providers = list(running)
        return output

    @property
    def name(self) -> str:
        return f"yolox-onnx:{self.model_path.name}"

    def _grid_for_output(self, output_shape: Sequence[object]) -> NDArray[np.float32]:
        rows = output_shape[1] if len(output_shape) == 3 else None
        for strides in _STRIDE_SETS:
            grid = make_grid(self.input_height_px, self.input_width_px, strides)
            if rows is None or not isinstance(rows, int) or rows == len(grid):
                return grid
        raise ModelLoadError(
            f"{self.model_path}: output has {rows} rows, which matches no YOLOX stride set for input "
            f"{self.input_width_px}x{self.input_height_px}"
        )

    def _letterbox_into(self, image: NDArray[np.uint8], slot: int) -> float:
        """Resize keeping the aspect ratio into the top-left of the input tensor slot; returns the ratio."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected a BGR uint8 HxWx3 image, got {image.dtype} {image.shape}")
        height, width = image.shape[:2]
        ratio = float(min(self.input_height_px / height, self.input_width_px / width))
        new_w, new_h = max(1, round(width * ratio)), max(1, round(height * ratio))
        canvas = self._canvas
        canvas[new_h:, :] = PAD_VALUE
        canvas[:new_h, new_w:] = PAD_VALUE
        canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        np.copyto(self._input[slot], canvas.transpose(2, 0, 1), casting="unsafe")
        return ratio

    def _decode(
        self, raw: NDArray[np.float32], ratio: float, width_px: int, height_px: int, score_threshold: float
    ) -> Detections:
        cls = self.options.person_class_index
        scores = raw[:, 4] * raw[:, 5 + cls]
        keep = np.flatnonzero(scores >= score_threshold)
        if keep.size == 0:
            return Detections()
        rows = raw[keep]
        scores = scores[keep]
        if self.options.output_decoded:
            centre = rows[:, 0:2]
            size = rows[:, 2:4]
        else:
            grid = self._grid[keep]
            centre = (rows[:, 0:2] + grid[:, 0:2]) * grid[:, 2:3]
            size = np.exp(rows[:, 2:4]) * grid[:, 2:3]
        inv = np.float32(1.0 / ratio)
        xywh = np.empty((len(keep), 4), dtype=np.float32)
        xywh[:, 0:2] = (centre - size * 0.5) * inv
        xywh[:, 2:4] = size * inv
        kept = cv2.dnn.NMSBoxes(xywh, scores, score_threshold, self.options.nms_iou_threshold)  # type: ignore[arg-type]
        chosen = np.asarray(kept, dtype=np.int64).reshape(-1)
        xywh = xywh[chosen]
        xyxy = np.empty((len(chosen), 4), dtype=np.float32)
        xyxy[:, 0] = np.clip(xywh[:, 0], 0, width_px)
        xyxy[:, 1] = np.clip(xywh[:, 1], 0, height_px)
        xyxy[:, 2] = np.clip(xywh[:, 0] + xywh[:, 2], 0, width_px)
        xyxy[:, 3] = np.clip(xywh[:, 1] + xywh[:, 3], 0, height_px)
        valid = (xyxy[:, 2] - xyxy[:, 0] >= 1) & (xyxy[:, 3] - xyxy[:, 1] >= 1)
        return Detections(xyxy_px=xyxy[valid], scores=scores[chosen][valid].astype(np.float32))

    def detect(self, image: NDArray[np.uint8], score_threshold: float | None = None) -> Detections:
        return self.detect_batch([image], score_threshold)[0]

    def detect_batch(
        self, images: Sequence[NDArray[np.uint8]], score_threshold: float | None = None
    ) -> list[Detections]:
        threshold = self.options.score_threshold if score_threshold is None else score_threshold
        results: list[Detections] = []
        with self._lock:
            for start in range(0, len(images), self.batch_capacity):
                chunk = images[start : start + self.batch_capacity]
                ratios = [self._letterbox_into(image, slot) for slot, image in enumerate(chunk)]
                size = self._run_size(len(chunk))  # slots past the chunk hold older images: computed, unread
                self.batch_sizes_run.add(size)
                feed = self._input if size == self.batch_capacity else self._input[:size]
                output = self._run(feed)
                for slot, image in enumerate(chunk):
                    results.append(
                        self._decode(output[slot], ratios[slot], image.shape[1], image.shape[0], threshold)
                    )
        return results
