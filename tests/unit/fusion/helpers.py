"""Builders of CameraObservations for the fusion tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from server.fusion import CameraObservations

SITE = 7
T0_US = 1_700_000_000_000_000


def obs(
    camera_id: int,
    t_ms: float,
    rows: Sequence[tuple[int, float, float]],
    *,
    confirmed: bool | Sequence[bool] = True,
    valid: bool | Sequence[bool] = True,
    removed: Sequence[int] = (),
    site_id: int = SITE,
    score: float | Sequence[float] = 0.9,
) -> CameraObservations:
    """One frame of ``camera_id`` at ``T0 + t_ms`` with rows (local id, x m, y m)."""
    n = len(rows)
    confirmed_column = (
        np.full(n, confirmed, dtype=np.bool_) if isinstance(confirmed, bool) else np.array(confirmed)
    )
    valid_column = np.full(n, valid, dtype=np.bool_) if isinstance(valid, bool) else np.array(valid)
    return CameraObservations(
        site_id=site_id,
        camera_id=camera_id,
        capture_time_us=T0_US + round(t_ms * 1000),
        local_ids=np.array([r[0] for r in rows], dtype=np.int64),
        floor_xy_m=np.array([[r[1], r[2]] for r in rows], dtype=np.float64).reshape(n, 2),
        scores=np.full(n, score, dtype=np.float32)
        if isinstance(score, float)
        else np.array(score, np.float32),
        confirmed=confirmed_column.astype(np.bool_),
        valid_floor=valid_column.astype(np.bool_),
        removed_local_ids=np.array(list(removed), dtype=np.int64),
    )
