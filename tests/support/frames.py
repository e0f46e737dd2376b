"""Decoded track frames for the processor's unit tests: confirmed people at floor positions, as the ingest hands
them on after validation."""

from __future__ import annotations

import numpy as np

from server.frames import DecodedFrame, TrackState


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
