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
from edge_agent.tracking.matching import assign, indices_of, iou_rows
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
_TAKEN = np.array(2.0)  # a cost above every gate (costs are 1 - IoU <= 1)

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
_VH = 7  # velocity of the box height
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


def _joined(parts: list[NDArray[np.intp]]) -> NDArray[np.intp]:
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.intp)


class ByteTracker:
    """Tracks the people of one camera: ``update`` takes one frame's detections and returns the reported
    tracks.

    Reported per frame: confirmed tracks matched in this frame (box = the matched detection's, or the Kalman
    estimate without ``report_detection_boxes``), lost tracks (box = Kalman prediction) when ``report_lost``,
    tentative ones when ``report_tentative``, and once, with state REMOVED, every previously reported track
    that is removed in this frame.
    """

    def __init__(self, config: TrackerConfig | None = None, first_id: int = 1) -> None:
        self.config = config or TrackerConfig()
        self.frame_index = 0
        self._next_id = first_id
        self._table = np.zeros((_ROWS, 0), dtype=np.float64)  # one column per track
        # Smoothed colour shares per track (T x 2 x 16, aligned with the table's columns); None until the first
        # detections with descriptors.
        self._appearance: NDArray[np.float32] | None = None

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
        # to make few: every box is converted once (and kept in the table), stage 1 masks the (rare)
        # tentative rows instead of cutting out the others, the common tiny assignment skips the solver's
        # bookkeeping (``assign``), and the life cycle is applied to all tracks before the matched ones are
        # written back over it. Outputs are bit for bit those of the straightforward formulation.
        config = self.config
        self.frame_index += 1
        frame = float(self.frame_index)
        table = self._table
        boxes_t = detections.xyxy_px.T.astype(np.float64, order="C")  # 4 x N (contiguous rows)
        scores = detections.scores
        state = table[_STATE]
        observed = detections.appearance
        if observed is not None and self._appearance is None:
            self._appearance = np.zeros((table.shape[1], 2, 16), dtype=np.float32)
        known = self._appearance

        kalman.predict(table)
        kalman.xyah_to_xyxy(table, out=table[_BOX])
        iou = iou_rows(table[_BOX], boxes_t)
        measured = kalman.xyxy_to_xyah(boxes_t)  # every detection converted once: for updates and new tracks

        high = scores >= config.high_score_threshold
        tentative = state == _TENTATIVE
        any_tentative = np.count_nonzero(tentative) > 0
        track_parts: list[NDArray[np.intp]] = []
        det_parts: list[NDArray[np.intp]] = []
        stage3_size = 0
        detection_count = boxes_t.shape[1]
        if table.shape[1] and detection_count:
            # Stage 1 and 3 cost: the IoU with the high-score detections, fused with their scores. Often every
            # detection is a high-score one (the detector's own threshold is above ``high_score_threshold``):
            # then no column is cut out, and stage 2 has nothing to do.
            all_high = np.count_nonzero(high) == detection_count
            if all_high:
                high_idx = None
                fused = np.subtract(_ONE, iou * scores if config.fuse_score else iou)
            else:
                high_idx = indices_of(high)
                fused = iou[:, high_idx]
                if config.fuse_score:
                    fused *= scores[high_idx]
                np.subtract(_ONE, fused, out=fused)

            # Stage 1: confirmed + lost tracks vs high-score detections (tentative rows masked out).
            stage1_limit = config.first_match_max_cost
            lost = state == _LOST
            if config.lost_match_max_cost > stage1_limit and np.count_nonzero(lost):
                # One gate per row (lost tracks' is wider): two calls, whatever the number of lost tracks.
                row_limit = np.where(lost, config.lost_match_max_cost, stage1_limit)
                admissible = fused <= row_limit[:, None]
                stage1_limit = config.lost_match_max_cost
            else:
                admissible = fused <= stage1_limit
            if observed is not None and known is not None:
                high_observed = observed if high_idx is None else observed[high_idx]
                stage1_limit = self._appearance_gate(fused, admissible, state, known, high_observed)
                stage1_limit = max(stage1_limit, config.first_match_max_cost)
            if any_tentative:
                admissible[tentative] = False
            r, high_c = assign(fused, stage1_limit, admissible)
            track_parts.append(r)
            det_parts.append(high_c if high_idx is None else high_idx[high_c])

            # Stage 2: confirmed tracks still unmatched vs low-score detections (pure IoU). Few rows and
            # columns: cut them out (at 200 people, masking the full matrix would cost more).
            if not all_high:
                low = scores >= config.low_score_threshold
                low &= ~high
                low_idx = indices_of(low)
                if low_idx.size:
                    second = state == _CONFIRMED
                    second[r] = False
                    second_idx = indices_of(second)
                    if second_idx.size:
                        # Two takes: a broadcast 2-D index costs four times as much at this size.
                        cost = _ONE - iou.take(second_idx, axis=0).take(low_idx, axis=1)
                        r2, c2 = assign(
                            cost, config.second_match_max_cost, cost <= config.second_match_max_cost
                        )
                        track_parts.append(second_idx[r2])
                        det_parts.append(low_idx[c2])

            # Stage 3: tentative tracks vs the high-score detections nobody took (few rows, cut out too).
            if any_tentative:
                tentative_idx = indices_of(tentative)
                cost = fused[tentative_idx]  # a copy
                cost[:, high_c] = _TAKEN  # the detections stage 1 took: out of the gate
                r3, c3 = assign(
                    cost, config.tentative_match_max_cost, cost <= config.tentative_match_max_cost
                )
                track_parts.append(tentative_idx[r3])
                det_parts.append(c3 if high_idx is None else high_idx[c3])
                stage3_size = r3.size

        t_idx = _joined(track_parts)
        d_idx = _joined(det_parts)
        # A copy: update it whole, write it back once. take / compress (methods), not table[:, idx]: that would
        # give a column-major copy, whose rows are strided (and cost more in every later operation).
        matched = table.take(t_idx, axis=1)
        if t_idx.size:
            kalman.update(matched, measured.take(d_idx, axis=1), in_place=True)
            if config.report_detection_boxes:
                # The next frame's predict recomputes every box from the filter, so association never sees
                # these.
                matched[_BOX] = boxes_t.take(d_idx, axis=1)
            else:
                kalman.xyah_to_xyxy(matched, out=matched[_BOX])
            matched[_SCORE] = scores[d_idx]
            matched[_HITS] += 1.0
            matched[_LAST] = frame
            # Matched confirmed and lost tracks are confirmed; a tentative one (all come from stage 3, the
            # tail) once it has enough hits.
            matched[_STATE] = _CONFIRMED
            if stage3_size:
                tail = matched[:, t_idx.size - stage3_size :]
                tail[_STATE][tail[_HITS] < config.min_hits_to_confirm] = _TENTATIVE  # row view: no 2-D index
            if observed is not None and known is not None:
                known[t_idx] = blend(known[t_idx], observed[d_idx], config.appearance_smoothing)

        # Life cycle, applied as if no track had been matched: the matched ones are overwritten right after.
        # Confirmed → lost (which keeps moving but stops growing / shrinking, as in ByteTrack: its height
        # velocity is zeroed once, here, rather than before every predict); lost for too long → removed
        # (only lost tracks can be that old, or every unmatched one when the buffer is 0); tentative →
        # dropped silently.
        confirmed = state == _CONFIRMED
        state[confirmed] = _LOST
        table[_VH][confirmed] = 0.0  # through the row's view: a 2-D mixed index costs twice as much
        state[table[_LAST] < frame - config.lost_track_buffer_frames] = _REMOVED
        if any_tentative:
            state[tentative] = _DROPPED
        table[:, t_idx] = matched
        self._remove_duplicates(iou, t_idx, d_idx)

        # New tentative tracks from confident detections not taken in stage 1 or 3 (as in ByteTrack, a
        # detection taken in stage 2 is not excluded: it only matters when new_track_threshold is below
        # high_score_threshold).
        new = scores >= config.new_track_threshold
        if det_parts:
            new[det_parts[0]] = False
            if stage3_size:
                new[det_parts[-1]] = False
        new_idx = indices_of(new)
        if new_idx.size:
            self._spawn(
                boxes_t.take(new_idx, axis=1),
                measured.take(new_idx, axis=1),
                scores[new_idx],
                None if observed is None else observed[new_idx],
            )
            table = self._table
            state = table[_STATE]

        # Reported: confirmed tracks (all matched in this frame: an unmatched one is lost by now), removed ones
        # (all were confirmed once, so reported before; dropped tentative ones have their own state), lost and
        # tentative ones as configured.
        if config.report_lost and not config.report_tentative:
            report = state >= _CONFIRMED
        elif config.report_lost:
            report = state >= _TENTATIVE
        else:
            report = (state == _CONFIRMED) | (state == _REMOVED)
            if config.report_tentative:
                report |= state == _TENTATIVE
        out = table.compress(report, axis=1)
        count = out.shape[1]
        floor = np.empty((count, 2), dtype=np.float32)
        floor.fill(np.nan)
        tracks = Tracks(
            ids=out[_ID].astype(np.int64),
            xyxy_px=np.ascontiguousarray(out[_BOX].T, dtype=np.float32),
            scores=out[_SCORE].astype(np.float32),
            states=out[_STATE].astype(np.int8),
            floor_xy_cm=floor,  # given here (not left to Tracks' defaults): same values, fewer NumPy calls
            flags=np.zeros((count,), dtype=np.uint32),
        )
        if self._appearance is not None:
            tracks.appearance_shares = self._appearance[report]
        keep = state != _REMOVED
        if any_tentative:  # only tentative tracks that were there before this frame can have been dropped
            keep &= state != _DROPPED
        if np.count_nonzero(keep) < keep.size:
            self._table = table.compress(keep, axis=1)
            if self._appearance is not None:
                self._appearance = self._appearance[keep]
        return tracks

    def _appearance_gate(
        self,
        cost: NDArray[np.float64],
        admissible: NDArray[np.bool_],
        state: NDArray[np.float64],
        known: NDArray[np.float32],
        observed: NDArray[np.float32],
    ) -> float:
        """Stage 1's appearance term for lost tracks, applied to ``admissible`` in place (rows: tracks, columns:
        the high-score detections): pairs whose colours disagree are forbidden, pairs whose colours agree are
        admitted up to the wider gate. Returns the stage's largest admitted cost."""
        config = self.config
        lost = indices_of(state == _LOST)
        if lost.size == 0 or cost.shape[1] == 0:
            return config.lost_match_max_cost
        similar = similarity_matrix(known[lost], observed)  # NaN: no part measurable in both
        with np.errstate(invalid="ignore"):
            disagree = similar < config.appearance_veto_similarity
            agree = similar >= config.appearance_agree_similarity
        rows = admissible[lost]
        rows &= ~disagree
        widened = agree & (cost[lost] <= config.lost_match_max_cost_agreeing)
        rows |= widened
        admissible[lost] = rows
        if widened.any():
            return max(config.lost_match_max_cost, config.lost_match_max_cost_agreeing)
        return config.lost_match_max_cost

    def _remove_duplicates(
        self, iou: NDArray[np.float64], t_idx: NDArray[np.intp], d_idx: NDArray[np.intp]
    ) -> None:
        """A lost track on a person another track was matched with in this frame: the younger of the two is
        removed (ByteTrack's dedup). "On the person": the lost track's prediction overlaps the detection the
        other track took (its reported box) by more than ``1 - duplicate_max_cost`` IoU, read off the frame's
        association matrix (``iou``: tracks x detections, before the update) instead of a second IoU of
        Kalman estimates, which cost as much as the association's."""
        table = self._table
        state = table[_STATE]
        lost = indices_of(state == _LOST)
        if lost.size == 0 or t_idx.size == 0:
            return
        confirmed = state[t_idx] == _CONFIRMED  # matched in this frame and confirmed (not still tentative)
        duplicate = iou.take(lost, axis=0).take(d_idx, axis=1) > _ONE - self.config.duplicate_max_cost
        duplicate &= confirmed
        lost_rows, matched_rows = duplicate.nonzero()
        if lost_rows.size == 0:
            return
        start = table[_START]
        for j, k in zip(lost_rows.tolist(), matched_rows.tolist(), strict=True):
            a, b = int(t_idx[k]), int(lost[j])
            if start[a] < start[b]:
                state[b] = _REMOVED
            else:
                state[a] = _REMOVED

    def _spawn(
        self,
        boxes: NDArray[np.float64],
        measured: NDArray[np.float64],
        scores: NDArray[np.float32],
        appearance: NDArray[np.float32] | None = None,
    ) -> None:
        """New tracks from 4xN xyxy boxes, the same as xyah (``measured``), and their detections' colour
        shares, when known. A new track's box is its detection's (its filter state is that box)."""
        count = boxes.shape[1]
        if self._appearance is not None:
            fresh = appearance if appearance is not None else np.zeros((count, 2, 16), dtype=np.float32)
            self._appearance = np.concatenate((self._appearance, fresh.astype(np.float32)), axis=0)
        old = self._table.shape[1]
        table = np.empty((_ROWS, old + count), dtype=np.float64)  # the grown table, written once
        table[:, :old] = self._table
        block = table[:, old:]
        kalman.initiate(measured, out=block[: kalman.STATE_COLUMNS])
        block[_BOX] = boxes
        block[_ID] = np.arange(self._next_id, self._next_id + count)
        self._next_id += count
        immediately = self.frame_index == 1 or self.config.min_hits_to_confirm <= 1
        block[_STATE] = _CONFIRMED if immediately else _TENTATIVE
        block[_SCORE] = scores
        block[_HITS] = self.config.min_hits_to_confirm if immediately else 1
        block[_START : _LAST + 1] = self.frame_index
        self._table = table
