"""ByteTrack-family multi-object tracker of one camera, with every track held in one NumPy array.

Per frame: Kalman predict (batched) → stage 1: confirmed and lost tracks vs high-score detections (IoU, or
IoU × score with ``fuse_score``; lost tracks with a wider gate) → stage 2: still unmatched confirmed tracks vs
low-score detections (pure IoU) → stage 3: tentative tracks vs the remaining high-score detections → one batched
Kalman update of every matched track → new tentative tracks from unmatched confident detections → life cycle
(tentative → confirmed after ``min_hits_to_confirm`` matches; confirmed → lost when unmatched; lost → removed
after ``lost_track_buffer_frames``; a tentative track that misses a frame is dropped silently).

Appearance (when the detections carry colour descriptors, ``Detections.appearance``): every track keeps a
running average of its matched detections' colour-class shares, and in stage 1 a lost track is never
associated with a detection whose colours disagree (similarity below ``appearance_veto_similarity``), while one
whose colours agree (at least ``appearance_agree_similarity``) may be re-acquired at a lower IoU
(``lost_match_max_cost_agreeing``). Without descriptors (or where a part is not measurable in both) association
is by boxes alone, exactly as without this term.

Tracks live as the columns of one float64 table, one row per quantity (Kalman block, id, state, box, score,
hits, first and last matched frame), so bookkeeping costs a few array operations per frame whatever the
number of people. Quantity-major because with few people a frame's cost is the number of NumPy calls, and
calls on contiguous rows cost about half as much as on strided columns (see ``kalman``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from edge_agent.appearance import blend, similarity_matrix
from edge_agent.tracking import kalman
from edge_agent.tracking.matching import assign_pairs, iou_rows
from edge_agent.types import Detections, Tracks, TrackState

# State codes as stored in the float64 table, as 0-d arrays: NumPy 2 takes ~0.2 µs longer per call to
# resolve a Python float operand, and the tracker compares states a dozen times per frame.
_TENTATIVE = np.array(float(TrackState.TENTATIVE))
_CONFIRMED = np.array(float(TrackState.CONFIRMED))
_LOST = np.array(float(TrackState.LOST))
_REMOVED = np.array(float(TrackState.REMOVED))
# Internal only: a tentative track that missed a frame, deleted without ever being reported. Below every
# reported state, so "state >= _CONFIRMED" selects what the default config reports in one comparison.
_DROPPED = np.array(0.0)
_ONE = np.array(1.0)
# The same codes as Python floats, for association, which works on Python lists (``ByteTracker._associate``).
_TENTATIVE_CODE = float(TrackState.TENTATIVE)
_CONFIRMED_CODE = float(TrackState.CONFIRMED)
_LOST_CODE = float(TrackState.LOST)
_REMOVED_CODE = float(TrackState.REMOVED)
_DROPPED_CODE = 0.0
_TAKEN_COST = 2.0  # a cost above every gate (costs are 1 - IoU <= 1)
# Pairs are gathered for association with this much slack on the widest gate (``ByteTracker._candidates``):
# far more than the rounding of 1 - IoU, far less than any difference that matters.
_GATHER_MARGIN = 1e-9

# Rows of the track table after the Kalman block.
_ID = kalman.STATE_COLUMNS
_STATE = _ID + 1
_BOX = slice(_ID + 2, _ID + 6)  # xyxy of the current filter state (kept in step with it: computed once),
# or the reported detection box of a matched track (``report_detection_boxes``) until the next predict
_SCORE = _ID + 6
_HITS = _ID + 7
_START = _ID + 8
_LAST = _ID + 9
_ROWS = _ID + 10
_BOX_AND_SCORE = slice(_BOX.start, _SCORE + 1)  # adjacent rows: written together
# Rows of ``update``'s per-detection array: the box as the filter measures it (xyah), the box (xyxy), the score;
# box and score adjacent, as in the track table.
_SEEN_XYAH = slice(0, 4)
_SEEN_BOX = slice(4, 8)
_SEEN_SCORE = 8
_SEEN_BOX_AND_SCORE = slice(4, 9)
_SEEN_ROWS = 9
_VH = 7  # velocity of the box height
# Rows of ``update``'s per-detection array that make a new track's column (``_spawn``): the filter's
# (``kalman.INITIATE_ROWS``), then any for id and state (written after), box and score, any for hits, start and
# last (written after).
_SPAWN_ROWS = np.concatenate(
    (kalman.INITIATE_ROWS, [0, 0], np.arange(_SEEN_BOX.start, _SEEN_SCORE + 1), [0, 0, 0])
).astype(np.intp)
_GATE_RATE_EXPONENT = 0.2  # see TrackerConfig.with_gates_for_rate


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Tracker parameters (costs are 1 - IoU).

    The defaults are not ByteTrack's MOT17 ones (high 0.5, new track 0.6, stage-1 gate 0.8 on IoU x score):
    those fit detectors whose true detections score high, and lose people a small detector scores 0.3-0.6
    (half of YOLOX-Nano's people on the sample video). Chosen on ``benchmarks/tracker_eval.py``'s noise families
    (seeds 0-7; held-out seeds 1000+ are reported separately), where they beat every peer on every family: a
    low high-score threshold (most detections take part in stage 1), tracks started from 0.3, pure IoU costs
    (fusing the score penalises exactly the low-score true detections) and a tighter stage-1 gate (IoU >= 0.4)
    that keeps the extra low-score false positives from stealing identities, wider for lost tracks (IoU >= 0.25),
    whose prediction is older: on the sample video's real detections that keeps 10-15 % fewer ids per camera.
    """

    high_score_threshold: float = 0.2
    low_score_threshold: float = 0.1
    new_track_threshold: float = 0.3
    first_match_max_cost: float = 0.6
    # Stage 1's gate for lost tracks: their prediction is older and less sure than a confirmed track's.
    lost_match_max_cost: float = 0.75
    second_match_max_cost: float = 0.5
    tentative_match_max_cost: float = 0.7
    fuse_score: bool = False
    min_hits_to_confirm: int = 2
    lost_track_buffer_frames: int = 30
    duplicate_max_cost: float = 0.15
    report_tentative: bool = False
    report_lost: bool = True
    # The box reported for a track matched in this frame: its matched detection (as roboflow's ByteTrack), or
    # the Kalman estimate (as the original ByteTrack). The detection, by default: ByteTrack's filter starts
    # with zero velocity and barely lets the aspect ratio change (process std 0.01 a frame, measurement std
    # 0.1), so its estimate trails a person who starts walking or is cut by the image border (fewer boxes at
    # IoU >= 0.5 with the truth, the more so at 10-15 fps), and positions are smoothed downstream (fusion)
    # anyway. Association is the same either way.
    report_detection_boxes: bool = True
    # Appearance term of stage 1 for lost tracks (used only when detections carry descriptors): below the veto
    # similarity a lost track and a detection are never associated (the wrong person after an occlusion); at or
    # above the agreement similarity the lost gate widens to ``lost_match_max_cost_agreeing``. Similarity is the
    # histogram intersection of ``edge_agent.appearance`` (1 = the same colours). Chosen on the sample video's real
    # detections (benchmarks/tracker_video.py's input; a greyscale video, so only the four grey classes speak): a
    # confirmed track's running average vs its next matched detection is never below 0.5 (0.1 % below 0.6), vs
    # another detection within one box height 6.8 % below 0.5 (28 % below 0.6); looked at, the vetoes between 0.5
    # and 0.6 were as often the same person as not, those below 0.45 other people. 0.9 or more holds for 75 % of
    # the same-person pairs and under 10 % of the others.
    appearance_veto_similarity: float = 0.5
    appearance_agree_similarity: float = 0.9
    lost_match_max_cost_agreeing: float = 0.9
    # Weight of a new observation in each track's running average of colour shares.
    appearance_smoothing: float = 0.2

    def __post_init__(self) -> None:
        if not 0.0 <= self.low_score_threshold <= self.high_score_threshold <= 1.0:
            raise ValueError("need 0 <= low_score_threshold <= high_score_threshold <= 1")
        if self.min_hits_to_confirm < 1:
            raise ValueError("min_hits_to_confirm must be >= 1")
        if self.lost_track_buffer_frames < 0:
            raise ValueError("lost_track_buffer_frames must be >= 0")
        if not 0.0 <= self.appearance_veto_similarity <= self.appearance_agree_similarity <= 1.0:
            raise ValueError("need 0 <= appearance_veto_similarity <= appearance_agree_similarity <= 1")
        if not 0.0 < self.appearance_smoothing <= 1.0:
            raise ValueError("appearance_smoothing must be in (0, 1]")

    def scaled_to_rate(self, frames_per_second: float) -> TrackerConfig:
        """The same config at another analysis rate: the lost-track buffer (given for 30 fps) scaled, the stage-1
        gates widened below 30 fps (``with_gates_for_rate``)."""
        frames = max(1, round(self.lost_track_buffer_frames * frames_per_second / 30.0))
        return replace(self.with_gates_for_rate(frames_per_second), lost_track_buffer_frames=frames)

    def with_gates_for_rate(self, frames_per_second: float) -> TrackerConfig:
        """The stage-1 gates (given for 30 fps) at another analysis rate.

        Below 30 fps people move further between frames, so the IoU of a box with its track's prediction falls:
        the admitted IoU ``1 - gate`` shrinks by ``(fps / 30) ** 0.2`` (at 8 fps IoU >= 0.4 becomes >= 0.31 for
        tracks matched in the previous frame, >= 0.25 becomes >= 0.19 for lost ones). The exponent was chosen on
        ``benchmarks/tracker_eval.py``'s tuning seeds: the full-rate families want the tight gates, the
        low-frame-rate one wider ones. At and above 30 fps the gates stay as given.
        """
        factor = min(1.0, frames_per_second / 30.0) ** _GATE_RATE_EXPONENT if frames_per_second > 0 else 1.0
        return replace(
            self,
            first_match_max_cost=1.0 - (1.0 - self.first_match_max_cost) * factor,
            lost_match_max_cost=1.0 - (1.0 - self.lost_match_max_cost) * factor,
            lost_match_max_cost_agreeing=1.0 - (1.0 - self.lost_match_max_cost_agreeing) * factor,
        )


def _as_score(threshold: float) -> float:
    """A score threshold as the float32 it is compared in: NumPy compares the float32 scores with a Python
    float in float32 (NEP 50; value-based casting before NumPy 2), and association compares them as Python
    floats, which must give the same answers (a float32 score is >= the float32 threshold exactly when its
    double is >= the threshold's double)."""
    return float(np.float32(threshold))


@dataclass(frozen=True, slots=True)
class _Limits:
    """What association derives from a config, once per config rather than once per frame."""

    high_score: float
    low_score: float
    new_track: float
    # IoU from which a pair is gathered for association (``ByteTracker._candidates``): the widest gate of any
    # stage or the duplicate test, a hair wider, without and with the appearance term's wider one.
    # As 0-d arrays (``_TENTATIVE``'s note): compared with the whole IoU matrix every frame.
    gather_iou: NDArray[np.float64]
    gather_iou_appearance: NDArray[np.float64]
    duplicate_iou: float

    @classmethod
    def of(cls, config: TrackerConfig) -> _Limits:
        widest = max(
            config.first_match_max_cost,
            config.lost_match_max_cost,
            config.second_match_max_cost,
            config.tentative_match_max_cost,
            config.duplicate_max_cost,
        )
        return cls(
            high_score=_as_score(config.high_score_threshold),
            low_score=_as_score(config.low_score_threshold),
            new_track=_as_score(config.new_track_threshold),
            gather_iou=np.array(1.0 - widest - _GATHER_MARGIN),
            gather_iou_appearance=np.array(
                1.0 - max(widest, config.lost_match_max_cost_agreeing) - _GATHER_MARGIN
            ),
            duplicate_iou=1.0 - config.duplicate_max_cost,
        )


_UNPLACED = np.full((64, 2), np.nan, dtype=np.float32)


def _unplaced(count: int) -> NDArray[np.float32]:
    """A fresh ``count`` x 2 array of NaN (floor positions not projected yet): one copy of a kept template."""
    global _UNPLACED
    if count > _UNPLACED.shape[0]:
        _UNPLACED = np.full((2 * count, 2), np.nan, dtype=np.float32)
    floor: NDArray[np.float32] = _UNPLACED[:count].copy()
    return floor


class ByteTracker:
    """Tracks the people of one camera: ``update`` takes one frame's detections and returns the reported
    tracks.

    Reported per frame: confirmed tracks matched in this frame (box = the matched detection's, or the Kalman
    estimate without ``report_detection_boxes``), lost tracks (box = Kalman prediction) when ``report_lost``,
    tentative ones when ``report_tentative``, and once, with state REMOVED, every previously reported track
    that is removed in this frame.
    """

    def __init__(self, config: TrackerConfig | None = None, first_id: int = 1) -> None:
        self._config = config or TrackerConfig()
        self._limits = _Limits.of(self._config)
        self.frame_index = 0
        self._next_id = first_id
        self._table = np.zeros((_ROWS, 0), dtype=np.float64)  # one column per track
        # Smoothed colour shares per track (T x 2 x 16, aligned with the table's columns); None until the first
        # detections with descriptors.
        self._appearance: NDArray[np.float32] | None = None

    @property
    def config(self) -> TrackerConfig:
        return self._config

    @config.setter
    def config(self, config: TrackerConfig) -> None:
        self._config = config
        self._limits = _Limits.of(config)

    @property
    def next_id(self) -> int:
        return self._next_id

    def retune(self, config: TrackerConfig, velocity_scale: float = 1.0) -> None:
        """Go on with another config (the same tracks and ids): the agent resizes gates and buffers when its
        camera's achieved analysis rate departs from the one the tracker was sized for. ``velocity_scale`` (the
        new frame interval over the old one: old rate / new rate) rescales every track's per-frame velocity and
        its uncertainty, so that a track keeps its speed in pixels per second."""
        self.config = config
        if velocity_scale != 1.0:
            table = self._table
            table[kalman.VELOCITY] *= velocity_scale
            table[kalman.PV] *= velocity_scale
            table[kalman.VV] *= velocity_scale * velocity_scale

    def __len__(self) -> int:
        return int(self._table.shape[1])

    @property
    def states(self) -> NDArray[np.int8]:
        states: NDArray[np.int8] = self._table[_STATE].astype(np.int8)
        return states

    @property
    def ids(self) -> NDArray[np.int64]:
        ids: NDArray[np.int64] = self._table[_ID].astype(np.int64)
        return ids

    def update(self, detections: Detections) -> Tracks:
        # At a few people the cost of a frame is the number of NumPy calls, not their size, so this is written
        # to make few: every box is converted once (and kept in the table), the filter, the IoU and the life
        # cycle run on whole arrays, and association works in plain Python on the few pairs inside any gate,
        # gathered once (``_candidates``). Outputs are bit for bit those of the straightforward formulation
        # (benchmarks/tracker_identical.py checks this against another checkout).
        config = self.config
        self.frame_index += 1
        frame = float(self.frame_index)
        table = self._table
        scores = detections.scores
        # Per detection, what a track takes from it: its box as the filter measures it (xyah), the box
        # itself (xyxy) and its score, in one 9 x N array so that one gather serves matched and new tracks.
        seen = np.empty((_SEEN_ROWS, scores.shape[0]), dtype=np.float64)
        boxes_t = seen[_SEEN_BOX]  # 4 x N (contiguous rows)
        boxes_t[...] = detections.xyxy_px.T
        seen[_SEEN_SCORE] = scores
        state = table[_STATE]
        observed = detections.appearance
        if observed is not None and self._appearance is None:
            self._appearance = np.zeros((table.shape[1], 2, 16), dtype=np.float32)
        known = self._appearance

        kalman.predict(table)
        iou = iou_rows(kalman.xyah_to_xyxy(table, out=table[_BOX]), boxes_t)
        kalman.xyxy_to_xyah(boxes_t, out=seen[_SEEN_XYAH])  # every detection converted once

        states = state.tolist()
        score_list = scores.tolist()
        taken: list[int] = []  # detections taken in stage 1 or 3: no new track from them
        t_list: list[int] = []
        d_list: list[int] = []
        stage3_size = 0
        duplicates: list[tuple[int, int]] = []
        if states and score_list:
            t_list, d_list, taken, stage3_size, duplicates = self._associate(
                iou, states, score_list, observed, known
            )
        if t_list:
            # A copy: update it whole, write it back once. take (a method), not table[:, idx]: that would give a
            # column-major copy, whose rows are strided (and cost more in every later operation). The tracks'
            # indices as an array (used thrice), the detections' as the list (a take converts it for less).
            t_idx = np.array(t_list, dtype=np.intp)
            matched = table.take(t_idx, axis=1)
            found = seen.take(d_list, axis=1)
            kalman.update(matched, found[_SEEN_XYAH], in_place=True)
            if config.report_detection_boxes:
                # Box and score in one go. The next frame's predict recomputes every box from the filter, so
                # association never sees these boxes.
                matched[_BOX_AND_SCORE] = found[_SEEN_BOX_AND_SCORE]
            else:
                kalman.xyah_to_xyxy(matched, out=matched[_BOX])
                matched[_SCORE] = found[_SEEN_SCORE]
            hits = matched[_HITS]
            hits += _ONE
            matched[_LAST] = frame
            # Matched confirmed and lost tracks are confirmed; a tentative one (all come from stage 3, the
            # tail) once it has enough hits.
            matched[_STATE] = _CONFIRMED
            if stage3_size:
                first = len(t_list) - stage3_size
                matched_state = matched[_STATE]
                for k, count in enumerate(hits[first:].tolist(), start=first):
                    if count < config.min_hits_to_confirm:
                        matched_state[k] = _TENTATIVE
            if observed is not None and known is not None:
                known[t_idx] = blend(known[t_idx], observed[d_list], config.appearance_smoothing)

        # Life cycle of the unmatched tracks (the matched ones are written back right after), decided on the
        # states as a list and written only where something changes: confirmed → lost (which keeps moving but
        # stops growing / shrinking, as in ByteTrack: its height velocity is zeroed once, here, rather than
        # before every predict); lost for too long → removed (only lost tracks can be that old, or every
        # unmatched one when the buffer is 0); tentative → dropped silently.
        matched_set = set(t_list)
        oldest = frame - config.lost_track_buffer_frames
        last = table[_LAST].tolist()
        to_lost: list[int] = []
        to_removed: list[int] = []
        to_drop: list[int] = []
        for k, s in enumerate(states):
            if k in matched_set:
                continue
            if s == _TENTATIVE_CODE:
                to_drop.append(k)
            elif last[k] < oldest:
                to_removed.append(k)
            elif s == _CONFIRMED_CODE:
                to_lost.append(k)
        # Written through index arrays, not the lists: NumPy converts a list index at every use, and a write
        # through an intp array index takes its fast path (~0.1 us against ~1 us through the list, at a few tracks).
        if to_lost:
            lost = np.array(to_lost, dtype=np.intp)
            state[lost] = _LOST
            table[_VH][lost] = 0.0  # through the row's view: a 2-D mixed index costs twice as much
        if to_removed:
            state[np.array(to_removed, dtype=np.intp)] = _REMOVED
        if to_drop:
            state[np.array(to_drop, dtype=np.intp)] = _DROPPED
        if t_list:
            table.T[t_idx] = matched.T  # the same columns; a row index of the transpose costs less
            # A track matched in this frame is not lost: its pairs (most of them: a track and its own
            # detection) are no duplicates.
            duplicates = [pair for pair in duplicates if pair[0] not in matched_set]
            if duplicates:
                self._remove_duplicates(duplicates, t_list, d_list)

        # New tentative tracks from confident detections not taken in stage 1 or 3 (as in ByteTrack, a
        # detection taken in stage 2 is not excluded: it only matters when new_track_threshold is below
        # high_score_threshold).
        new_threshold = self._limits.new_track
        if taken:
            excluded = set(taken)
            new_list = [c for c, s in enumerate(score_list) if s >= new_threshold and c not in excluded]
        else:
            new_list = [c for c, s in enumerate(score_list) if s >= new_threshold]
        if new_list:
            self._spawn(seen.take(new_list, axis=1), None if observed is None else observed[new_list])
            table = self._table
            state = table[_STATE]

        # Reported: confirmed tracks (all matched in this frame: an unmatched one is lost by now), removed ones
        # (all were confirmed once, so reported before; dropped tentative ones have their own state), lost and
        # tentative ones as configured. Picked from the states as a list: cheaper than masks at a few tracks.
        final = state.tolist()
        if config.report_lost:
            lowest = _CONFIRMED_CODE if not config.report_tentative else _TENTATIVE_CODE
            report = [k for k, s in enumerate(final) if s >= lowest]
        else:
            shown: tuple[float, ...] = (_CONFIRMED_CODE, _REMOVED_CODE)
            if config.report_tentative:
                shown = (_CONFIRMED_CODE, _REMOVED_CODE, _TENTATIVE_CODE)
            report = [k for k, s in enumerate(final) if s in shown]
        out = table.take(report, axis=1)
        count = out.shape[1]
        floor = _unplaced(count)
        # Positional (ids, boxes, scores, states, floor positions, flags): half the call's cost of keywords. The
        # floor positions and flags given here (not left to Tracks' defaults): same values, fewer NumPy calls.
        tracks = Tracks(
            out[_ID].astype(np.int64),
            np.ascontiguousarray(out[_BOX].T, dtype=np.float32),
            out[_SCORE].astype(np.float32),
            out[_STATE].astype(np.int8),
            floor,
            np.zeros((count,), dtype=np.uint32),
        )
        if self._appearance is not None:
            tracks.appearance_shares = self._appearance.take(report, axis=0)
        if _REMOVED_CODE in final or _DROPPED_CODE in final:
            keep = [k for k, s in enumerate(final) if s != _REMOVED_CODE and s != _DROPPED_CODE]
            self._table = table.take(keep, axis=1)
            if self._appearance is not None:
                self._appearance = self._appearance.take(keep, axis=0)
        return tracks

    def _associate(
        self,
        iou: NDArray[np.float64],
        states: list[float],
        score_list: list[float],
        observed: NDArray[np.float32] | None,
        known: NDArray[np.float32] | None,
    ) -> tuple[list[int], list[int], list[int], int, list[tuple[int, int]]]:
        """The three association stages on this frame's IoU (tracks x detections) in plain Python, on the pairs
        inside the widest gate (``_candidates``): at most a few per track, whatever the crowd.

        Stage 1: confirmed + lost tracks vs high-score detections (IoU, or IoU x score with ``fuse_score``;
        lost tracks with a wider gate, and the appearance term). Stage 2: confirmed tracks still unmatched vs
        low-score detections (pure IoU). Stage 3: tentative tracks vs the high-score detections stage 1 left.

        Returns the matched tracks and detections (stage 1's, then 2's, then 3's), the detections stages 1 and
        3 took, the number of stage 3's matches, and the (track, detection) pairs overlapping enough to be
        duplicates (``_remove_duplicates``)."""
        config = self.config
        limits = self._limits
        high_score = limits.high_score
        high = [s >= high_score for s in score_list]
        first_gate = config.first_match_max_cost
        lost_gate = config.lost_match_max_cost
        appearance = observed is not None and known is not None
        cand_rows, cand_cols, cand_iou = self._candidates(iou, appearance)
        fuse = config.fuse_score
        duplicate_iou = limits.duplicate_iou
        # Stage 1 (one gate per row when some track is lost and lost tracks' gate is the wider), gathering on the
        # way every pair's cost and the pairs overlapping enough to be duplicates.
        row_gates = lost_gate > first_gate and _LOST_CODE in states
        stage1_limit = lost_gate if row_gates else first_gate
        fused: list[float] = []
        duplicates: list[tuple[int, int]] = []
        rows: list[int] = []
        cols: list[int] = []
        costs: list[float] = []
        any_tentative = False
        for r, c, v in zip(cand_rows, cand_cols, cand_iou, strict=True):
            cost = 1.0 - v * score_list[c] if fuse else 1.0 - v
            fused.append(cost)
            if v > duplicate_iou:
                duplicates.append((r, c))
            s = states[r]
            if s == _TENTATIVE_CODE:
                any_tentative = True
            elif high[c] and cost <= (lost_gate if row_gates and s == _LOST_CODE else first_gate):
                rows.append(r)
                cols.append(c)
                costs.append(cost)
        if appearance:
            assert observed is not None
            assert known is not None
            rows, cols, costs, gate = self._appearance_gate(
                cand_rows, cand_cols, fused, rows, cols, costs, states, high, known, observed
            )
            stage1_limit = max(gate, first_gate)
        r1, c1 = assign_pairs(rows, cols, costs, stage1_limit)
        t_list = list(r1)
        d_list = list(c1)

        # Stage 2: only when some detection is below the high-score threshold (often none is: the detector's
        # own threshold is above it).
        if not all(high):
            low_score = limits.low_score
            low = [s >= low_score and not h for s, h in zip(score_list, high, strict=True)]
            if any(low):
                first_taken = set(r1)
                second_gate = config.second_match_max_cost
                rows, cols, costs = [], [], []
                for r, c, v in zip(cand_rows, cand_cols, cand_iou, strict=True):
                    if low[c] and states[r] == _CONFIRMED_CODE and r not in first_taken:
                        cost = 1.0 - v
                        if cost <= second_gate:
                            rows.append(r)
                            cols.append(c)
                            costs.append(cost)
                r2, c2 = assign_pairs(rows, cols, costs, second_gate)
                t_list += r2
                d_list += c2

        # Stage 3: tentative tracks (those with a pair in any gate) vs the high-score detections stage 1 did not
        # take.
        taken = list(c1)
        stage3_size = 0
        if any_tentative:
            first_cols = set(c1)
            tentative_gate = config.tentative_match_max_cost
            rows, cols, costs = [], [], []
            for r, c, cost in zip(cand_rows, cand_cols, fused, strict=True):
                if states[r] == _TENTATIVE_CODE and high[c]:
                    if c in first_cols:
                        cost = _TAKEN_COST  # out of the gate
                    if cost <= tentative_gate:
                        rows.append(r)
                        cols.append(c)
                        costs.append(cost)
            r3, c3 = assign_pairs(rows, cols, costs, tentative_gate)
            stage3_size = len(r3)
            t_list += r3
            d_list += c3
            taken += c3
        return t_list, d_list, taken, stage3_size, duplicates

    def _candidates(
        self, iou: NDArray[np.float64], appearance: bool
    ) -> tuple[list[int], list[int], list[float]]:
        """Rows, columns and IoU (row-major order) of every pair that any stage's gate or the duplicate test can
        admit: a pair is gathered when ``1 - IoU`` is within the widest gate (a hair wider, so that no pair the
        exact tests admit is missed through rounding: they are applied to the gathered pairs as before)."""
        limits = self._limits
        inside = iou >= (limits.gather_iou_appearance if appearance else limits.gather_iou)
        rows, cols = inside.nonzero()
        values: list[float] = iou[inside].tolist()
        return rows.tolist(), cols.tolist(), values

    def _appearance_gate(
        self,
        cand_rows: list[int],
        cand_cols: list[int],
        fused: list[float],
        rows: list[int],
        cols: list[int],
        costs: list[float],
        states: list[float],
        high: list[bool],
        known: NDArray[np.float32],
        observed: NDArray[np.float32],
    ) -> tuple[list[int], list[int], list[float], float]:
        """Stage 1's appearance term for lost tracks: of stage 1's admissible pairs (``rows``, ``cols``,
        ``costs``), those of a lost track whose colours disagree with the detection's are forbidden, and pairs
        whose colours agree are admitted up to the wider gate (picked from the gathered ones). Returns stage 1's
        pairs in row-major order and its largest admitted cost."""
        config = self.config
        lost = [k for k, s in enumerate(states) if s == _LOST_CODE]
        high_cols = [c for c, h in enumerate(high) if h]
        if not lost or not high_cols:
            return rows, cols, costs, config.lost_match_max_cost
        # NaN: no part measurable in both.
        similar = similarity_matrix(known[lost], observed[high_cols]).tolist()
        lost_at = {r: k for k, r in enumerate(lost)}
        high_at = {c: k for k, c in enumerate(high_cols)}
        veto = config.appearance_veto_similarity
        agree = config.appearance_agree_similarity
        agreeing_gate = config.lost_match_max_cost_agreeing
        admitted = set(zip(rows, cols, strict=True))
        out_rows: list[int] = []
        out_cols: list[int] = []
        out_costs: list[float] = []
        widened = False
        for r, c, cost in zip(cand_rows, cand_cols, fused, strict=True):
            k = lost_at.get(r)
            if k is None:
                if (r, c) in admitted:
                    out_rows.append(r)
                    out_cols.append(c)
                    out_costs.append(cost)
                continue
            if not high[c]:
                continue
            similarity = similar[k][high_at[c]]
            ok = (r, c) in admitted and not similarity < veto
            if similarity >= agree and cost <= agreeing_gate:
                ok = widened = True
            if ok:
                out_rows.append(r)
                out_cols.append(c)
                out_costs.append(cost)
        if widened:
            return out_rows, out_cols, out_costs, max(config.lost_match_max_cost, agreeing_gate)
        return out_rows, out_cols, out_costs, config.lost_match_max_cost

    def _remove_duplicates(
        self, duplicates: list[tuple[int, int]], t_list: list[int], d_list: list[int]
    ) -> None:
        """A lost track on a person another track was matched with in this frame: the younger of the two is
        removed (ByteTrack's dedup). "On the person": the lost track's prediction overlaps the detection the
        other track took (its reported box) by more than ``1 - duplicate_max_cost`` IoU, read off the frame's
        association matrix (``duplicates``: the pairs of tracks and detections above that IoU, before the
        update) instead of a second IoU of Kalman estimates, which cost as much as the association's."""
        table = self._table
        state = table[_STATE]
        states = state.tolist()  # after the life cycle: lost, and matched confirmed (or still tentative)
        taker = dict(zip(d_list, t_list, strict=True))
        start: list[float] | None = None
        for b, c in duplicates:
            a = taker.get(c)
            if a is None or states[b] != _LOST_CODE or states[a] != _CONFIRMED_CODE:
                continue
            if start is None:
                start = table[_START].tolist()
            if start[a] < start[b]:
                state[b] = _REMOVED
            else:
                state[a] = _REMOVED

    def _spawn(self, found: NDArray[np.float64], appearance: NDArray[np.float32] | None = None) -> None:
        """New tracks from detections (``found``: columns of ``update``'s per-detection array: xyah, xyxy,
        score) and their colour shares, when known. A new track's box is its detection's (its filter state is
        that box)."""
        count = found.shape[1]
        if self._appearance is not None:
            fresh = appearance if appearance is not None else np.zeros((count, 2, 16), dtype=np.float32)
            self._appearance = np.concatenate((self._appearance, fresh.astype(np.float32)), axis=0)
        # The new columns made as a block of their own (contiguous rows: cheaper calls than on a slice of the
        # grown table) by one gather of the detections' rows (filter state, box and score), then the grown table
        # made in one call.
        block = found.take(_SPAWN_ROWS, axis=0)
        kalman.initiate_gathered(block)
        block[_ID] = np.arange(self._next_id, self._next_id + count) if count > 1 else self._next_id
        self._next_id += count
        immediately = self.frame_index == 1 or self.config.min_hits_to_confirm <= 1
        block[_STATE] = _CONFIRMED if immediately else _TENTATIVE
        hits = float(self.config.min_hits_to_confirm if immediately else 1)
        frame = float(self.frame_index)
        block[_HITS] = hits
        block[_START : _LAST + 1] = frame  # adjacent rows: one fill (cheaper than a broadcast 3 x 1 list)
        self._table = np.concatenate((self._table, block), axis=1)
