"""ByteTrack-family multi-object tracker of one camera, with every track held in one NumPy array.

Per frame: Kalman predict (batched) → stage 1: confirmed and lost tracks vs high-score detections (IoU fused
with score) → stage 2: still unmatched confirmed tracks vs low-score detections (pure IoU) → stage 3:
tentative tracks vs the remaining high-score detections → one batched Kalman update of every matched track →
new tentative tracks from unmatched confident detections → life cycle (tentative → confirmed after
``min_hits_to_confirm`` matches; confirmed → lost when unmatched; lost → removed after
``lost_track_buffer_frames``; a tentative track that misses a frame is dropped silently).

Tracks live as rows of one float64 matrix (Kalman block + id, state, score, hits, first and last matched
frame), so bookkeeping costs a few array operations per frame whatever the number of people.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from edge_agent.tracking import kalman
from edge_agent.tracking.matching import indices_of, iou_matrix, linear_assignment
from edge_agent.types import Detections, Tracks, TrackState

_TENTATIVE = float(TrackState.TENTATIVE)
_CONFIRMED = float(TrackState.CONFIRMED)
_LOST = float(TrackState.LOST)
_REMOVED = float(TrackState.REMOVED)

# Columns after the Kalman block.
_ID = kalman.STATE_COLUMNS
_STATE = _ID + 1
_SCORE = _ID + 2
_HITS = _ID + 3
_START = _ID + 4
_LAST = _ID + 5
_COLUMNS = _ID + 6
_VH = 7  # velocity of the box height


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Tracker parameters (defaults follow ByteTrack's MOT17 settings; costs are 1 - IoU)."""

    high_score_threshold: float = 0.5
    low_score_threshold: float = 0.1
    new_track_threshold: float = 0.6
    first_match_max_cost: float = 0.8
    second_match_max_cost: float = 0.5
    tentative_match_max_cost: float = 0.7
    fuse_score: bool = True
    min_hits_to_confirm: int = 2
    lost_track_buffer_frames: int = 30
    duplicate_max_cost: float = 0.15
    report_tentative: bool = False
    report_lost: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.low_score_threshold <= self.high_score_threshold <= 1.0:
            raise ValueError("need 0 <= low_score_threshold <= high_score_threshold <= 1")
        if self.min_hits_to_confirm < 1:
            raise ValueError("min_hits_to_confirm must be >= 1")
        if self.lost_track_buffer_frames < 0:
            raise ValueError("lost_track_buffer_frames must be >= 0")

    def scaled_to_rate(self, frames_per_second: float) -> TrackerConfig:
        """The same config with the lost-track buffer (given for 30 fps) scaled to another analysis rate."""
        frames = max(1, round(self.lost_track_buffer_frames * frames_per_second / 30.0))
        return replace(self, lost_track_buffer_frames=frames)


def _fused_cost(iou: NDArray[np.float64], scores: NDArray[np.float32], fuse: bool) -> NDArray[np.float64]:
    return 1.0 - (iou * scores if fuse else iou)


class ByteTracker:
    """Tracks the people of one camera: ``update`` takes one frame's detections and returns the reported
    tracks.

    Reported per frame: confirmed tracks matched in this frame (box = Kalman estimate), lost tracks (box =
    Kalman prediction) when ``report_lost``, tentative ones when ``report_tentative``, and once, with state
    REMOVED, every previously reported track that is removed in this frame.
    """

    def __init__(self, config: TrackerConfig | None = None, first_id: int = 1) -> None:
        self.config = config or TrackerConfig()
        self.frame_index = 0
        self._next_id = first_id
        self._rows = np.zeros((0, _COLUMNS), dtype=np.float64)

    @property
    def next_id(self) -> int:
        return self._next_id

    def __len__(self) -> int:
        return int(self._rows.shape[0])

    @property
    def states(self) -> NDArray[np.int8]:
        return self._rows[:, _STATE].astype(np.int8)

    @property
    def ids(self) -> NDArray[np.int64]:
        return self._rows[:, _ID].astype(np.int64)

    def update(self, detections: Detections) -> Tracks:
        config = self.config
        self.frame_index += 1
        frame = float(self.frame_index)
        rows = self._rows
        boxes = detections.xyxy_px
        scores = detections.scores
        state = rows[:, _STATE]

        rows[:, _VH] *= state != _LOST  # lost tracks keep moving but stop growing / shrinking (ByteTrack)
        kalman.predict(rows)
        predicted = kalman.xyah_to_xyxy(rows[:, 0:4])
        iou = iou_matrix(predicted, boxes)

        high = scores >= config.high_score_threshold
        high_idx = indices_of(high)
        tentative = state == _TENTATIVE
        pool_idx = indices_of(~tentative)
        track_parts: list[NDArray[np.intp]] = []
        det_parts: list[NDArray[np.intp]] = []
        track_matched = np.zeros(len(rows), dtype=bool)
        det_matched = np.zeros(len(boxes), dtype=bool)

        # Stage 1: confirmed + lost tracks vs high-score detections.
        if pool_idx.size and high_idx.size:
            cost = _fused_cost(iou[pool_idx][:, high_idx], scores[high_idx], config.fuse_score)
            r, c = linear_assignment(cost, config.first_match_max_cost)
            track_parts.append(pool_idx[r])
            det_parts.append(high_idx[c])
            track_matched[pool_idx[r]] = True
            det_matched[high_idx[c]] = True

        # Stage 2: confirmed tracks still unmatched vs low-score detections (pure IoU).
        second_idx = indices_of((state == _CONFIRMED) & ~track_matched)
        if second_idx.size:
            low_idx = indices_of(~high & (scores >= config.low_score_threshold))
            if low_idx.size:
                r, c = linear_assignment(1.0 - iou[second_idx][:, low_idx], config.second_match_max_cost)
                track_parts.append(second_idx[r])
                det_parts.append(low_idx[c])
                track_matched[second_idx[r]] = True

        # Stage 3: tentative tracks vs the high-score detections nobody took.
        tentative_idx = indices_of(tentative)
        if tentative_idx.size:
            free_high = indices_of(high & ~det_matched)
            if free_high.size:
                cost = _fused_cost(iou[tentative_idx][:, free_high], scores[free_high], config.fuse_score)
                r, c = linear_assignment(cost, config.tentative_match_max_cost)
                track_parts.append(tentative_idx[r])
                det_parts.append(free_high[c])
                track_matched[tentative_idx[r]] = True
                det_matched[free_high[c]] = True

        if track_parts:
            t_idx = np.concatenate(track_parts)
            d_idx = np.concatenate(det_parts)
            if t_idx.size:
                matched = rows[t_idx]  # a copy (fancy indexing): update it whole, write it back once
                kalman.update(matched, kalman.xyxy_to_xyah(boxes[d_idx]), in_place=True)
                matched[:, _SCORE] = scores[d_idx]
                matched[:, _HITS] += 1.0
                matched[:, _LAST] = frame
                rows[t_idx] = matched

        # Life cycle.
        hits = rows[:, _HITS]
        state[track_matched & ((state == _LOST) | (hits >= config.min_hits_to_confirm))] = _CONFIRMED
        state[(state == _CONFIRMED) & ~track_matched] = _LOST
        state[(state == _LOST) & (frame - rows[:, _LAST] > config.lost_track_buffer_frames)] = _REMOVED
        silent = tentative & ~track_matched
        state[silent] = _REMOVED
        if np.any(state == _LOST):
            self._remove_duplicates()

        new_idx = indices_of(~det_matched & (scores >= config.new_track_threshold))
        if new_idx.size:
            self._spawn(boxes[new_idx], scores[new_idx])
            rows = self._rows
            silent = np.concatenate((silent, np.zeros(new_idx.size, dtype=bool)))
        state = rows[:, _STATE]

        report = ((state == _CONFIRMED) & (rows[:, _LAST] == frame)) | (
            (state == _REMOVED) & ~silent & (rows[:, _HITS] >= config.min_hits_to_confirm)
        )
        if config.report_lost:
            report |= state == _LOST
        if config.report_tentative:
            report |= state == _TENTATIVE
        out = rows[report]
        tracks = Tracks(
            ids=out[:, _ID].astype(np.int64),
            xyxy_px=kalman.xyah_to_xyxy(out[:, 0:4]).astype(np.float32),
            scores=out[:, _SCORE].astype(np.float32),
            states=out[:, _STATE].astype(np.int8),
        )
        removed = state == _REMOVED
        if removed.any():
            self._rows = rows[~removed]
        return tracks

    def _remove_duplicates(self) -> None:
        """A confirmed and a lost track on the same person: the younger one is removed (ByteTrack's dedup)."""
        rows = self._rows
        state = rows[:, _STATE]
        confirmed = indices_of(state == _CONFIRMED)
        lost = indices_of(state == _LOST)
        if confirmed.size == 0:
            return
        current = kalman.xyah_to_xyxy(rows[:, 0:4])
        pairs = np.argwhere(
            1.0 - iou_matrix(current[confirmed], current[lost]) < self.config.duplicate_max_cost
        )
        for i, j in pairs:
            a, b = confirmed[i], lost[j]
            if rows[a, _START] < rows[b, _START]:
                state[b] = _REMOVED
            else:
                state[a] = _REMOVED

    def _spawn(self, boxes: NDArray[np.float32], scores: NDArray[np.float32]) -> None:
        count = boxes.shape[0]
        block = np.empty((count, _COLUMNS), dtype=np.float64)
        block[:, : kalman.STATE_COLUMNS] = kalman.initiate(kalman.xyxy_to_xyah(boxes))
        block[:, _ID] = np.arange(self._next_id, self._next_id + count)
        self._next_id += count
        immediately = self.frame_index == 1 or self.config.min_hits_to_confirm <= 1
        block[:, _STATE] = _CONFIRMED if immediately else _TENTATIVE
        block[:, _SCORE] = scores
        block[:, _HITS] = self.config.min_hits_to_confirm if immediately else 1
        block[:, _START] = self.frame_index
        block[:, _LAST] = self.frame_index
        self._rows = np.concatenate((self._rows, block))
