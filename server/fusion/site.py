"""SiteFusion: the cameras of one site fused on the floor plane into global persons.

Algorithm, per TrackFrame released by the reorder buffer (capture-time order, see
:mod:`server.fusion.reorder`; a frame it drops as too late still delivers its removed local tracks and the
descriptors of tracks that have none yet, not its positions):

1. **Predict** every global person to the frame's time ``t`` with constant velocity (extrapolation clipped to
   ``max_extrapolation_s``). A camera whose clock runs a few hundred ms off therefore compares its observation
   with the person's position at its own stamped time; the offset (speed x skew) is absorbed by the gates.
   **Clock skew**: a camera stamped ``s`` late sees a walker ``v * s`` behind the other cameras, so the
   smoothed per-camera offsets of step 2 give each pair of cameras' relative skew; a weighted least-squares
   fit (mean zero, evidence decays by 3 % per second) gives each camera's skew, and step 4 moves each
   observation to the common clock (``z + v * skew``) before the update (``camera_skews_s``).
2. **Association memory**: a confirmed, floor-valid row whose (camera, local id) was associated before keeps
   its global id while it stays within ``memory_gate_distance_m`` of the prediction (ids stay stable while a
   local track persists). Two rows of one frame never share a person: on conflict the closer row keeps it.
   Unconfirmed rows (tentative, lost) and rows off the floor only refresh their association; they never move
   or create a person. **Camera consistency**: each (person, camera) keeps a smoothed offset of that camera's
   observations from the prediction, and the scatter of those observations about it (their uncertainty: a far
   person's box is small and each pixel covers more floor). When two cameras place a person more than
   ``camera_disagreement_m`` plus, in quadrature, the two observations' uncertainty (at a 1 % tail) apart once
   their estimated clock skews are corrected, the association of the camera farther from the
   prediction is wrong (the younger one when both are about as far): the prediction carries the person's past
   and the majority of the cameras, so after one camera's tracker swapped two people walking together that
   camera is the odd one out, and in a crowd, where two cameras' local tracks of two people walking side by
   side can be tied crosswise to the two global persons, the new tie is. The wrong association is forgotten,
   and its row waits for the camera's next frame, to be assigned afresh (step 3). **Disputes**: a camera's
   association that joined a person already followed by another camera (established for ``_ESTABLISHED_US``),
   neither starting the person nor vouched for by matching colours, is on probation for ``_PROBATION_US``; an
   older camera's association is never dropped for it, and when the two disagree for ``_DISPUTE_CHECKS``
   checks in a row, no third camera agrees with the newcomer and somebody else is within the gate of its row
   (alone, the disagreement is a calibration offset), the newcomer loses the dispute: its association is
   dropped, its local track may not join that person again for ``_DISPUTE_VETO_US`` (nor its new person be
   merged into them) and a person it starts is identity-uncertain. A newcomer of somebody else beside the
   person therefore never pushes the first camera out and carries the person's id (and a badge binding on it)
   off when the first camera loses them. **Swap check**: two
   remembered rows of one camera whose persons, exchanged, sit closer to their predictions by more than
   ``swap_saving_m`` in all (a tracker's id swap: each track jumped onto the other person) lose both
   associations and wait likewise, also where no other camera sees the two; with descriptors, a row whose new
   descriptor does not clearly agree with its person while a nearby person matches it clearly better does too,
   unless the row of this camera that holds that person matches them as well (exchanged, the two rows' colours
   must match better in all by ``_SWAP_MARGIN``: a look-alike is no swap's other half).
3. **Assignment**: the remaining confirmed rows are matched to the persons not yet taken in this frame by
   ``scipy.optimize.linear_sum_assignment`` on the floor distance, gated at ``gate_distance_m``. This is the
   hand-over (a new local id of another camera joins the person) and the overlap rule (a person seen by two
   cameras is one person, as each camera's row is matched to the same global person). A new row never joins a
   person whom the same camera still holds with a lost local track: that camera's tracker decided it is
   somebody else (in a doorway, a person coming in beside one going out would otherwise take over the leaver's
   id, and their badge binding). **Re-acquisition**: a person unseen for ``reacquire_after_s`` (also one no
   longer reported, step 7) is a candidate within a gate that grows with the time unseen
   (``reacquire_speed_mps``), but only when nothing else is plausible: the row is not in an entry region
   (``entry_regions_m``: someone new is always plausible there), the person is clearly the row's closest
   candidate, stale or recently seen, and the row clearly the person's closest row (distance over gate plus
   colour dissimilarity, margin ``_AMBIGUITY_MARGIN``). A recently seen person closer to the row than every
   stale one takes it (a hand-over); a stale one clearly closer re-acquires it; a close call between the two
   joins neither, unless the recently seen one's colours clearly agree with the row while the stale ones' are
   known and do not, or, colours not comparable, it is ``_RECENT_CLEARLY_CLOSER_M`` closer in metres (then it
   takes the row: in a crowd a close call is common, and splitting it off issued extra ids). Otherwise the
   row starts a new person and it and the refused candidates are marked identity-uncertain
   (``FusedFrame.uncertain_ids``): a global id is never guessed onto somebody else, so a binding on it never
   moves.
4. **Update** (alpha-beta filter): ``p <- p_pred + alpha r``, ``v <- v + beta r / max(dt, 0.1 s)`` with
   residual ``r = z + v * skew - p_pred``, speed clipped to ``max_speed_mps``. **Standing model**: beside
   that walking (constant-velocity) model each person has a standing one, an exponential average of the
   observations (weight ``standing_gain``). Each model's squared residuals are smoothed, and the person is
   placed (and predicted) by the model that currently explains the observations better: a walker who stops
   is placed where they stand instead of where the lagging velocity carries the walking model (it overshoots
   by up to 0.3 m), and a standing person's position is no longer moved by a noisy velocity; standing persons
   are reported with zero velocity.
5. **Birth**: unmatched confirmed rows start tentative persons; a tentative person is confirmed (and reported)
   after ``confirm_after_s`` and ``confirm_min_hits`` observations (after ``fast_confirm_after_s`` when the
   mean score of its observations is at least ``confident_score``) if that mean reaches ``confirm_min_score``
   (else only after ``low_score_confirm_after_s``), and silently dropped when unseen for
   ``tentative_timeout_s``.
6. **Merge**: two reported persons, both observed within ``source_window_s``, closer than ``merge_distance_m``
   for ``merge_after_s`` that no camera observed together within ``source_window_s`` are one person seen twice
   (unless their colours disagree as clearly as they must to veto a hand-over);
   the younger id ends and its associations move to the older one. A pair's time together survives checks in
   which one of them goes unobserved for up to ``_MERGE_GAP_US`` (a far camera misses people every few frames).
7. **Report and end**: a confirmed person is reported while seen within ``end_after_s`` (1.3 s, beyond the
   edge tracker's 1 s lost buffer) or while an edge still reports one of its local tracks (LOST, up to
   ``held_max_s``), except once unseen for ``exit_end_after_s`` where it was last placed in an entry region
   (it walked out). An unreported person is kept for re-acquisition (step 3) and ends (``EndedPerson``) once
   unseen for ``reacquire_within_s``; its (camera, local id) associations survive meanwhile, so the same local
   track coming back keeps the global id.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from server.fusion.agreement import CameraAgreement, CameraPairAgreement
from server.fusion.appearance import CLASSES, PARTS, unpack
from server.fusion.errors import FusionInputError
from server.fusion.reorder import ReorderBuffer
from server.fusion.types import (
    BoolArray,
    CameraObservations,
    EndedPerson,
    FloatArray,
    FusedFrame,
    FusionConfig,
    IntArray,
)

logger = logging.getLogger(__name__)

_NEVER_US = np.iinfo(np.int64).min // 4
_INFEASIBLE = 1.0e9
_NO_ROWS: IntArray = np.zeros(0, dtype=np.int64)
# Above this many persons the merge check's close pairs come from a k-d tree (`close_pairs`; measured: 200
# persons 84 us against the matrix's 800, 64 persons 44 against 31), and the swap check computes only the pairs of
# the rows far from their persons (`swapped_pairs`; 400 rows 2.2 ms against 8.9, 10 rows 25 us against 19).
KD_TREE_MIN_POINTS = 100
SWAP_ROWS_MIN = 32
_MIN_VELOCITY_DT_S = 0.1
# Duplicate-person checks (step 6) run at most this often; merge_after_s is measured across checks.
_MERGE_CHECK_INTERVAL_US = 200_000
_MERGE_GAP_US = 1_000_000  # the edge tracker's own lost-track buffer: a gap it bridges does not part a pair
# Weight of a new residual in the smoothed per-(person, camera) offset of the camera-consistency check.
_OFFSET_GAIN = 0.3
# Each observation's uncertainty, as the fusion measures it: the scatter of a camera's residuals about its
# smoothed offset of the person, an exponential average (weight _SPREAD_GAIN) of their squared distances (m²,
# both axes), per (person, camera), and per camera over all its persons (where a (person, camera) starts). A
# residual counts at most _SPREAD_CLIP times the scatter so far (a tracker's swap is a jump, not noise), the
# scatter at least _SPREAD_FLOOR_M2. A far person's box is small and each pixel covers more floor, so their
# positions scatter more and their systematic errors (the installer's click error, the foot point) grow alike:
# two cameras disagree when their offsets lie farther apart than camera_disagreement_m (the difference
# allowed everywhere) plus, in quadrature, the two observations' uncertainties at the 1 % tail of a Gaussian
# (_DISAGREE_NOISE_Z2 = -ln 0.01).
_SPREAD_GAIN = 0.1
_SPREAD_CLIP = 9.0
_SPREAD_FLOOR_M2 = 0.01
_DISAGREE_NOISE_Z2 = 4.6
# Skew estimation uses persons walking at least this fast, and forgets old evidence by this factor per second.
_SKEW_MIN_SPEED_MPS = 0.5
_SKEW_FORGET = 0.97
# ... and samples every this many frames (the skews change over minutes; the offsets are smoothed anyway).
_SKEW_EVERY_FRAMES = 3
# Weight of a new squared residual in each motion model's smoothed residual (step 4's model choice).
_MODEL_RESIDUAL_GAIN = 0.2
# A re-acquisition is ambiguous when a second candidate's distance over its gate is within this of the best one's.
_AMBIGUITY_MARGIN = 0.35
# A new track whose two closest candidates are about as close (FusionConfig.join_margin_m) waits this long at most.
_JOIN_WAIT_US = 1_000_000
# A local track reported within this long (any state) holds its person (step 7): a frame period of a slow camera.
_HELD_REFRESH_US = 500_000
# Cameras whose raw offsets of a person differ by more than this do not feed the skew estimate.
_SKEW_AGREE_M = 0.8
# Two disagreeing cameras about as far (within this) from the prediction: the younger association is dropped.
_DISAGREE_TIE_M = 0.05
# A camera's association with a person is on probation for this long after it joined them while another camera
# already followed them (a hand-over in an overlap, or a new track of somebody else beside them): in a
# disagreement with that older camera it is the one dropped, whatever the distances, and its local track may not
# join that person again for _DISPUTE_VETO_US (step 2's dispute rule: a binding is never carried off by a newcomer).
_PROBATION_US = 4_000_000
_DISPUTE_CHECKS = 3
_ESTABLISHED_US = 200_000
_DISPUTE_VETO_US = 5_000_000
# Colour evidence (FusionConfig.appearance_*): a person's running appearance averages at most this many
# descriptors per part (older ones fade), unknown colours cost as a similarity of _UNKNOWN_SIMILARITY, a
# re-acquisition's closeness score adds (1 - similarity) x _REACQUIRE_APPEARANCE_WEIGHT, and a camera's track
# whose descriptor disagrees with its person is wrong when another nearby person matches by this much more.
_APPEARANCE_MAX_COUNT = 30.0
_UNKNOWN_SIMILARITY = 0.6
_REACQUIRE_APPEARANCE_WEIGHT = 1.0
_SWAP_MARGIN = 0.25
# A close call between a recently seen person and a stale one (_gate_reacquisition) goes to the recently seen
# one, where the row's colours cannot be compared with theirs, when it is this much closer in metres.
_RECENT_CLEARLY_CLOSER_M = 0.8
# A row joining a recently seen person (a hand-over between cameras) is vetoed only below appearance_mismatch
# minus this.
_HANDOVER_MARGIN = 0.15
# Wide merges (FusionConfig.wide_merge_*): the two persons move alike (velocity difference at most this), and
# without agreeing colours they must stay together this many times longer.
_WIDE_MERGE_SPEED_MPS = 0.4
_WIDE_MERGE_BLIND_FACTOR = 2.0
# Re-acquisition gates stop growing here (persons kept for appearance_window_s).
_MAX_REACQUIRE_GATE_M = 8.0


@dataclass(slots=True)
class _Association:
    slot: int
    global_id: int
    refreshed_us: int


class SiteFusion:
    """Fuses the CameraObservations of one site into global persons (see the module docstring for the
    rules)."""

    def __init__(self, config: FusionConfig | None = None) -> None:
        self.config = config if config is not None else FusionConfig()
        self.config.validate()
        self._buffer = ReorderBuffer(
            window_us=self.config.reorder_window_us,
            camera_silence_us=self.config.camera_silence_us,
            jitter_us=self.config.arrival_jitter_us,
        )
        self._next_global_id = self.config.first_global_id
        capacity = 64
        self._active: BoolArray = np.zeros(capacity, dtype=np.bool_)
        self._confirmed: BoolArray = np.zeros(capacity, dtype=np.bool_)
        self._global_id: IntArray = np.zeros(capacity, dtype=np.int64)
        self._pos: FloatArray = np.zeros((capacity, 2), dtype=np.float64)
        self._vel: FloatArray = np.zeros((capacity, 2), dtype=np.float64)
        self._state_us: IntArray = np.zeros(capacity, dtype=np.int64)
        self._first_seen_us: IntArray = np.zeros(capacity, dtype=np.int64)
        # First sighting, counting the tentative edge rows of the local track the person was born from
        # (``FusedFrame.first_seen_us``: analytics date a visit back to it).
        self._sighted_us: IntArray = np.zeros(capacity, dtype=np.int64)
        self._last_seen_us: IntArray = np.zeros(capacity, dtype=np.int64)
        self._hits: IntArray = np.zeros(capacity, dtype=np.int64)
        self._score_sum: FloatArray = np.zeros(capacity, dtype=np.float64)
        # Step 4's standing model: position, the two models' smoothed squared residuals, and which one places
        # the person.
        self._standing_pos: FloatArray = np.zeros((capacity, 2), dtype=np.float64)
        self._walking_residual: FloatArray = np.zeros(capacity, dtype=np.float64)
        self._standing_residual: FloatArray = np.zeros(capacity, dtype=np.float64)
        self._standing: BoolArray = np.zeros(capacity, dtype=np.bool_)
        # When an edge last reported any local track associated with the slot (confirmed, tentative or lost),
        # whether the slot is reported (step 7) and whether its identity is in doubt (step 3's refusals).
        self._held_us: IntArray = np.zeros(capacity, dtype=np.int64)
        self._visible: BoolArray = np.zeros(capacity, dtype=np.bool_)
        self._uncertain: BoolArray = np.zeros(capacity, dtype=np.bool_)
        # Whom each doubted person (by global id) may be instead, or may have been taken for: the other side of
        # each refused re-acquisition or lost dispute (FusedFrame.uncertain_with).
        self._doubted_with: dict[int, set[int]] = {}
        # Running appearance per slot: summed shares per part and how many descriptors they sum.
        self._app_sum: FloatArray = np.zeros((capacity, PARTS, CLASSES), dtype=np.float64)
        self._app_n: FloatArray = np.zeros((capacity, PARTS), dtype=np.float64)
        # Latest descriptor (shares) of each (camera, local id), and the global id it was folded into (0: none).
        self._track_app: dict[tuple[int, int], tuple[FloatArray, int]] = {}
        self._camera_index: dict[int, int] = {}
        self._camera_ids: IntArray = np.zeros(0, dtype=np.int64)
        self._camera_seen_us: IntArray = np.full((capacity, 0), _NEVER_US, dtype=np.int64)
        # Per (slot, camera column): smoothed observation - prediction offset, and when the camera's current
        # association with the slot began (the camera-consistency check of step 2).
        self._camera_offset: FloatArray = np.zeros((capacity, 0, 2), dtype=np.float64)
        # ... and the scatter of that camera's residuals about it (m², negative: none yet, use the camera's).
        self._camera_spread: FloatArray = np.zeros((capacity, 0), dtype=np.float64)
        self._camera_noise: FloatArray = np.zeros(0, dtype=np.float64)
        self._camera_since_us: IntArray = np.zeros((capacity, 0), dtype=np.int64)
        # ... and whether it is vouched for: the camera's track started the person, or its colours matched theirs
        # when it joined (an association on probation that is not vouched for loses a dispute, step 2).
        self._camera_vouched: BoolArray = np.zeros((capacity, 0), dtype=np.bool_)
        # ... and how many of its consistency checks in a row found it in a dispute (step 2).
        self._dispute_count: IntArray = np.zeros((capacity, 0), dtype=np.int64)
        # Relative clock skew per camera column (seconds, mean zero), estimated from walkers seen by two cameras:
        # pairwise sums of -(offset_i - offset_j).v and |v|^2 with exponential forgetting.
        self._skew_num: FloatArray = np.zeros((0, 0))  # this second's sums, row = the observing camera
        self._skew_den: FloatArray = np.zeros((0, 0))
        self._skew_num_total: FloatArray = np.zeros((0, 0))  # antisymmetric / symmetric, decayed
        self._skew_den_total: FloatArray = np.zeros((0, 0))
        self._skew_s: FloatArray = np.zeros(0)
        self._skew_solved_us = _NEVER_US
        # Consistency checks per camera column: each camera samples every _SKEW_EVERY_FRAMES of its own checks (a
        # count over all cameras aliased with their rotation: three cameras in step, only one was ever sampled).
        self._skew_tick: IntArray = np.zeros(0, dtype=np.int64)
        # How far apart each camera pair places the people both see (an installer's calibration check).
        self._agreement = CameraAgreement()
        self._source_window_us = int(self.config.source_window_s * 1e6)
        self._memory: dict[tuple[int, int], _Association] = {}
        # (camera, local id) of unassociated tentative edge tracks -> their first frame time.
        self._tentative_since: dict[tuple[int, int], int] = {}
        # Merge candidates (global id pairs) -> (since, last found together): see _merge.
        self._merge_since_us: dict[tuple[int, int], tuple[int, int]] = {}
        self._wide_since_us: dict[tuple[int, int], tuple[int, int]] = {}
        # New (camera, local id)s waiting since when to join one of two persons about as close (step 3).
        # (camera, local id)s that lost a dispute (step 2) -> (the global id they may not join, since when).
        self._vetoed: dict[tuple[int, int], tuple[int, int]] = {}
        self._join_waiting_us: dict[tuple[int, int], int] = {}
        self._last_purge_us = _NEVER_US
        self._last_merge_check_us = _NEVER_US
        self._now_us: int | None = None
        self.merged_total = 0
        # Associations dropped by the camera-consistency check (step 2).
        self.reassociated_total = 0
        # ... of them, by colour evidence; and joins refused because the colours disagree.
        self.colour_reassociated_total = 0
        self.colour_refused_total = 0

    # ------------------------------------------------------------------ public API

    @property
    def dropped_late_frames(self) -> int:
        """Frames dropped because later frames had already been applied (beyond the reorder window)."""
        return self._buffer.dropped_late_frames

    @property
    def pending_frames(self) -> int:
        """Frames waiting in the reorder buffer."""
        return self._buffer.pending

    def set_floor_bounds(self, bounds_m: tuple[float, float, float, float] | None) -> None:
        """The floor plan changed: extrapolated persons stop at its new edge (`FusionConfig.floor_bounds_m`)."""
        config = dataclasses.replace(self.config, floor_bounds_m=bounds_m)
        config.validate()
        self.config = config

    def update(self, observations: CameraObservations) -> FusedFrame:
        """Add one TrackFrame; return the site's persons after applying every frame it released.

        ``ended`` gathers the persons ended by all released frames. When nothing was released (the frame waits
        for slower cameras) the returned frame repeats the current state with ``processed_frames == 0``.
        """
        frames = self.update_frames(observations)
        if not frames:
            return self._snapshot(ended=(), processed=0)
        if len(frames) == 1:
            return frames[0]
        ended = tuple(person for frame in frames for person in frame.ended)
        last = frames[-1]
        return FusedFrame(
            site_id=last.site_id,
            time_us=last.time_us,
            global_ids=last.global_ids,
            floor_xy_m=last.floor_xy_m,
            velocities_mps=last.velocities_mps,
            last_seen_us=last.last_seen_us,
            source_mask=last.source_mask,
            camera_ids=last.camera_ids,
            ended=ended,
            processed_frames=len(frames),
            first_seen_us=last.first_seen_us,
            uncertain_ids=last.uncertain_ids,
        )

    def update_frames(self, observations: CameraObservations) -> list[FusedFrame]:
        """Add one TrackFrame; return one FusedFrame per frame the reorder buffer released, in time order."""
        if observations.site_id != self.config.site_id:
            raise FusionInputError(
                f"frame of site {observations.site_id} given to the fusion of site {self.config.site_id}",
                code="wrong_site",
            )
        observations.validate()
        late_before = self._buffer.dropped_late_frames
        released = self._buffer.push(observations)
        if self._buffer.dropped_late_frames > late_before:
            self._absorb_late(observations)
        return [self._apply(frame) for frame in released]

    def flush(self) -> list[FusedFrame]:
        """Apply every buffered frame (end of a stream or of a replay)."""
        return [self._apply(released) for released in self._buffer.flush()]

    # ------------------------------------------------------------------ one frame

    def _absorb_late(self, obs: CameraObservations) -> None:
        """What a frame dropped as too late (reorder buffer) still tells: its removed local tracks are gone, and
        the descriptor of a track the fusion has none of yet is that track's (an edge sends a track's colours on
        first sighting and then only on change: the frame dropped was often the one that carried them, and the
        track joined or started a person without colours; gaps seed 73: 12 descriptors in 15 late frames in
        120 s). Its positions are stale and are not used."""
        self._forget_removed(obs)
        if not (self.config.use_appearance and obs.appearance_rows.size):
            return
        shares = unpack(obs.appearance).astype(np.float64)
        for k, row in enumerate(obs.appearance_rows.tolist()):
            self._track_app.setdefault((obs.camera_id, int(obs.local_ids[row])), (shares[k], 0))

    def _forget_removed(self, obs: CameraObservations) -> None:
        for local_id in obs.removed_local_ids.tolist():
            self._memory.pop((obs.camera_id, int(local_id)), None)
            self._tentative_since.pop((obs.camera_id, int(local_id)), None)
            self._track_app.pop((obs.camera_id, int(local_id)), None)
            self._vetoed.pop((obs.camera_id, int(local_id)), None)

    def _apply(self, obs: CameraObservations) -> FusedFrame:
        cfg = self.config
        t_us = obs.capture_time_us
        self._now_us = t_us if self._now_us is None else max(self._now_us, t_us)
        camera_column = self._camera_column(obs.camera_id)
        self._forget_removed(obs)
        colours = cfg.use_appearance and obs.appearance_rows.size > 0
        if colours:
            shares = unpack(obs.appearance).astype(np.float64)
            for k, row in enumerate(obs.appearance_rows.tolist()):
                self._track_app[(obs.camera_id, int(obs.local_ids[row]))] = (shares[k], 0)
        use_colours = cfg.use_appearance and bool(self._track_app)

        active_slots = np.flatnonzero(self._active)
        walking = self._predict_walking(t_us)
        predicted = self._predict(t_us, walking)
        taken = np.zeros(self._active.shape[0], dtype=np.bool_)
        usable = obs.confirmed & obs.valid_floor
        row_slot = np.full(obs.size, -1, dtype=np.int64)
        # Persons this camera still follows with a lost (or tentative) local track: step 3's backward gate.
        held_lost = np.zeros(self._active.shape[0], dtype=np.bool_)

        # 2. association memory
        camera_id = obs.camera_id
        memory = self._memory
        global_ids = self._global_id
        active = self._active
        held_us = self._held_us
        tentative_since = self._tentative_since
        for row, local_id in enumerate(obs.local_ids.tolist()):
            association = memory.get((camera_id, local_id))
            if association is None:
                if not obs.confirmed[row] and obs.valid_floor[row]:
                    tentative_since.setdefault((camera_id, local_id), t_us)
                continue
            slot = association.slot
            if not active[slot] or global_ids[slot] != association.global_id:
                del memory[(camera_id, local_id)]
                continue
            association.refreshed_us = t_us
            held_us[slot] = t_us
            if usable[row]:
                row_slot[row] = slot
            else:
                held_lost[slot] = True
        memory_rows = np.flatnonzero(row_slot >= 0)
        if memory_rows.size:
            slots = row_slot[memory_rows]
            distance = np.hypot(*(obs.floor_xy_m[memory_rows] - predicted[slots]).T)
            too_far = distance > cfg.memory_gate_distance_m
            for row in memory_rows[too_far].tolist():
                memory.pop((camera_id, int(obs.local_ids[row])), None)
            row_slot[memory_rows[too_far]] = -1
            if np.unique(slots).shape[0] != slots.shape[0]:
                self._resolve_memory_conflicts(row_slot, memory_rows, distance)
            if cfg.swap_saving_m > 0:
                self._check_crosswise(obs, row_slot, usable, predicted)
            if colours:
                self._check_colours(obs, row_slot, usable, predicted, t_us)
            held = np.flatnonzero(row_slot >= 0)
            if held.size:
                skipped, disputed = self._check_consistency(
                    obs, camera_column, held, row_slot[held], predicted, t_us
                )
                for row in disputed.tolist():
                    key = (camera_id, int(obs.local_ids[row]))
                    self._vetoed[key] = (int(global_ids[row_slot[row]]), t_us)
                for row in skipped.tolist():
                    memory.pop((camera_id, int(obs.local_ids[row])), None)
                    row_slot[row] = -1
                    usable[row] = False  # neither assigned nor born in this frame
            taken[row_slot[row_slot >= 0]] = True

        # 3. gated optimal assignment of the remaining rows (re-acquisition of unseen persons only when unambiguous)
        pool_rows = np.flatnonzero(usable & (row_slot < 0))
        row_uncertain = np.zeros(obs.size, dtype=np.bool_)
        row_doubts: dict[
            int, set[int]
        ] = {}  # row -> the unseen persons its refused re-acquisition may have been
        reacquired = np.zeros(0, dtype=np.int64)
        joined = np.zeros(0, dtype=np.int64)
        if pool_rows.size and active_slots.size:
            pool_slots = active_slots[~taken[active_slots]]
            if pool_slots.size:
                delta = obs.floor_xy_m[pool_rows, None, :] - predicted[None, pool_slots, :]
                cost = np.hypot(delta[..., 0], delta[..., 1])
                unseen_s = (t_us - self._last_seen_us[pool_slots]) * 1e-6
                stale = unseen_s > cfg.reacquire_after_s
                gate = np.where(
                    stale,
                    np.minimum(
                        cfg.gate_distance_m
                        + cfg.reacquire_speed_mps * np.maximum(unseen_s - cfg.max_extrapolation_s, 0.0),
                        _MAX_REACQUIRE_GATE_M,
                    ),
                    cfg.gate_distance_m,
                )
                feasible = cost <= gate[None, :]
                # The edge tracker of this camera did not take the new row for the person it still holds lost:
                # it is somebody else (e.g. a person passing a leaver in a doorway).
                feasible[:, held_lost[pool_slots]] = False
                if self._vetoed:
                    self._apply_vetoes(camera_id, obs.local_ids[pool_rows], pool_slots, feasible, t_us)
                # Compared only where the row could join (every later rule reads the colours of those pairs only).
                similar = (
                    self._similarities(obs.camera_id, obs.local_ids[pool_rows], pool_slots, where=feasible)
                    if use_colours
                    else None
                )
                if similar is not None:
                    # Colours that disagree veto the join (a newcomer beside a leaver, a hand-over to the wrong
                    # one of two); beyond reacquire_within_s only matching colours re-acquire.
                    # A hand-over compares two cameras' colour casts: it needs a clearer disagreement.
                    floor = np.where(
                        stale, cfg.appearance_mismatch, cfg.appearance_mismatch - _HANDOVER_MARGIN
                    )
                    disagree = similar < floor[None, :]
                    self.colour_refused_total += int((feasible & disagree).sum())
                    feasible &= ~disagree
                    long_gone = unseen_s > cfg.reacquire_within_s
                    if long_gone.any():
                        feasible[:, long_gone] &= similar[:, long_gone] >= cfg.appearance_match
                    dissimilarity = 1.0 - np.where(np.isnan(similar), _UNKNOWN_SIMILARITY, similar)
                    join_cost = cost + cfg.appearance_weight_m * dissimilarity
                else:
                    dissimilarity = None
                    join_cost = cost
                waiting = (
                    self._defer_ambiguous_joins(obs, pool_rows, join_cost, feasible & ~stale[None, :], t_us)
                    if cfg.join_margin_m > 0
                    else np.zeros(pool_rows.shape[0], dtype=np.bool_)
                )
                if waiting.any():
                    feasible[waiting] = False
                    usable[pool_rows[waiting]] = False  # neither joins nor starts a person in this frame
                if stale.any() and feasible[:, stale].any():
                    closeness = cost / gate[None, :]
                    if dissimilarity is not None:
                        closeness = closeness + _REACQUIRE_APPEARANCE_WEIGHT * dissimilarity
                    refused, undecided = self._gate_reacquisition(
                        obs.floor_xy_m[pool_rows], feasible, stale, closeness, cost, similar
                    )
                    if refused.any():
                        row_uncertain[pool_rows[refused.any(axis=1)]] = True
                        self._uncertain[pool_slots[stale][refused.any(axis=0)]] = True
                        stale_ids = global_ids[pool_slots[stale]]
                        for k, row in enumerate(pool_rows.tolist()):
                            if refused[k].any():
                                row_doubts[row] = set(stale_ids[refused[k]].tolist())
                    if undecided.any():
                        # Neither the recently seen person nor the closer unseen one: a new (uncertain) person.
                        feasible[undecided] = False
                if feasible.any():
                    cost = np.where(feasible, join_cost, _INFEASIBLE)
                    rows_i, slots_i = linear_sum_assignment(cost)
                    ok = feasible[rows_i, slots_i]
                    matched_rows = pool_rows[rows_i[ok]]
                    matched_slots = pool_slots[slots_i[ok]]
                    row_slot[matched_rows] = matched_slots
                    for row, slot in zip(matched_rows.tolist(), matched_slots.tolist(), strict=True):
                        memory[(camera_id, int(obs.local_ids[row]))] = _Association(
                            slot, int(global_ids[slot]), t_us
                        )
                    self._camera_offset[matched_slots, camera_column] = (
                        obs.floor_xy_m[matched_rows] - predicted[matched_slots]
                    )
                    self._camera_since_us[matched_slots, camera_column] = t_us
                    self._camera_vouched[matched_slots, camera_column] = (
                        similar[rows_i[ok], slots_i[ok]] >= cfg.appearance_match
                        if similar is not None
                        else False
                    )
                    reacquired = matched_rows[stale[slots_i[ok]]]
                    joined = matched_rows

        # 4. update the matched persons
        matched = np.flatnonzero(row_slot >= 0)
        if matched.size:
            slots = row_slot[matched]
            prior = walking[slots]
            corrected = obs.floor_xy_m[matched] + self._vel[slots] * self._skew_s[camera_column]
            residual = corrected - prior
            self._update_standing(slots, corrected, residual)
            dt_s = np.maximum((t_us - self._state_us[slots]) * 1e-6, _MIN_VELOCITY_DT_S)
            self._pos[slots] = prior + cfg.position_gain * residual
            velocity = self._vel[slots] + (cfg.velocity_gain / dt_s)[:, None] * residual
            speed = np.hypot(velocity[:, 0], velocity[:, 1])
            too_fast = speed > cfg.max_speed_mps
            if too_fast.any():
                velocity[too_fast] *= (cfg.max_speed_mps / speed[too_fast])[:, None]
            self._vel[slots] = velocity
            self._state_us[slots] = t_us
            self._last_seen_us[slots] = np.maximum(self._last_seen_us[slots], t_us)
            self._hits[slots] += 1
            self._score_sum[slots] += obs.scores[matched]
            self._camera_seen_us[slots, camera_column] = t_us
            self._held_us[slots] = t_us
            if reacquired.size:
                # Back after a gap: start from where the person is seen again (the prediction is stale).
                again = row_slot[reacquired]
                seen_at = obs.floor_xy_m[reacquired] + self._vel[again] * self._skew_s[camera_column]
                self._pos[again] = seen_at
                self._standing_pos[again] = seen_at
                self._camera_offset[again, camera_column] = 0.0

        # 5. births
        births = np.flatnonzero(usable & (row_slot < 0))
        for row in births.tolist():
            slot = self._new_slot(obs.floor_xy_m[row], t_us)
            since = tentative_since.pop((camera_id, int(obs.local_ids[row])), t_us)
            self._sighted_us[slot] = min(since, t_us)
            self._score_sum[slot] = float(obs.scores[row])
            self._camera_seen_us[slot, camera_column] = t_us
            self._camera_since_us[slot, camera_column] = t_us
            self._camera_vouched[slot, camera_column] = True
            memory[(camera_id, int(obs.local_ids[row]))] = _Association(
                slot, int(self._global_id[slot]), t_us
            )
            # A track that lost a dispute may be the person it was kept from (a camera's calibration offset
            # beside somebody else): its new person's identity is uncertain, as a refused re-acquisition's is.
            vetoed = self._vetoed.get((camera_id, int(obs.local_ids[row])))
            self._uncertain[slot] = bool(row_uncertain[row]) or vetoed is not None
            if vetoed is not None:
                row_doubts.setdefault(row, set()).add(vetoed[0])
            row_slot[row] = slot
        for row, doubts in row_doubts.items():
            # The two sides of a refusal doubt each other: the row's person (new, or whoever it joined) may be
            # any of the unseen persons it was kept from, and they may be it.
            if row_slot[row] < 0:
                continue  # it joins nobody in this frame: decided (and doubted) in a later one
            partner = int(self._global_id[row_slot[row]])
            # Whom those persons may have been in turn (a doubted person who may have been an employee, unseen
            # again and refused in their turn): the row's person may be any of them too, also once they have
            # ended. Global ids grow with birth: a person's doubts of smaller ids are the earlier persons they may
            # be (larger ones are later persons who may be them, such as the other side of the same refusal, seen
            # beside this one). Without it a visitor who may be a doubted visitor who may be a bound employee was
            # called a visitor for sure.
            closure = set(doubts)
            for other in doubts:
                closure.update(earlier for earlier in self._doubted_with.get(other, ()) if earlier < other)
            closure.discard(partner)
            if self._uncertain[row_slot[row]]:
                self._doubted_with.setdefault(partner, set()).update(closure)
            for other in doubts:
                self._doubted_with.setdefault(other, set()).add(partner)

        if use_colours:
            fold = (
                np.concatenate([obs.appearance_rows, joined, births])
                if colours
                else np.concatenate([joined, births])
            )
            if fold.size:
                self._fold_colours(obs.camera_id, obs.local_ids, row_slot, fold)

        ended = self._life_cycle(t_us)
        if t_us - self._last_merge_check_us >= _MERGE_CHECK_INTERVAL_US:
            self._last_merge_check_us = t_us
            ended.extend(self._merge(t_us))
        if t_us - self._last_purge_us > 1_000_000:
            self._purge_memory(t_us)
        return self._snapshot(ended=tuple(ended), processed=1)

    # ------------------------------------------------------------------ helpers

    def _gate_reacquisition(
        self,
        xy: FloatArray,
        feasible: BoolArray,
        stale: BoolArray,
        closeness: FloatArray,
        cost: FloatArray,
        similar: FloatArray | None,
    ) -> tuple[BoolArray, BoolArray]:
        """Restrict ``feasible`` (pool rows x pool slots) for the ``stale`` slots (persons unseen for
        ``reacquire_after_s``) to unambiguous re-acquisitions. ``closeness`` is each pair's distance over its gate
        (0 at the prediction, 1 at the gate; the gate of a recently seen person is ``gate_distance_m``) plus the
        colour dissimilarity. A stale person competes for a row only when closer to it than every recently seen
        candidate of the row (else the row is that person's, seen by one more camera, or somebody's hand-over).
        The row re-acquires the stale person when the row is not in an entry region, the person is its closest
        candidate, stale or recent, by more than ``_AMBIGUITY_MARGIN`` and the row the person's closest such
        row by as much; the row then joins nobody else. Return the refused (row, stale slot) pairs, and the rows
        that must join nobody in this frame: a recently seen candidate and a closer stale one are both
        plausible (a person back from a gap beside somebody seen by another camera), so neither is guessed.
        Except where the evidence the score blurs decides the close call for the recently seen person
        (``_recent_wins``): the row then stays theirs, as if no stale person competed (in a crowd, somebody
        beside a person back from a gap is not split off as a new person)."""
        recent_score = np.where(feasible[:, ~stale], closeness[:, ~stale], _INFEASIBLE)
        best_recent = recent_score.min(axis=1) if recent_score.shape[1] else np.full(xy.shape[0], _INFEASIBLE)
        candidates = feasible[:, stale] & (closeness[:, stale] < best_recent[:, None])
        score = np.where(candidates, closeness[:, stale], _INFEASIBLE)
        allowed = candidates & _clear_best(score, axis=1) & _clear_best(score, axis=0)
        allowed &= score + _AMBIGUITY_MARGIN < best_recent[:, None]
        if self.config.entry_regions_m:
            allowed &= ~self._in_entry(xy)[:, None]
        feasible[:, stale] = allowed
        refused: BoolArray = candidates & ~allowed
        has_recent = best_recent < _INFEASIBLE
        undecided: BoolArray = refused.any(axis=1) & has_recent & ~allowed.any(axis=1)
        if undecided.any():
            rows = np.flatnonzero(undecided)
            best = np.flatnonzero(~stale)[np.argmin(recent_score[rows], axis=1)]
            wins = self._recent_wins(rows, best, refused[rows], stale, cost, similar)
            if wins.any():
                won = rows[wins]
                undecided[won] = False
                refused[won] = False
        reacquiring = allowed.any(axis=1)
        if reacquiring.any():
            recent_columns = np.flatnonzero(~stale)
            feasible[np.ix_(np.flatnonzero(reacquiring), recent_columns)] = False
        return refused, undecided

    def _recent_wins(
        self,
        rows: IntArray,
        best: IntArray,
        rivals: BoolArray,
        stale: BoolArray,
        cost: FloatArray,
        similar: FloatArray | None,
    ) -> BoolArray:
        """Which close calls of ``_gate_reacquisition`` (``rows``, each with its best recently seen slot
        ``best`` and its competing stale slots ``rivals``, a mask over the stale slots) the recently seen person
        wins: its colours clearly agree with the row (``appearance_match``) while every rival's are known and do
        not; or, where the row's colours cannot be compared with the recently seen person's, it lies closer
        than every rival by ``_RECENT_CLEARLY_CLOSER_M`` in metres (the score divides by the stale persons'
        gates, which grow with the time unseen: a stale person far off can score as well as one beside)."""
        stale_slots = np.flatnonzero(stale)
        pairs = (rows[:, None], stale_slots[None, :])
        rival_cost = np.where(rivals, cost[pairs], np.inf).min(axis=1)
        closer: BoolArray = cost[rows, best] + _RECENT_CLEARLY_CLOSER_M < rival_cost
        if similar is None:
            return closer
        match = self.config.appearance_match
        recent_similar = similar[rows, best]
        # NaN (colours not comparable) compares False: an unknown rival is not outvoted by colour.
        rival_unlike = similar[pairs] < match
        agrees = (recent_similar >= match) & ~(rivals & ~rival_unlike).any(axis=1)
        wins: BoolArray = agrees | (np.isnan(recent_similar) & closer)
        return wins

    def _apply_vetoes(
        self, camera_id: int, local_ids: IntArray, slots: IntArray, feasible: BoolArray, t_us: int
    ) -> None:
        """Forbid each local track that lost a dispute (step 2) to join the person it lost it over, for
        ``_DISPUTE_VETO_US``: the two are kept apart instead of the newcomer taking the person back."""
        vetoed = self._vetoed
        for i, local_id in enumerate(local_ids.tolist()):
            entry = vetoed.get((camera_id, local_id))
            if entry is None:
                continue
            gid, since = entry
            if t_us - since > _DISPUTE_VETO_US:
                del vetoed[(camera_id, local_id)]
                continue
            feasible[i, self._global_id[slots] == gid] = False

    def _defer_ambiguous_joins(
        self, obs: CameraObservations, pool_rows: IntArray, cost: FloatArray, recent: BoolArray, t_us: int
    ) -> BoolArray:
        """Rows (of ``pool_rows``) to hold back in this frame: a new local track whose two closest recently seen
        candidates lie within ``join_margin_m`` of each other in distance (two people walking close together
        as a camera picks them up) waits, for at most ``_JOIN_WAIT_US``, until the people part, instead of
        being tied to one of them by a guess (a crosswise tie that pulls both persons together)."""
        waiting = np.zeros(pool_rows.shape[0], dtype=np.bool_)
        ambiguous = np.flatnonzero(recent.sum(axis=1) >= 2)
        if ambiguous.size == 0:
            return waiting
        distances = np.sort(np.where(recent[ambiguous], cost[ambiguous], _INFEASIBLE), axis=1)
        close_call = distances[:, 1] - distances[:, 0] < self.config.join_margin_m
        for index, row in zip(
            ambiguous[close_call].tolist(), pool_rows[ambiguous[close_call]].tolist(), strict=True
        ):
            key = (obs.camera_id, int(obs.local_ids[row]))
            since = self._join_waiting_us.setdefault(key, t_us)
            waiting[index] = t_us - since < _JOIN_WAIT_US
        return waiting

    def _slot_colours(self, slots: IntArray) -> tuple[FloatArray, BoolArray]:
        """The running appearance of ``slots`` (``(k, PARTS, CLASSES)`` shares) and which parts are known."""
        count = self._app_n[slots]
        known: BoolArray = count >= self.config.appearance_min_count
        mean: FloatArray = self._app_sum[slots] / np.maximum(count, 1.0)[..., None]
        return mean, known

    def _similarities(
        self, camera_id: int, local_ids: IntArray, slots: IntArray, *, where: BoolArray | None = None
    ) -> FloatArray | None:
        """Histogram intersection of each local track's latest descriptor with each slot's running appearance,
        averaged over the parts measurable in both (``(rows, slots)``; NaN where nothing is comparable, and
        outside ``where`` when given: the pairs worth comparing, a few of a crowd's); None when no row has a
        descriptor."""
        found = [self._track_app.get((camera_id, int(local))) for local in local_ids.tolist()]
        have = [k for k, entry in enumerate(found) if entry is not None]
        if not have or slots.size == 0:
            return None
        rows = np.zeros((local_ids.shape[0], PARTS, CLASSES))
        for k in have:
            entry = found[k]
            assert entry is not None
            rows[k] = entry[0]
        mean, known = self._slot_colours(slots)
        if where is None:
            where = np.ones((rows.shape[0], slots.shape[0]), dtype=np.bool_)
        row_index, slot_index = np.nonzero(where)
        both = (rows.sum(axis=2) > 0)[row_index] & known[slot_index]
        overlap = np.minimum(rows[row_index], mean[slot_index]).sum(axis=2)
        parts = both.sum(axis=1)
        similar: FloatArray = np.full(where.shape, np.nan)
        similar[row_index, slot_index] = np.where(
            parts > 0, (overlap * both).sum(axis=1) / np.maximum(parts, 1), np.nan
        )
        return similar

    def _check_crosswise(
        self, obs: CameraObservations, row_slot: IntArray, usable: BoolArray, predicted: FloatArray
    ) -> None:
        """Swap check of step 2: two remembered rows of this camera whose persons, exchanged, would sit closer to
        their predictions by more than ``FusionConfig.swap_saving_m`` in all (each row within the gate of the other's
        person) are a tracker's id swap: both associations are forgotten and both rows wait for the next frame,
        to be assigned afresh (step 3). The memory keeps an association while the row stays within
        ``memory_gate_distance_m``; without this check the swapped rows would pull both persons over to each
        other's place, and a camera that still sees them right would be the one found disagreeing."""
        held = np.flatnonzero(row_slot >= 0)
        if held.size < 2:
            return
        slots = row_slot[held]
        first, second = swapped_pairs(
            obs.floor_xy_m[held], predicted[slots], self.config.gate_distance_m, self.config.swap_saving_m
        )
        if first.size == 0:
            return
        for row in set(held[first].tolist()) | set(held[second].tolist()):
            self._memory.pop((obs.camera_id, int(obs.local_ids[row])), None)
            row_slot[row] = -1
            usable[row] = False
            self.reassociated_total += 1

    def _check_colours(
        self, obs: CameraObservations, row_slot: IntArray, usable: BoolArray, predicted: FloatArray, t_us: int
    ) -> None:
        """Colour check of step 2: a remembered row whose new descriptor does not clearly agree with its person
        (below ``appearance_match``) while another person seen recently within the gate matches it by
        ``_SWAP_MARGIN`` more is a tracker's id swap (two people walking too close for positions to tell; the
        edge's descriptor drifts to the new person over a few updates, so waiting for a clear disagreement
        would let the person's colours absorb the other's first): its association is forgotten, and so is that of
        the row of this camera that holds the better-matching person (the swap's other half); both rows wait for
        the next frame and are assigned afresh, with their colours (step 3). Where this camera holds that person,
        the two rows must look swapped together (``_exchange_matches``): a holder whose colours match its own
        person as well is a look-alike beside a person whose running colours are somebody else's (learnt from the
        first person they followed, they never take the right ones in, as those disagree), and both
        associations are kept; dropped, the two tracks of a tight group were up for a guess, and a crosswise tie
        carried an id (and a badge binding) to the look-alike."""
        cfg = self.config
        rows = obs.appearance_rows[row_slot[obs.appearance_rows] >= 0]
        if rows.size == 0:
            return
        # Cheap first: only rows whose colours do not clearly agree with their own person can be swapped.
        own_only = self._pair_rows(obs.camera_id, obs.local_ids[rows], row_slot[rows])
        rows = rows[own_only < cfg.appearance_match]
        if rows.size == 0:
            return
        recent = np.flatnonzero(
            self._active & self._visible & (t_us - self._last_seen_us <= self._source_window_us)
        )
        if recent.size < 2:
            return
        similar = self._similarities(obs.camera_id, obs.local_ids[rows], recent)
        if similar is None:
            return
        own_index = np.searchsorted(recent, row_slot[rows])
        own_index = np.minimum(own_index, recent.size - 1)
        valid = recent[own_index] == row_slot[rows]
        own = np.where(valid, similar[np.arange(rows.size), own_index], np.nan)
        near = np.hypot(*(obs.floor_xy_m[rows, None, :] - predicted[None, recent, :]).transpose(2, 0, 1))
        other = np.where((near <= cfg.gate_distance_m) & ~np.isnan(similar), similar, -1.0)
        other[np.arange(rows.size), own_index] = -1.0
        best = other.argmax(axis=1)
        best_similarity = other[np.arange(rows.size), best]
        wrong = (own < cfg.appearance_match) & (best_similarity >= own + _SWAP_MARGIN)
        if not wrong.any():
            return
        holder = {int(slot): row for row, slot in enumerate(row_slot.tolist()) if slot >= 0}
        for k in np.flatnonzero(wrong).tolist():
            other_row = holder.get(int(recent[best[k]]))
            if other_row is not None and not self._exchange_matches(
                obs.camera_id,
                int(obs.local_ids[other_row]),
                int(row_slot[rows[k]]),
                int(recent[best[k]]),
                float(best_similarity[k] - own[k]),
            ):
                continue  # the other row's colours are its own person's: a look-alike, no swap
            for row in (int(rows[k]), other_row):
                if row is None or row_slot[row] < 0:
                    continue
                self._memory.pop((obs.camera_id, int(obs.local_ids[row])), None)
                row_slot[row] = -1
                usable[row] = False
                self.reassociated_total += 1
                self.colour_reassociated_total += 1

    def _exchange_matches(self, camera_id: int, local_id: int, mine: int, theirs: int, gain: float) -> bool:
        """Whether a row of slot ``mine`` that matches slot ``theirs`` better by ``gain`` and the row
        ``local_id`` of this camera that holds ``theirs`` are a swap by their colours: exchanged, the two match
        their persons better than kept by ``_SWAP_MARGIN`` in all, as the swap check of positions asks
        (``swap_saving_m``). The holder's colours count as neither where they cannot be compared."""
        if (camera_id, local_id) not in self._track_app:
            return gain >= _SWAP_MARGIN
        similar = self._similarities(camera_id, np.array([local_id]), np.array([mine, theirs]))
        if similar is None or np.isnan(similar).any():
            return gain >= _SWAP_MARGIN
        return gain + float(similar[0, 0] - similar[0, 1]) >= _SWAP_MARGIN

    def _pair_rows(self, camera_id: int, local_ids: IntArray, slots: IntArray) -> FloatArray:
        """Similarity of each track's latest descriptor with its own slot's running appearance (NaN where
        nothing is comparable)."""
        shares = np.stack([self._track_app[(camera_id, int(local))][0] for local in local_ids.tolist()])
        mean, known = self._slot_colours(slots)
        both = (shares.sum(axis=2) > 0) & known
        overlap = np.minimum(shares, mean).sum(axis=2)
        parts = both.sum(axis=1)
        similar: FloatArray = np.where(parts > 0, (overlap * both).sum(axis=1) / np.maximum(parts, 1), np.nan)
        return similar

    def _fold_colours(self, camera_id: int, local_ids: IntArray, row_slot: IntArray, rows: IntArray) -> None:
        """Add the latest descriptor of each of ``rows`` (assigned to a slot) to the slot's running appearance,
        once per (track, person), unless the slot's known colours disagree with it."""
        cfg = self.config
        picked: list[FloatArray] = []
        slots: list[int] = []
        track_app = self._track_app
        global_ids = self._global_id
        for row in set(rows.tolist()):
            slot = int(row_slot[row])
            if slot < 0:
                continue
            key = (camera_id, int(local_ids[row]))
            entry = track_app.get(key)
            gid = int(global_ids[slot])
            if entry is None or entry[1] == gid:
                continue
            track_app[key] = (entry[0], gid)
            picked.append(entry[0])
            slots.append(slot)
        if not slots:
            return
        shares = np.stack(picked)
        where = np.array(slots, dtype=np.int64)
        mean, known = self._slot_colours(where)
        measurable = shares.sum(axis=2) > 0
        both = measurable & known
        parts = both.sum(axis=1)
        overlap = (np.minimum(mean, shares).sum(axis=2) * both).sum(axis=1) / np.maximum(parts, 1)
        keep = (parts == 0) | (overlap >= cfg.appearance_mismatch)
        if not keep.all():
            shares, where, measurable = shares[keep], where[keep], measurable[keep]
        if where.size == 0:
            return
        count = self._app_n[where]
        full = measurable & (count >= _APPEARANCE_MAX_COUNT)
        if full.any():
            scale = np.where(full, (_APPEARANCE_MAX_COUNT - 1.0) / np.maximum(count, 1.0), 1.0)
            self._app_sum[where] *= scale[..., None]
            self._app_n[where] *= scale
        np.add.at(self._app_sum, where, np.where(measurable[..., None], shares, 0.0))
        np.add.at(self._app_n, where, measurable.astype(np.float64))

    def _in_entry(self, xy: FloatArray) -> BoolArray:
        """Which floor points lie in an entry region."""
        inside = np.zeros(xy.shape[0], dtype=np.bool_)
        for x0, y0, x1, y1 in self.config.entry_regions_m:
            inside |= (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
        return inside

    def _camera_column(self, camera_id: int) -> int:
        column = self._camera_index.get(camera_id)
        if column is None:
            column = len(self._camera_index)
            self._camera_index[camera_id] = column
            self._camera_ids = np.append(self._camera_ids, np.int64(camera_id))
            slots = self._camera_seen_us.shape[0]
            extra = np.full((slots, 1), _NEVER_US, dtype=np.int64)
            self._camera_seen_us = np.hstack([self._camera_seen_us, extra])
            self._camera_offset = np.concatenate([self._camera_offset, np.zeros((slots, 1, 2))], axis=1)
            self._camera_spread = np.hstack([self._camera_spread, np.full((slots, 1), -1.0)])
            self._camera_noise = np.append(self._camera_noise, _SPREAD_FLOOR_M2)
            self._camera_since_us = np.hstack([self._camera_since_us, np.zeros((slots, 1), dtype=np.int64)])
            self._camera_vouched = np.hstack([self._camera_vouched, np.zeros((slots, 1), dtype=np.bool_)])
            self._dispute_count = np.hstack([self._dispute_count, np.zeros((slots, 1), dtype=np.int64)])
            self._skew_num = np.pad(self._skew_num, ((0, 1), (0, 1)))
            self._skew_den = np.pad(self._skew_den, ((0, 1), (0, 1)))
            self._skew_num_total = np.pad(self._skew_num_total, ((0, 1), (0, 1)))
            self._skew_den_total = np.pad(self._skew_den_total, ((0, 1), (0, 1)))
            self._skew_s = np.append(self._skew_s, 0.0)
            self._skew_tick = np.append(self._skew_tick, np.int64(0))
        return column

    def _check_consistency(
        self,
        obs: CameraObservations,
        column: int,
        rows: IntArray,
        slots: IntArray,
        predicted: FloatArray,
        t_us: int,
    ) -> tuple[IntArray, IntArray]:
        """Smooth this camera's offsets for the remembered ``rows``; return the rows whose association is
        wrong because another camera places the same person more than ``camera_disagreement_m`` (grown with
        the two cameras' scatter, ``_SPREAD_GAIN``) away (see
        step 2), and of them those that lost a dispute (on probation against an older camera: their local
        track may not join the person again for ``_DISPUTE_VETO_US``)."""
        offset = self._camera_offset[slots, column]
        deviation = (obs.floor_xy_m[rows] - predicted[slots]) - offset
        offset += _OFFSET_GAIN * deviation
        self._camera_offset[slots, column] = offset
        spread = self._update_spread(slots, column, np.einsum("kx,kx->k", deviation, deviation))
        if self._camera_seen_us.shape[1] < 2:
            return rows[:0], rows[:0]
        recent = self._camera_seen_us[slots] >= t_us - self._source_window_us
        recent[:, column] = False
        if not recent.any():
            return rows[:0], rows[:0]
        since = self._camera_since_us[slots]
        gap = self._camera_offset[slots] - offset[:, None, :]
        # On the common clock (a camera stamped s late sees a walker v s behind) ...
        velocity = self._vel[slots]
        corrected = self._camera_offset[slots] + velocity[:, None, :] * self._skew_s[None, :, None]
        corrected_gap = corrected - corrected[:, column, None, :]
        # Beyond the difference allowed everywhere by more than the two observations' uncertainties (see
        # _SPREAD_GAIN: a fixed metric limit dropped far people's right associations over and over).
        others = self._camera_spread[slots]
        others = np.where(others < 0.0, self._camera_noise[None, :], others)
        limit2 = self.config.camera_disagreement_m**2 + _DISAGREE_NOISE_Z2 * (spread[:, None] + others)
        apart = np.einsum("kcx,kcx->kc", corrected_gap, corrected_gap) > limit2
        # ... the camera farther from the prediction is the wrong one (the prediction carries the person's past;
        # the majority pulls it to itself); about as far: the younger association.
        distance = np.hypot(corrected[..., 0], corrected[..., 1])
        farther = distance[:, column, None] - distance
        older = since < since[:, column, None]
        wrong = (farther > _DISAGREE_TIE_M) | ((np.abs(farther) <= _DISAGREE_TIE_M) & older)
        # Disputes: an association on probation (_PROBATION_US) that disagrees with an older camera's is the one
        # dropped, unless a third camera agrees with it; an older one is never dropped for such a newcomer.
        young = (
            (t_us - since < _PROBATION_US)
            & (since - self._first_seen_us[slots, None] >= _ESTABLISHED_US)
            & ~self._camera_vouched[slots]
        )
        disputing = recent & apart
        agreed = (recent & ~apart).any(axis=1, keepdims=True)
        in_dispute = (disputing & older & young[:, column, None] & ~agreed).any(axis=1)
        if in_dispute.any():
            # A dispute needs somebody else the row could be: alone, the disagreement is a calibration offset.
            candidates = np.flatnonzero(self._visible)
            for k in np.flatnonzero(in_dispute).tolist():
                others = candidates[candidates != slots[k]]
                near = (
                    np.hypot(*(predicted[others] - obs.floor_xy_m[rows[k]]).T) <= self.config.gate_distance_m
                )
                in_dispute[k] = bool(near.any())
        counts = np.where(in_dispute, self._dispute_count[slots, column] + 1, 0)
        lost_dispute = counts >= _DISPUTE_CHECKS
        self._dispute_count[slots, column] = np.where(lost_dispute, 0, counts)
        protected = young & (since > since[:, column, None])
        wrong &= ~protected
        bad_mask = (disputing & wrong).any(axis=1) | lost_dispute
        bad = np.flatnonzero(bad_mask)
        self._skew_tick[column] += 1
        if self._skew_tick[column] % _SKEW_EVERY_FRAMES == 0:
            agree = np.einsum("kcx,kcx->kc", gap, gap) <= _SKEW_AGREE_M**2
            self._learn_skew(column, slots, gap, recent & agree, t_us)
            shared, partner = np.nonzero(recent)
            self._agreement.record(t_us, column, partner.astype(np.int64), corrected_gap[shared, partner])
        if bad.size:
            self._camera_offset[slots[bad], column] = 0.0
            self.reassociated_total += int(bad.size)
        skipped: IntArray = rows[bad]
        disputed: IntArray = rows[lost_dispute]
        return skipped, disputed

    def _update_spread(self, slots: IntArray, column: int, squared: FloatArray) -> FloatArray:
        """Fold this frame's squared residual deviations (``squared``, one per slot) into the scatter of camera
        ``column``'s residuals about its smoothed offset of each slot and into the camera's own; return the
        slots' scatter."""
        noise = float(self._camera_noise[column])
        spread = self._camera_spread[slots, column]
        spread = np.where(spread < 0.0, noise, spread)
        clipped = np.minimum(squared, _SPREAD_CLIP * np.maximum(spread, _SPREAD_FLOOR_M2))
        spread = spread + _SPREAD_GAIN * (clipped - spread)
        self._camera_spread[slots, column] = spread
        self._camera_noise[column] = max(
            _SPREAD_FLOOR_M2, noise + _SPREAD_GAIN * (float(np.median(clipped)) - noise)
        )
        return spread

    def _learn_skew(self, column: int, slots: IntArray, gap: FloatArray, agree: BoolArray, t_us: int) -> None:
        """Accumulate the relative clock skew of camera ``column`` against the others from the persons both
        observe while walking: a camera stamped ``s`` late sees a walker ``v * s`` behind, so
        ``offset_i - offset_j = -v (s_i - s_j)``, i.e. ``gap . v = (s_i - s_j) |v|^2`` with ``gap`` the other
        camera's offset minus this one's. Re-solve the per-camera skews once per second of stream time."""
        velocity = self._vel[slots]
        speed2 = np.einsum("kx,kx->k", velocity, velocity)
        use = agree & (speed2 >= _SKEW_MIN_SPEED_MPS**2)[:, None]
        if use.any():
            self._skew_num[column] += np.einsum("kcx,kx,kc->c", gap, velocity, use)
            self._skew_den[column] += speed2 @ use
        if t_us - self._skew_solved_us >= 1_000_000:
            self._solve_skew(t_us)

    def _solve_skew(self, t_us: int) -> None:
        """Fold the last second's evidence into the totals (older evidence decays by ``_SKEW_FORGET`` per
        second) and solve the weighted least squares for the skews (mean zero, clipped to ``max_skew_s``)."""
        self._skew_solved_us = t_us
        self._skew_num_total = _SKEW_FORGET * self._skew_num_total + (self._skew_num - self._skew_num.T)
        self._skew_den_total = _SKEW_FORGET * self._skew_den_total + (self._skew_den + self._skew_den.T)
        self._skew_num[:] = 0.0
        self._skew_den[:] = 0.0
        den = self._skew_den_total
        if not den.any():
            return
        count = den.shape[0]
        # The Laplacian of the camera graph, plus a term that pins the mean skew to zero.
        system = np.diag(den.sum(axis=1)) - den + np.ones((count, count)) / count
        skew = np.linalg.lstsq(system, self._skew_num_total.sum(axis=1), rcond=None)[0]
        limit = self.config.max_skew_s
        self._skew_s = np.clip(skew, -limit, limit)

    def camera_agreement(self, min_samples: float = 1.0) -> list[CameraPairAgreement]:
        """How far apart each pair of this site's cameras places the people both see, over about the last 100 s
        of stream time (``server.fusion.agreement``): a calibration check."""
        now = self._now_us if self._now_us is not None else 0
        return self._agreement.summary(now, self._camera_ids, min_samples)

    @property
    def camera_skews_s(self) -> dict[int, float]:
        """Estimated clock skew per camera id (seconds; relative, mean zero over the site's cameras)."""
        return {int(c): float(self._skew_s[i]) for c, i in self._camera_index.items()}

    def _predict_walking(self, t_us: int) -> FloatArray:
        """Every slot's walking-model position at ``t_us`` (extrapolation clipped to max_extrapolation_s)."""
        horizon = self.config.max_extrapolation_s
        dt_s = np.clip((t_us - self._state_us) * 1e-6, -horizon, horizon)
        predicted: FloatArray = self._pos + self._vel * dt_s[:, None]
        return predicted

    def _predict(self, t_us: int, walking: FloatArray | None = None) -> FloatArray:
        """Every slot's position at ``t_us`` by the model that places it (step 4)."""
        if walking is None:
            walking = self._predict_walking(t_us)
        predicted: FloatArray = np.where(self._standing[:, None], self._standing_pos, walking)
        return predicted

    def _update_standing(self, slots: IntArray, corrected: FloatArray, walking_residual: FloatArray) -> None:
        """Update the standing model of ``slots`` with their skew-corrected observations and choose, per slot,
        the model with the smaller smoothed squared residual (step 4)."""
        gain = self.config.standing_gain
        if gain <= 0.0:
            return
        standing_residual = corrected - self._standing_pos[slots]
        walking_error = self._walking_residual[slots]
        walking_error += _MODEL_RESIDUAL_GAIN * (
            np.einsum("kx,kx->k", walking_residual, walking_residual) - walking_error
        )
        standing_error = self._standing_residual[slots]
        standing_error += _MODEL_RESIDUAL_GAIN * (
            np.einsum("kx,kx->k", standing_residual, standing_residual) - standing_error
        )
        self._walking_residual[slots] = walking_error
        self._standing_residual[slots] = standing_error
        self._standing_pos[slots] += gain * standing_residual
        self._standing[slots] = standing_error < walking_error

    def _resolve_memory_conflicts(
        self, row_slot: IntArray, memory_rows: IntArray, distance: FloatArray
    ) -> None:
        best: dict[int, tuple[float, int]] = {}
        for row, dist in zip(memory_rows.tolist(), distance.tolist(), strict=True):
            slot = int(row_slot[row])
            if slot < 0:
                continue
            current = best.get(slot)
            if current is None or dist < current[0]:
                if current is not None:
                    row_slot[current[1]] = -1
                best[slot] = (dist, row)
            else:
                row_slot[row] = -1

    def _new_slot(self, xy: FloatArray, t_us: int) -> int:
        free = np.flatnonzero(~self._active)
        if free.size == 0:
            self._grow()
            free = np.flatnonzero(~self._active)
        slot = int(free[0])
        self._active[slot] = True
        self._confirmed[slot] = False
        self._global_id[slot] = self._next_global_id
        self._next_global_id += 1
        self._pos[slot] = xy
        self._vel[slot] = 0.0
        self._state_us[slot] = t_us
        self._first_seen_us[slot] = t_us
        self._sighted_us[slot] = t_us
        self._last_seen_us[slot] = t_us
        self._hits[slot] = 1
        self._score_sum[slot] = 0.0
        self._standing_pos[slot] = xy
        self._walking_residual[slot] = 0.0
        self._standing_residual[slot] = 0.0
        self._standing[slot] = False
        self._held_us[slot] = t_us
        self._visible[slot] = False
        self._uncertain[slot] = False
        self._camera_seen_us[slot] = _NEVER_US
        self._camera_offset[slot] = 0.0
        self._camera_spread[slot] = -1.0
        self._camera_since_us[slot] = 0
        self._camera_vouched[slot] = False
        self._dispute_count[slot] = 0
        self._app_sum[slot] = 0.0
        self._app_n[slot] = 0.0
        return slot

    def _grow(self) -> None:
        old = self._active.shape[0]

        def grown(array: np.ndarray, fill: object) -> np.ndarray:  # type: ignore[type-arg]
            extra = np.full((old, *array.shape[1:]), fill, dtype=array.dtype)
            return np.concatenate([array, extra])

        self._active = grown(self._active, False)
        self._confirmed = grown(self._confirmed, False)
        self._global_id = grown(self._global_id, 0)
        self._pos = grown(self._pos, 0.0)
        self._vel = grown(self._vel, 0.0)
        self._state_us = grown(self._state_us, 0)
        self._first_seen_us = grown(self._first_seen_us, 0)
        self._sighted_us = grown(self._sighted_us, 0)
        self._last_seen_us = grown(self._last_seen_us, 0)
        self._hits = grown(self._hits, 0)
        self._score_sum = grown(self._score_sum, 0.0)
        self._standing_pos = grown(self._standing_pos, 0.0)
        self._walking_residual = grown(self._walking_residual, 0.0)
        self._standing_residual = grown(self._standing_residual, 0.0)
        self._standing = grown(self._standing, False)
        self._held_us = grown(self._held_us, 0)
        self._visible = grown(self._visible, False)
        self._uncertain = grown(self._uncertain, False)
        self._camera_seen_us = grown(self._camera_seen_us, _NEVER_US)
        self._camera_offset = grown(self._camera_offset, 0.0)
        self._camera_spread = grown(self._camera_spread, -1.0)
        self._camera_since_us = grown(self._camera_since_us, 0)
        self._camera_vouched = grown(self._camera_vouched, False)
        self._dispute_count = grown(self._dispute_count, 0)
        self._app_sum = grown(self._app_sum, 0.0)
        self._app_n = grown(self._app_n, 0.0)

    def _life_cycle(self, t_us: int) -> list[EndedPerson]:
        cfg = self.config
        unseen_us = t_us - self._last_seen_us
        tentative = self._active & ~self._confirmed
        if tentative.any():
            age_us = self._last_seen_us - self._first_seen_us
            confident = self._score_sum >= cfg.confident_score * self._hits
            old_enough = (age_us >= int(cfg.confirm_after_s * 1e6)) | (
                confident & (age_us >= int(cfg.fast_confirm_after_s * 1e6))
            )
            scored = self._score_sum >= cfg.confirm_min_score * self._hits
            persistent = age_us >= int(cfg.low_score_confirm_after_s * 1e6)
            promote = tentative & ((old_enough & scored) | persistent) & (self._hits >= cfg.confirm_min_hits)
            self._confirmed |= promote
            drop = tentative & ~promote & (unseen_us > int(cfg.tentative_timeout_s * 1e6))
            self._active &= ~drop
            if self._doubted_with and drop.any():
                # Dropped silently (no EndedPerson): whom they may be goes too, or it stayed for good (a newcomer
                # flickering where an unseen person could be, hours of them).
                for person in self._global_id[drop].tolist():
                    self._doubted_with.pop(person, None)
        # 7. a person is reported while seen recently or while an edge still holds one of its local tracks; an
        # unreported person waits for re-acquisition (step 3) until reacquire_within_s, then ends.
        held = (t_us - self._held_us <= _HELD_REFRESH_US) & (unseen_us <= int(cfg.held_max_s * 1e6))
        confirmed = self._active & self._confirmed
        self._visible = confirmed & ((unseen_us <= int(cfg.end_after_s * 1e6)) | held)
        if cfg.entry_regions_m:
            # Someone unseen where people leave the floor has most likely left: no longer reported (but kept).
            going = np.flatnonzero(self._visible & (unseen_us > int(cfg.exit_end_after_s * 1e6)))
            if going.size:
                self._visible[going[self._in_entry(self._pos[going])]] = False
        gone = unseen_us > int(cfg.reacquire_within_s * 1e6)
        if cfg.use_appearance and cfg.appearance_window_s > cfg.reacquire_within_s and self._track_app:
            # Known colours keep a person re-acquirable (by a matching row only) for appearance_window_s.
            known = (self._app_n >= cfg.appearance_min_count).any(axis=1)
            gone &= ~known | (unseen_us > int(cfg.appearance_window_s * 1e6))
        ending = np.flatnonzero(confirmed & ~self._visible & gone)
        ended = [
            EndedPerson(int(self._global_id[s]), int(self._first_seen_us[s]), int(self._last_seen_us[s]))
            for s in ending.tolist()
        ]
        self._active[ending] = False
        for person in ended:
            self._doubted_with.pop(person.global_id, None)
        return ended

    def _merge(self, t_us: int) -> list[EndedPerson]:
        cfg = self.config
        # Duplicates are seen (by two cameras): a person nobody observes now is never merged into someone else.
        # A pair's time together survives checks in which one of them goes unobserved for up to _MERGE_GAP_US (a
        # far camera misses people every few frames: restarting the clock then, its duplicate of a person standing
        # a metre from the others' position was never merged, and counted a person twice for minutes).
        observed = self._visible & (t_us - self._last_seen_us <= self._source_window_us)
        slots = np.flatnonzero(observed)
        since: dict[tuple[int, int], tuple[int, int]] = {}
        wide_since: dict[tuple[int, int], tuple[int, int]] = {}
        decided: set[tuple[int, int]] = set()  # pairs found this time: their clocks are this check's
        ended: list[EndedPerson] = []
        first_i = second_i = np.zeros(0, dtype=np.int64)
        distance2 = np.zeros(0)
        if slots.size >= 2:
            xy = self._predict(t_us)[slots]
            reach = max(cfg.merge_distance_m, cfg.wide_merge_distance_m)
            recent = self._camera_seen_us[slots] >= t_us - int(cfg.source_window_s * 1e6)
            first_i, second_i, distance2 = unshared_close_pairs(xy, recent, reach)
        close: list[bool] = (distance2 < cfg.merge_distance_m**2).tolist()
        gone: set[int] = set()
        apart = self._kept_apart() if self._vetoed and first_i.size else set()
        for a, b, is_close in zip(first_i.tolist(), second_i.tolist(), close, strict=True):
            slot_a, slot_b = int(slots[a]), int(slots[b])
            key = (int(self._global_id[slot_a]), int(self._global_id[slot_b]))
            decided.add(key)
            if key in apart:
                continue  # a dispute's two sides (step 2): the newcomer is not merged back into the person
            if is_close:
                if cfg.use_appearance and self._track_app:
                    similar = self._pair_similarity(slot_a, slot_b)
                    if similar is not None and similar < cfg.appearance_mismatch - _HANDOVER_MARGIN:
                        continue  # two people side by side, each seen by one camera, whose colours disagree
                start = self._merge_since_us.get(key, (t_us, t_us))[0]
                since[key] = (start, t_us)
                after_s = cfg.merge_after_s
            else:
                # Wider co-location (a camera whose calibration is off by a metre): moving alike for longer,
                # and sooner when the colours agree.
                speed = float(np.hypot(*(self._vel[slot_a] - self._vel[slot_b])))
                similar = self._pair_similarity(slot_a, slot_b) if cfg.use_appearance else None
                if speed > _WIDE_MERGE_SPEED_MPS or (
                    similar is not None and similar < cfg.appearance_mismatch
                ):
                    continue  # people a metre apart whose colours disagree are not one person seen twice
                start = self._wide_since_us.get(key, (t_us, t_us))[0]
                wide_since[key] = (start, t_us)
                agree = similar is not None and similar >= cfg.appearance_match
                after_s = cfg.wide_merge_after_s * (1.0 if agree else _WIDE_MERGE_BLIND_FACTOR)
            if t_us - start < int(after_s * 1e6) or slot_a in gone or slot_b in gone:
                continue
            keep, drop = (slot_a, slot_b)
            if self._first_seen_us[slot_b] < self._first_seen_us[slot_a]:
                keep, drop = slot_b, slot_a
            ended.append(self._merge_pair(keep, drop))
            gone.add(drop)
            since.pop(key, None)
            wide_since.pop(key, None)
        # Carried across a miss only: a pair not found although both are observed was seen together by a camera
        # (two people) or is no longer close, and a pair of which one has ended or merged is stale.
        carried = [
            (previous, current)
            for previous, current in ((self._merge_since_us, since), (self._wide_since_us, wide_since))
            if previous
        ]
        if carried:
            observed_ids = set(self._global_id[slots].tolist())
            active_ids = set(self._global_id[self._active].tolist())
            for previous, current in carried:
                for key, (start, last) in previous.items():
                    if key in decided or t_us - last > _MERGE_GAP_US:
                        continue
                    first_id, second_id = key
                    if first_id not in active_ids or second_id not in active_ids:
                        continue
                    if first_id in observed_ids and second_id in observed_ids:
                        continue
                    current[key] = (start, last)
        self._merge_since_us = since
        self._wide_since_us = wide_since
        return ended

    def _kept_apart(self) -> set[tuple[int, int]]:
        """Pairs of global ids (both orders) that a lost dispute keeps apart: the person a vetoed local track
        is associated with now, and the one it may not join."""
        pairs: set[tuple[int, int]] = set()
        for key, (gid, _) in self._vetoed.items():
            association = self._memory.get(key)
            if association is not None and association.global_id != gid:
                pairs.add((association.global_id, gid))
                pairs.add((gid, association.global_id))
        return pairs

    def _pair_similarity(self, slot_a: int, slot_b: int) -> float | None:
        """Histogram intersection of two slots' running appearances over the parts known for both."""
        known = (self._app_n[slot_a] >= self.config.appearance_min_count) & (
            self._app_n[slot_b] >= self.config.appearance_min_count
        )
        if not known.any():
            return None
        a = self._app_sum[slot_a, known] / self._app_n[slot_a, known, None]
        b = self._app_sum[slot_b, known] / self._app_n[slot_b, known, None]
        return float(np.minimum(a, b).sum(axis=1).mean())

    def _merge_pair(self, keep: int, drop: int) -> EndedPerson:
        keep_id = int(self._global_id[keep])
        drop_id = int(self._global_id[drop])
        for association in self._memory.values():
            if association.slot == drop and association.global_id == drop_id:
                association.slot = keep
                association.global_id = keep_id
        newer = self._camera_seen_us[drop] > self._camera_seen_us[keep]
        self._camera_offset[keep, newer] = self._camera_offset[drop, newer]
        self._camera_spread[keep, newer] = self._camera_spread[drop, newer]
        self._camera_since_us[keep, newer] = self._camera_since_us[drop, newer]
        self._camera_vouched[keep, newer] = self._camera_vouched[drop, newer]
        self._camera_seen_us[keep] = np.maximum(self._camera_seen_us[keep], self._camera_seen_us[drop])
        self._last_seen_us[keep] = max(self._last_seen_us[keep], self._last_seen_us[drop])
        self._sighted_us[keep] = min(self._sighted_us[keep], self._sighted_us[drop])
        self._hits[keep] += self._hits[drop]
        self._score_sum[keep] += self._score_sum[drop]
        self._held_us[keep] = max(self._held_us[keep], self._held_us[drop])
        self._uncertain[keep] |= self._uncertain[drop]
        doubts = self._doubted_with.pop(drop_id, set())
        if doubts:
            self._doubted_with.setdefault(keep_id, set()).update(doubts)
        for others in self._doubted_with.values():
            if drop_id in others:
                others.discard(drop_id)
                others.add(keep_id)
        self._doubted_with.get(keep_id, set()).discard(keep_id)
        self._app_sum[keep] += self._app_sum[drop]
        self._app_n[keep] += self._app_n[drop]
        self._active[drop] = False
        self._visible[drop] = False
        self.merged_total += 1
        logger.debug("merged global person %d into %d", drop_id, keep_id)
        return EndedPerson(drop_id, int(self._first_seen_us[drop]), int(self._last_seen_us[drop]))

    def _purge_memory(self, t_us: int) -> None:
        ttl_us = int(self.config.memory_ttl_s * 1e6)
        stale = [
            key
            for key, association in self._memory.items()
            if t_us - association.refreshed_us > ttl_us
            or not self._active[association.slot]
            or self._global_id[association.slot] != association.global_id
        ]
        for key in stale:
            del self._memory[key]
        if self._vetoed:
            veto_us = _DISPUTE_VETO_US
            self._vetoed = {key: entry for key, entry in self._vetoed.items() if t_us - entry[1] <= veto_us}
        self._join_waiting_us = {
            key: since for key, since in self._join_waiting_us.items() if t_us - since <= 2 * _JOIN_WAIT_US
        }
        self._tentative_since = {
            key: since for key, since in self._tentative_since.items() if t_us - since <= ttl_us
        }
        if self._track_app:
            self._track_app = {
                key: entry
                for key, entry in self._track_app.items()
                if key in self._memory or key in self._tentative_since
            }
        self._last_purge_us = t_us

    def _snapshot(self, *, ended: tuple[EndedPerson, ...], processed: int) -> FusedFrame:
        t_us = self._now_us if self._now_us is not None else 0
        slots = np.flatnonzero(self._visible)
        horizon = self.config.max_extrapolation_s
        dt_s = np.clip((t_us - self._state_us[slots]) * 1e-6, -horizon, horizon)
        standing = self._standing[slots, None]
        xy = np.where(
            standing, self._standing_pos[slots], self._pos[slots] + self._vel[slots] * dt_s[:, None]
        )
        bounds = self.config.floor_bounds_m
        if bounds is not None and slots.size:
            # Extrapolated past the floor plan's edge: stopped at it (when last placed on the plan).
            low, high = np.array(bounds[:2]), np.array(bounds[2:])
            placed = self._pos[slots]
            on_plan = ((placed >= low) & (placed <= high)).all(axis=1) & (dt_s > 0) & ~standing[:, 0]
            if on_plan.any():
                xy[on_plan] = np.clip(xy[on_plan], low, high)
        recent = self._camera_seen_us[slots] >= t_us - int(self.config.source_window_s * 1e6)
        uncertain = (
            frozenset(self._global_id[slots[self._uncertain[slots]]].tolist())
            if self._uncertain.any()
            else frozenset()
        )
        return FusedFrame(
            site_id=self.config.site_id,
            time_us=t_us,
            global_ids=self._global_id[slots].copy(),
            floor_xy_m=xy,
            velocities_mps=np.where(standing, 0.0, self._vel[slots]),
            last_seen_us=self._last_seen_us[slots].copy(),
            source_mask=recent,
            camera_ids=self._camera_ids.copy(),
            ended=ended,
            processed_frames=processed,
            uncertain_ids=uncertain,
            uncertain_with={g: frozenset(d) for g in uncertain if (d := self._doubted_with.get(g))},
            first_seen_us=self._sighted_us[slots].copy(),
        )


def close_pairs(xy: FloatArray, reach_m: float) -> tuple[IntArray, IntArray, FloatArray]:
    """The pairs (i < j) of points closer than `reach_m`, in row-major order, with their squared distances.

    Above KD_TREE_MIN_POINTS points a k-d tree proposes the pairs (O(n log n + k) rather than the n x n matrix a
    crowd of 400 made 160,000 entries of, each merge check); each pair is then kept or not by the matrix's own
    test (``dx * dx + dy * dy < reach**2``), so the pairs and their order are the matrix's to the last bit."""
    n = xy.shape[0]
    if n >= KD_TREE_MIN_POINTS and np.isfinite(xy).all():  # the k-d tree refuses non-finite points
        # Proposed a hair beyond the reach (the tree's distances round differently), decided exactly below.
        tree = cKDTree(xy, balanced_tree=False, compact_nodes=False)
        pairs = tree.query_pairs(reach_m * (1.0 + 1e-9) + 1e-12, output_type="ndarray")
        # Row-major order: the pairs sorted as one number each (a plain sort; a lexsort took 2.5 ms at 40,000).
        first, second = np.divmod(np.sort(pairs[:, 0].astype(np.int64) * n + pairs[:, 1]), n)
        dx = xy[first, 0] - xy[second, 0]
        dy = xy[first, 1] - xy[second, 1]
        distance2 = dx * dx + dy * dy
        keep = distance2 < reach_m**2
        return first[keep], second[keep], distance2[keep]
    dx_all = xy[:, 0:1] - xy[:, 0]
    dy_all = xy[:, 1:2] - xy[:, 1]
    distance2_all = dx_all * dx_all + dy_all * dy_all
    first, second = np.nonzero(distance2_all < reach_m**2)
    upper = first < second
    first, second = first[upper], second[upper]
    return first, second, distance2_all[first, second]


def unshared_close_pairs(
    xy: FloatArray, seen: BoolArray, reach_m: float
) -> tuple[IntArray, IntArray, FloatArray]:
    """The pairs of `close_pairs` (i < j closer than `reach_m`, row-major, with their squared distances) that no
    camera saw together: `seen[i, c]`, camera column c saw point i (the merge check's duplicates, step 6).

    From KD_TREE_MIN_POINTS points on, the points are grouped by the set of cameras that saw them; only the points
    of a group that some group (itself, when it saw nothing and holds two) shares no camera with are searched, the
    shared pairs among them dropped after. In a crowd most pairs are shared (a store of 400 that one camera sees:
    40,000 close pairs, none unshared, all of them searched and looped over), and the pairs, their order and
    distances are close_pairs's over all points, as the points searched keep their order and coordinates. Fewer
    points: all are searched (the grouping cost more than it saved at 50 people)."""
    if xy.shape[0] < KD_TREE_MIN_POINTS:
        first, second, distance2 = close_pairs(xy, reach_m)
        apart = ~(seen[first] & seen[second]).any(axis=1)
        return first[apart], second[apart], distance2[apart]
    # Each point's camera set as a bytes key (one byte per eight cameras; np.unique's axis=0 took 110 us at 400).
    packed = np.packbits(seen, axis=1)
    keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1])))[:, 0]
    _, member, group = np.unique(keys, return_index=True, return_inverse=True)
    group = group.reshape(-1)
    as_counts = seen[member].astype(np.int64)
    shared: BoolArray = as_counts @ as_counts.T > 0  # group x group: a camera saw both groups' points
    alone = np.bincount(group, minlength=member.shape[0]) < 2
    partner = ~shared
    np.fill_diagonal(partner, ~shared.diagonal() & ~alone)
    searched = np.flatnonzero(np.any(partner, axis=1)[group])
    if searched.size < 2:
        return _NO_ROWS, _NO_ROWS, np.zeros(0, dtype=np.float64)
    first, second, distance2 = close_pairs(xy[searched], reach_m)
    first, second = searched[first], searched[second]
    apart = ~shared[group[first], group[second]]
    return first[apart], second[apart], distance2[apart]


def swapped_pairs(
    xy: FloatArray, predicted: FloatArray, gate_m: float, saving_m: float
) -> tuple[IntArray, IntArray]:
    """The pairs (i < k) of rows whose persons, exchanged, would sit closer to the rows' observations `xy` by more
    than `saving_m` in all, each row within `gate_m` of the other's person (`predicted[i]`: row i's person).

    The saving of a pair is at most the sum of the two rows' distances to their own persons, so a pair can gain more
    than `saving_m` only when one of its rows is over half of it away: from SWAP_ROWS_MIN rows on, only those rows'
    pairs are computed (a part of a crowd, not all n x n). The saving is the sum of two terms, each a row's distance
    to its own person less its distance to the other's, so one of the two exceeds half of `saving_m`, and that of a far
    row (two rows near their own persons cannot gain enough, whatever the other's): from KD_TREE_MIN_POINTS rows on a
    k-d tree proposes for each far row only the persons within its distance to its own person less half the saving
    (a few centimetres to decimetres where the gate is 1.3 m: a dense crowd's pairs came by the ten thousand).
    Each pair's saving is computed as the full matrix computes it, term by term in the same order, so the pairs are
    the same to the last bit (in row-major order as well)."""
    own = np.hypot(*(xy - predicted).T)
    if not bool((own > 0.5 * saving_m).any()):
        return (
            _NO_ROWS,
            _NO_ROWS,
        )  # the exchange cannot gain enough unless a row is that far from its own person
    # Doubled, not halved: exact for every float (half of a subnormal saving rounds up, and missed a pair).
    far = np.flatnonzero(own + own > saving_m)
    if own.shape[0] < SWAP_ROWS_MIN or not (np.isfinite(xy).all() and np.isfinite(predicted).all()):
        # A few rows: the whole matrix costs less than picking its rows. Non-finite positions (which the fusion's
        # input checks keep out): the k-d tree refuses them, the matrix leaves their pairs out.
        delta = xy[:, None, :] - predicted[None, :, :]
        distance = np.hypot(delta[..., 0], delta[..., 1])
        all_saving = own[:, None] + own[None, :] - distance - distance.T
        near = distance <= gate_m
        first, second = np.nonzero(np.triu((all_saving > saving_m) & near & near.T, k=1))
        return first, second
    if own.shape[0] >= KD_TREE_MIN_POINTS:
        # The persons closer to each far row's observation than its own person less half the saving (and within the
        # gate), from a k-d tree of the persons; proposed a margin beyond (it dwarfs the rounding of the saving's
        # four terms and of the tree's distances, also far from the origin), decided exactly below.
        tree = cKDTree(predicted, balanced_tree=False, compact_nodes=False)
        far_own = own[far]
        radius = np.minimum(far_own - 0.5 * saving_m, gate_m) + 1e-9 * (far_own + 3.0 * gate_m) + 1e-12
        found = tree.query_ball_point(xy[far], radius, return_sorted=False)
        counts = np.fromiter((len(near) for near in found), dtype=np.int64, count=far.size)
        f = np.repeat(far, counts)
        j = np.fromiter(itertools.chain.from_iterable(found), dtype=np.int64, count=int(counts.sum()))
    else:
        f = np.repeat(far, own.shape[0])
        j = np.tile(np.arange(own.shape[0], dtype=np.int64), far.size)
    # Row f's observation to row j's person, and row j's observation to row f's person (as the matrix has them).
    to_theirs = xy[f] - predicted[j]
    to_mine = xy[j] - predicted[f]
    far_to_j = np.hypot(to_theirs[:, 0], to_theirs[:, 1])
    j_to_far = np.hypot(to_mine[:, 0], to_mine[:, 1])
    keep = (far_to_j <= gate_m) & (j_to_far <= gate_m) & (f != j)
    f, j, far_to_j, j_to_far = f[keep], j[keep], far_to_j[keep], j_to_far[keep]
    if f.size == 0:
        return _NO_ROWS, _NO_ROWS
    low, high = np.minimum(f, j), np.maximum(f, j)
    f_low = f == low
    low_to_high = np.where(f_low, far_to_j, j_to_far)
    high_to_low = np.where(f_low, j_to_far, far_to_j)
    saving = own[low] + own[high] - low_to_high - high_to_low
    swapped = saving > saving_m
    # Both rows far: the pair came twice. Unique, in the matrix's row-major order.
    code = np.unique(low[swapped] * own.shape[0] + high[swapped])
    return code // own.shape[0], code % own.shape[0]


def _clear_best(score: FloatArray, *, axis: int) -> BoolArray:
    """Per line along ``axis``: True at the minimum when the second smallest is more than
    ``_AMBIGUITY_MARGIN`` larger (an unambiguous best), False elsewhere (``_INFEASIBLE`` marks no candidate)."""
    if score.shape[axis] == 0:
        return np.zeros(score.shape, dtype=np.bool_)
    ordered = np.sort(score, axis=axis)
    best = np.take(ordered, [0], axis=axis)
    second = np.take(ordered, [1], axis=axis) if score.shape[axis] > 1 else np.full_like(best, _INFEASIBLE)
    clear: BoolArray = (score == best) & (second - best > _AMBIGUITY_MARGIN)
    return clear
