"""Domain types of the multi-camera fusion: what the ingest hands in and what the analytics read.

All arrays are NumPy arrays; all times are microseconds (``_us``) on the clock stamped by the edge box, all
floor coordinates are metres (``_m``) in the site's floor-plan frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from server.fusion.appearance import DESCRIPTOR_BYTES
from server.fusion.errors import FusionConfigError, FusionInputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Float32Array = npt.NDArray[np.float32]
UInt8Array = npt.NDArray[np.uint8]

# Floor coordinates beyond this magnitude are absurd for a store (the wire contract allows ±10 km).
MAX_ABS_FLOOR_M = 10_000.0


@dataclass(frozen=True)
class CameraObservations:
    """The tracks one camera reported for one analysed frame (one TrackFrame), converted to floor metres.

    Row ``i`` of every column describes the same local track. ``confirmed`` is True for rows whose edge state
    is CONFIRMED (matched to a detection in this frame); tentative and lost rows are False. ``valid_floor`` is
    False where the floor position is not trustworthy (outside the camera's floor region, or camera
    uncalibrated); such rows never move a global person. ``removed_local_ids`` lists local tracks that ended
    with this frame.
    """

    site_id: int
    camera_id: int
    capture_time_us: int
    local_ids: IntArray
    floor_xy_m: FloatArray
    scores: Float32Array
    confirmed: BoolArray
    valid_floor: BoolArray
    removed_local_ids: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # Appearance descriptors (server.fusion.appearance, layout 1) sent with this frame: ``appearance[k]`` is the
    # new descriptor of row ``appearance_rows[k]``. Tracks without a row here keep their last descriptor.
    appearance_rows: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    appearance: UInt8Array = field(default_factory=lambda: np.zeros((0, DESCRIPTOR_BYTES), dtype=np.uint8))

    @property
    def size(self) -> int:
        """Number of track rows."""
        return int(self.local_ids.shape[0])

    def validate(self) -> None:
        """Raise :class:`FusionInputError` unless every column has the right shape, dtype kind and finite
        values.

        Rows with ``valid_floor`` False may carry any finite position (the edge sends 0, 0 for uncalibrated
        cameras).
        """
        n = self.local_ids.shape[0] if self.local_ids.ndim == 1 else -1
        if n < 0:
            raise FusionInputError("local_ids must be one-dimensional", code="bad_shape")
        if self.floor_xy_m.shape != (n, 2):
            raise FusionInputError(
                f"floor_xy_m has shape {self.floor_xy_m.shape}, expected ({n}, 2)", code="bad_shape"
            )
        for name, column in (
            ("scores", self.scores),
            ("confirmed", self.confirmed),
            ("valid_floor", self.valid_floor),
        ):
            if column.shape != (n,):
                raise FusionInputError(f"{name} has shape {column.shape}, expected ({n},)", code="bad_shape")
        if self.removed_local_ids.ndim != 1:
            raise FusionInputError("removed_local_ids must be one-dimensional", code="bad_shape")
        if self.local_ids.dtype.kind not in "iu" or self.removed_local_ids.dtype.kind not in "iu":
            raise FusionInputError("local ids must be integers", code="bad_dtype")
        if self.confirmed.dtype != np.bool_ or self.valid_floor.dtype != np.bool_:
            raise FusionInputError("confirmed and valid_floor must be boolean", code="bad_dtype")
        if self.floor_xy_m.dtype.kind != "f" or self.scores.dtype.kind != "f":
            raise FusionInputError("floor_xy_m and scores must be floating point", code="bad_dtype")
        if n and not bool(np.isfinite(self.floor_xy_m).all()):
            raise FusionInputError("floor_xy_m contains NaN or infinity", code="non_finite")
        if n and not bool(np.isfinite(self.scores).all()):
            raise FusionInputError("scores contain NaN or infinity", code="non_finite")
        if n and float(np.abs(self.floor_xy_m).max()) > MAX_ABS_FLOOR_M:
            raise FusionInputError(f"floor_xy_m beyond ±{MAX_ABS_FLOOR_M:g} m", code="out_of_range")
        if n > 1 and np.unique(self.local_ids).shape[0] != n:
            raise FusionInputError("local_ids contain duplicates", code="duplicate_local_id")
        k = self.appearance_rows.shape[0] if self.appearance_rows.ndim == 1 else -1
        if k < 0 or self.appearance.shape != (k, DESCRIPTOR_BYTES):
            raise FusionInputError(
                f"appearance has shape {self.appearance.shape}, expected ({k}, {DESCRIPTOR_BYTES})",
                code="bad_shape",
            )
        if k and (
            self.appearance_rows.dtype.kind not in "iu"
            or self.appearance.dtype != np.uint8
            or int(self.appearance_rows.min()) < 0
            or int(self.appearance_rows.max()) >= n
            or (k > 1 and not bool((np.diff(self.appearance_rows) > 0).all()))
        ):
            raise FusionInputError("appearance_rows must be ascending row indices", code="bad_appearance")


@dataclass(frozen=True)
class EndedPerson:
    """A global person whose visit ended: no camera saw them for ``FusionConfig.reacquire_within_s``."""

    global_id: int
    first_seen_us: int
    last_seen_us: int


@dataclass(frozen=True)
class FusedFrame:
    """The global persons of a site at ``time_us``, after fusing every TrackFrame up to that time.

    Row ``i`` of ``global_ids``, ``floor_xy_m``, ``velocities_mps``, ``last_seen_us`` and
    ``source_camera_ids`` describes one person. Positions of persons not observed in the latest TrackFrame are
    extrapolated to ``time_us`` with their velocity (at most ``FusionConfig.max_extrapolation_s``).
    ``source_camera_ids[i]`` lists the cameras whose observations updated person ``i`` within
    ``FusionConfig.source_window_s``. ``first_seen_us[i]`` is the time of person ``i``'s first observation
    (the first row of the edge track they were born from, tentative rows included; None from producers that
    do not know it). ``ended`` lists the persons whose visit ended while producing this frame (they are not
    in the arrays any more). ``processed_frames`` counts the TrackFrames applied since the
    previous FusedFrame (0 when the input frame is still held in the reorder buffer).
    """

    site_id: int
    time_us: int
    global_ids: IntArray
    floor_xy_m: FloatArray
    velocities_mps: FloatArray
    last_seen_us: IntArray
    source_mask: BoolArray
    camera_ids: IntArray
    ended: tuple[EndedPerson, ...] = ()
    processed_frames: int = 1
    # Persons (global ids) whose identity the fusion doubts: born where a re-acquisition of an unseen person
    # was refused as ambiguous, or such a refused person. Their binding stays, but alerts must say so.
    uncertain_ids: frozenset[int] = frozenset()
    # For persons of ``uncertain_ids``: the other persons (global ids, some perhaps gone) each may be instead or
    # may have been taken for (the other side of the refusal or the lost dispute). A doubted person without an
    # entry may be anybody's.
    uncertain_with: Mapping[int, frozenset[int]] = field(default_factory=dict)
    first_seen_us: IntArray | None = None

    @property
    def size(self) -> int:
        """Number of persons in the frame."""
        return int(self.global_ids.shape[0])

    @property
    def source_camera_ids(self) -> tuple[tuple[int, ...], ...]:
        """Per person, the ids of the cameras that observed them recently (see ``source_mask``)."""
        cameras = self.camera_ids.tolist()
        return tuple(tuple(cameras[c] for c in np.flatnonzero(row).tolist()) for row in self.source_mask)


@dataclass(frozen=True)
class FusionConfig:
    """Tuning of :class:`server.fusion.site.SiteFusion`. Defaults suit 5-15 fps cameras and ≤ 300 ms skew."""

    site_id: int = 0
    # Assignment gate: an observation can join a global person whose predicted position is closer than this.
    gate_distance_m: float = 1.3
    # A new local track whose two closest recently seen candidates are within this of each other in distance (two
    # people walking close together as a camera picks them up) waits up to 1 s to join one of them, until they part,
    # instead of being tied to one by a guess (0 turns the wait off).
    join_margin_m: float = 0.3
    # A remembered (camera, local id) → global id association is kept while the observation stays this close.
    memory_gate_distance_m: float = 2.5
    # Two cameras whose smoothed observations of one person stay this far apart once their estimated relative
    # clock skew is corrected disagree: the association of the camera farther from the person's prediction (the
    # odd one out of three; the one that jumped, when one camera's tracker swapped two people) is dropped and
    # re-assigned (the younger one when both are about as far). Below the 0.8 m of people walking side by side.
    # Added in quadrature: the two cameras' observations' uncertainty (the scatter of their residuals, larger for
    # far people; SiteFusion's _SPREAD_GAIN).
    camera_disagreement_m: float = 0.5
    # Two remembered local tracks of one camera whose persons, exchanged, would sit this much closer (metres,
    # summed over the two) to their predictions are that camera's id swap: both associations are dropped and
    # assigned afresh (0 turns the check off). People 0.8 m apart gain ~1.4 m from undoing a swap.
    swap_saving_m: float = 0.5
    # Estimated relative clock skews are clipped to this (seconds); 0 turns the skew correction off.
    max_skew_s: float = 0.5
    # Weight of a new observation in the position update (alpha of an alpha-beta filter).
    position_gain: float = 0.3
    # Weight of a local track's velocity in the global velocity update.
    velocity_gain: float = 0.1
    # Weight of a new observation in a person's standing model (an exponential average of the observations that
    # places a person while it explains them better than the walking model); 0 turns the standing model off.
    standing_gain: float = 0.15
    # A global person is reported once it has been observed for this long (filters false positives).
    confirm_after_s: float = 0.5
    # ... and with at least this many observations.
    confirm_min_hits: int = 3
    # ... or, sooner, after fast_confirm_after_s when the mean detection score of its observations is at least
    # confident_score (a detector's false positives score low; 1.0 disables the fast path).
    fast_confirm_after_s: float = 0.2
    confident_score: float = 0.6
    # Either way the mean detection score must reach this (a false-positive tracklet that lives past
    # confirm_after_s stays tentative; Frigate's "threshold" plays the same role) ...
    confirm_min_score: float = 0.45
    # ... unless the person has been observed for this long (a real person a camera detects poorly; false
    # positive tracklets rarely last a second).
    low_score_confirm_after_s: float = 1.5
    # A tentative global person not observed for this long is dropped silently.
    tentative_timeout_s: float = 0.5
    # A confirmed global person not observed by any camera for this long is no longer reported, unless an edge
    # still reports one of its local tracks (LOST) ...: at least the edge tracker's lost-track buffer (1 s) plus a
    # margin, so that a person seen by one camera only survives every gap the edge survives.
    end_after_s: float = 1.3
    # ... for at most this long (an edge that never lets a lost track go does not keep a person forever).
    held_max_s: float = 5.0
    # A person no longer reported can be re-acquired by a new local track (same global id) until it has been
    # unseen for this long; then it ends (EndedPerson).
    reacquire_within_s: float = 3.0
    # A person unseen for longer than this is re-acquired only when nothing else is plausible: the new row lies
    # within gate_distance_m + reacquire_speed_mps x (unseen - max_extrapolation_s) of its prediction, it is the
    # only person within the gate of that row and that row the only one within its gate, the row is not in an
    # entry region and the row's camera does not still hold the person with a lost track. Otherwise a new person
    # is created, and it and the refused candidates are marked identity-uncertain (FusedFrame.uncertain_ids).
    reacquire_after_s: float = 0.4
    reacquire_speed_mps: float = 1.5
    # Floor rectangles (x0, y0, x1, y1) where people enter and leave the floor (the entrance zones): someone new
    # is always plausible there, so a row there never re-acquires a person unseen for reacquire_after_s.
    entry_regions_m: tuple[tuple[float, float, float, float], ...] = ()
    # A person last placed in an entry region is no longer reported once unseen for this long, even while an edge
    # holds them (they walked out; they are kept for re-acquisition all the same).
    exit_end_after_s: float = 0.5
    # Positions are extrapolated with the velocity for at most this long.
    max_extrapolation_s: float = 1.0
    # The floor plan's rectangle (x0, y0, x1, y1): a person extrapolated while unseen stops at its edge (people
    # leaving a camera's view at the plan's edge do not walk on through the wall); one last placed outside it is
    # not moved. None (no floor plan): unbounded.
    floor_bounds_m: tuple[float, float, float, float] | None = None
    # Maximum plausible walking speed; velocity estimates are clipped to it.
    max_speed_mps: float = 3.0
    # Frames are applied in capture-time order; a frame waits at most this long for slower cameras.
    reorder_window_us: int = 600_000
    # Frames of one camera may arrive out of order by up to this much (network jitter).
    arrival_jitter_us: int = 200_000
    # A camera silent for this long stops holding back the reorder buffer.
    camera_silence_us: int = 2_000_000
    # Two global persons closer than this, never seen together by one camera, for merge_after_s, are merged.
    merge_distance_m: float = 0.6
    merge_after_s: float = 1.0
    # ... and two closer than wide_merge_distance_m, moving alike, never seen together by one camera, for
    # wide_merge_after_s with agreeing colours (twice as long without): one person placed apart by two cameras
    # whose calibrations disagree (a lens distortion left uncorrected). 0 turns it off.
    wide_merge_distance_m: float = 1.5
    wide_merge_after_s: float = 2.0
    # Window for "camera recently observed this person" (overlap / merge checks, source_camera_ids).
    source_window_s: float = 0.5
    # (camera, local id) associations not refreshed for this long are forgotten.
    memory_ttl_s: float = 5.0
    # First global id handed out (lets a restarted server continue a site's id sequence).
    first_global_id: int = 1
    # Appearance cue (server.fusion.appearance; edges that send no descriptors leave all of this unused).
    # Each person keeps a running average of its tracks' descriptors per part; a part is known once averaged
    # over appearance_min_count descriptors. Colours agree at a histogram intersection of appearance_match and
    # above and disagree below appearance_mismatch: a row never joins a person whose colours disagree with it,
    # and a camera's local track whose new descriptor disagrees with its person while another person nearby
    # matches it clearly better (a tracker's id swap) loses its association, unless the camera's track of that
    # person matches them as well (a look-alike is no swap's other half).
    use_appearance: bool = True
    appearance_match: float = 0.7
    appearance_mismatch: float = 0.4
    appearance_min_count: int = 1
    # Metres of assignment cost per unit of colour dissimilarity (1 - similarity; unknown colours count 0.4).
    appearance_weight_m: float = 1.0
    # A person with known colours is kept for re-acquisition this long (instead of reacquire_within_s), but
    # once unseen for reacquire_within_s only a row whose colours match (appearance_match) re-acquires them.
    appearance_window_s: float = 10.0

    def validate(self) -> None:
        """Raise :class:`FusionConfigError` when a value is outside its range."""
        positives = {
            "gate_distance_m": self.gate_distance_m,
            "memory_gate_distance_m": self.memory_gate_distance_m,
            "camera_disagreement_m": self.camera_disagreement_m,
            "end_after_s": self.end_after_s,
            "max_speed_mps": self.max_speed_mps,
            "merge_distance_m": self.merge_distance_m,
            "source_window_s": self.source_window_s,
            "memory_ttl_s": self.memory_ttl_s,
            "tentative_timeout_s": self.tentative_timeout_s,
        }
        for name, value in positives.items():
            if not value > 0 or not np.isfinite(value):
                raise FusionConfigError(f"{name} must be a positive finite number, got {value!r}")
        if not 0.0 <= self.standing_gain <= 1.0:
            raise FusionConfigError(f"standing_gain must be in [0, 1], got {self.standing_gain!r}")
        for name, value in (("position_gain", self.position_gain), ("velocity_gain", self.velocity_gain)):
            if not 0.0 < value <= 1.0:
                raise FusionConfigError(f"{name} must be in (0, 1], got {value!r}")
        if self.reorder_window_us < 0 or self.camera_silence_us <= 0 or self.arrival_jitter_us < 0:
            raise FusionConfigError("reorder_window_us must be >= 0 and camera_silence_us > 0")
        for name, value in (
            ("held_max_s", self.held_max_s),
            ("join_margin_m", self.join_margin_m),
            ("swap_saving_m", self.swap_saving_m),
            ("exit_end_after_s", self.exit_end_after_s),
            ("reacquire_after_s", self.reacquire_after_s),
            ("reacquire_speed_mps", self.reacquire_speed_mps),
        ):
            if not value >= 0 or not np.isfinite(value):
                raise FusionConfigError(f"{name} must be a finite number >= 0, got {value!r}")
        if not self.reacquire_within_s >= self.end_after_s or not np.isfinite(self.reacquire_within_s):
            raise FusionConfigError(
                f"reacquire_within_s must be finite and >= end_after_s, got {self.reacquire_within_s!r}"
            )
        for region in self.entry_regions_m:
            if (
                len(region) != 4
                or not all(np.isfinite(region))
                or region[0] > region[2]
                or region[1] > region[3]
            ):
                raise FusionConfigError(
                    f"entry region {region!r} must be (x0, y0, x1, y1) with x0 <= x1, y0 <= y1"
                )
        bounds = self.floor_bounds_m
        if bounds is not None and (
            len(bounds) != 4
            or not all(np.isfinite(bounds))
            or bounds[0] >= bounds[2]
            or bounds[1] >= bounds[3]
        ):
            raise FusionConfigError(f"floor bounds {bounds!r} must be (x0, y0, x1, y1) with x0 < x1, y0 < y1")
        if not 0.0 <= self.max_skew_s <= 5.0:
            raise FusionConfigError(f"max_skew_s must be in [0, 5] seconds, got {self.max_skew_s!r}")
        if self.confirm_after_s < 0 or self.max_extrapolation_s < 0 or self.merge_after_s < 0:
            raise FusionConfigError("confirm_after_s, max_extrapolation_s and merge_after_s must be >= 0")
        if not 0.0 <= self.confident_score <= 1.0 or self.fast_confirm_after_s < 0:
            raise FusionConfigError("confident_score must be in [0, 1] and fast_confirm_after_s >= 0")
        if not 0.0 <= self.confirm_min_score <= 1.0 or self.low_score_confirm_after_s < 0:
            raise FusionConfigError("confirm_min_score must be in [0, 1] and low_score_confirm_after_s >= 0")
        if not 0.0 <= self.appearance_mismatch <= self.appearance_match <= 1.0:
            raise FusionConfigError("appearance thresholds must satisfy 0 <= mismatch <= match <= 1")
        if self.appearance_min_count < 1 or not self.appearance_weight_m >= 0:
            raise FusionConfigError("appearance_min_count must be >= 1 and appearance_weight_m >= 0")
        if not np.isfinite(self.appearance_window_s) or self.appearance_window_s < 0:
            raise FusionConfigError(
                f"appearance_window_s must be finite and >= 0, got {self.appearance_window_s!r}"
            )
        if self.confirm_min_hits < 1 or self.first_global_id < 1:
            raise FusionConfigError("confirm_min_hits and first_global_id must be >= 1")
