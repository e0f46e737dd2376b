"""Track frames for tests: decoded ones (confirmed people at floor positions, as the ingest hands them on after
validation) for the processor, fused ones for the analytics and the recorder."""

from __future__ import annotations

import numpy as np

from server.frames import DecodedFrame, TrackState
from server.fusion import FusedFrame


def decoded_frame(
    camera_id: int, sequence: int, time_us: int, people: dict[int, tuple[float, float]]
) -> DecodedFrame:
    """One camera's frame: each local id of `people` confirmed at its (x, y) metres, no boxes, score 0.9."""
    ids = sorted(people)
    count = len(ids)
    return DecodedFrame(
        camera_id=camera_id,
        sequence=sequence,
        capture_time_us=time_us,
        local_ids=np.array(ids, dtype=np.int64),
        bbox_xywh_px=np.zeros((count, 4), dtype=np.int32),
        floor_xy_cm=np.array([[round(c * 100) for c in people[i]] for i in ids], dtype=np.int32).reshape(
            count, 2
        ),
        score_permille=np.full(count, 900, dtype=np.int32),
        state=np.full(count, int(TrackState.CONFIRMED), dtype=np.int32),
        flags=np.zeros(count, dtype=np.int32),
    )


def fused_frame(site_id: int, time_us: int, people: dict[int, tuple[float, float]]) -> FusedFrame:
    """One fused frame of a one-camera site: each global id of `people` at its (x, y) metres, standing, seen now."""
    ids = np.array(sorted(people), dtype=np.int64)
    return FusedFrame(
        site_id=site_id,
        time_us=time_us,
        global_ids=ids,
        floor_xy_m=np.array([people[g] for g in ids.tolist()], dtype=np.float64).reshape(-1, 2),
        velocities_mps=np.zeros((ids.size, 2)),
        last_seen_us=np.full(ids.size, time_us, dtype=np.int64),
        source_mask=np.ones((ids.size, 1), dtype=np.bool_),
        camera_ids=np.array([1], dtype=np.int64),
    )
