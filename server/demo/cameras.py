"""The demo's two cameras: overlapping crops of the sample video and their floor calibration. Pure (no Django),
so that benchmarks and the edge side can use the same geometry."""

from __future__ import annotations

import numpy as np

from server.analytics.floor_geometry import homography_from_points

# Frames analysed per second per camera (the sample video runs at 50 fps). Not 0 ("as fast as the detector can"):
# the agent sizes each tracker's lost-track buffer and gates for the camera's analysis rate, and with 0 for 30 fps;
# a CPU analysing each of the two crops at a few frames per second then kept every lost track (and so its global
# person) alive for ten times as long and split people into new tracks, so the demo showed about 50 people for
# the 30-odd its cameras see (benchmarks/demo_people.py measures both). 10 fps, the installer guide's starting
# rate, fits two cameras on a two-core CPU.
ANALYSIS_RATE_HZ = 10.0
FRAME_WIDTH_PX = 1280
FRAME_HEIGHT_PX = 720
# Two overlapping crops (x, y, w, h) of the 1280×720 sample video: 240 px of overlap in the middle.
CAMERA_CROPS_PX: tuple[tuple[int, int, int, int], ...] = ((0, 0, 760, 720), (520, 0, 760, 720))
# Image corners of the full frame → floor metres, read off the hall's tile grid (the view is steep: the far edge
# covers a little more floor than the near edge).
FULL_FRAME_CORNERS_PX = [[0, 0], [1280, 0], [1280, 720], [0, 720]]
FULL_FRAME_CORNERS_M = [[1.5, 2.0], [28.5, 2.0], [26.0, 18.0], [4.0, 18.0]]


def crop_homography(
    crop_px: tuple[int, int, int, int],
) -> tuple[list[list[float]], list[dict[str, list[float]]]]:
    """The px→cm homography of a crop, and its calibration points (the full frame's corners moved into the crop)."""
    full, _ = homography_from_points(FULL_FRAME_CORNERS_PX, FULL_FRAME_CORNERS_M)
    x0, y0, w, h = crop_px
    crop_corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    in_full = crop_corners + np.array([x0, y0])
    homog = np.c_[in_full, np.ones(4)] @ full.T
    floor_m = homog[:, :2] / homog[:, 2:3] / 100.0
    homography, _ = homography_from_points(crop_corners.tolist(), floor_m.tolist())
    points = [
        {"image_px": p.tolist(), "floor_m": f.tolist()} for p, f in zip(crop_corners, floor_m, strict=True)
    ]
    return homography.tolist(), points
