"""Where the sample video is: a configured path, then ../shared/assets next to the repository, then a download
from OpenCV's repository (a real user's machine has the internet) into the data directory."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from pathlib import Path

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
VIDEO_URL = "https://raw.githubusercontent.com/opencv/opencv/4.x/samples/data/vtest.avi"
VIDEO_SHA256 = "c860e62379d5bd066104516f386487e4adfcf8ddd88af4768c02507d77c79188"


class AssetMissingError(RuntimeError):
    pass


def sample_video_path(data_dir: Path) -> Path:
    configured = os.environ.get("RETAIL_SAMPLE_VIDEO", "")
    candidates = [Path(configured)] if configured else []
    candidates += [
        REPO_ROOT.parent / "shared" / "assets" / "video" / "vtest.avi",
        data_dir / "assets" / "vtest.avi",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    target = data_dir / "assets" / "vtest.avi"
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading the sample video from %s", VIDEO_URL)
    try:
        with urllib.request.urlopen(VIDEO_URL, timeout=60) as response:
            data = response.read()
    except OSError as err:
        raise AssetMissingError(
            f"sample video not found (looked in {', '.join(str(c) for c in candidates)}) and the download from "
            f"{VIDEO_URL} failed: {err}. Set RETAIL_SAMPLE_VIDEO to a video file."
        ) from err
    if hashlib.sha256(data).hexdigest() != VIDEO_SHA256:
        raise AssetMissingError(f"downloaded {VIDEO_URL} but its sha256 does not match; not using it")
    target.write_bytes(data)
    return target
