"""The real-video benchmarks' two inputs, the sample video and the person detector: ``--video`` and ``--model``,
found as the agent finds them (``edge_agent.config``: ``RETAIL_SAMPLE_VIDEO`` / ``RETAIL_MODEL_PATH``, then
``../shared/assets/`` next to the repository; never copied into the repository)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from edge_agent.config import DEFAULT_MODEL_PATH, DEFAULT_SAMPLE_VIDEO, MODEL_PATH_ENV, SAMPLE_VIDEO_ENV


def add_asset_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--video`` and ``--model`` (both parsed as paths) to `parser`."""
    parser.add_argument(
        "--video", type=Path, default=Path(os.environ.get(SAMPLE_VIDEO_ENV) or DEFAULT_SAMPLE_VIDEO)
    )
    parser.add_argument(
        "--model", type=Path, default=Path(os.environ.get(MODEL_PATH_ENV) or DEFAULT_MODEL_PATH)
    )
