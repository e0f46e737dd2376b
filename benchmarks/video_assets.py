"""The real-video benchmarks' two inputs, the sample video and the person detector: ``--video`` and ``--model``,
taken from ``RETAIL_SAMPLE_VIDEO`` / ``RETAIL_MODEL_PATH``, then ``../shared/assets/`` next to the repository (as
the agent and the demo find them; never copied into the repository)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def add_asset_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--video`` and ``--model`` (both parsed as paths) to `parser`."""
    parser.add_argument(
        "--video",
        type=Path,
        default=Path(
            os.environ.get("RETAIL_SAMPLE_VIDEO", REPO_ROOT.parent / "shared/assets/video/vtest.avi")
        ),
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=Path(
            os.environ.get("RETAIL_MODEL_PATH", REPO_ROOT.parent / "shared/assets/models/yolox_nano.onnx")
        ),
    )
