"""The ingest pipeline of one server process: sequence bookkeeping, hand-off of every new frame to the frame
processors (fusion + analytics, or per-camera live tracks; they push live state and write the time series), and
batched persistence of the per-camera stream state behind the acks.

Everything on the hot path (`accept`) is synchronous, in memory and O(tracks); database work happens in `flush`,
which runs every ack interval and covers all cameras at once.

`flush` is the ack barrier (docs/operations.md, "Durability"): it first makes durable, in one PostgreSQL
transaction with the stream state, everything the frame processors derived from the frames processed so far
(time-series points, analytics records: the `DurableSink`s), and only then may acks claim those frames. A frame a
processor still holds (the fusion's reorder buffer) is neither acked nor persisted as stored, so that after a
crash the edge replays it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import grpc
from asgiref.sync import sync_to_async

from server.frames import DecodedFrame
from server.ingest.models import CameraStreamState
from server.ingest.sequencing import MAX_EPOCH, Admission, SequenceWindow
from server.ingest.validation import InvalidFrameError
from server.inventory.models import Camera
from server.observability import metrics
from server.observability.metrics import RejectReason

logger = logging.getLogger(__name__)

# Windows of earlier sequence epochs kept per camera (late frames of a replaced box, a wiped spool's replays).
MAX_EARLIER_EPOCHS = 4
# Camera ids found not to exist are not looked up again for this long; at most this many are remembered.
MISSING_CAMERA_TTL_S = 5.0
MAX_MISSING_CAMERAS = 4096

_REJECT_REASONS = {
    "malformed": RejectReason.INVALID_ARGUMENT,
    "empty": RejectReason.INVALID_ARGUMENT,
    "invalid_argument": RejectReason.INVALID_ARGUMENT,
    "failed_precondition": RejectReason.OUT_OF_WINDOW,
    "oversized": RejectReason.OVERSIZED,
    "unknown_camera": RejectReason.UNKNOWN_CAMERA,
    "not_found": RejectReason.UNKNOWN_CAMERA,
    "foreign_camera": RejectReason.PERMISSION_DENIED,
}


class FrameProcessor(Protocol):
    """Receives every new (de-duplicated, valid) frame, e.g. fusion + analytics of the camera's site.

    Optional: ``async prepare(camera)`` (load configuration before the camera's first frame) and
    ``held_from(camera_id, epoch) -> int | None``, the lowest sequence of the camera's sequence epoch that the
    processor has taken but not yet applied (its results are not emitted, so the frame must not be acked)."""

    def process(self, camera: CameraRuntime, frame: DecodedFrame) -> None: ...


class Checkpoint(Protocol):
    """What a sink must make durable at one flush."""

    def commit(self) -> None:
        """Make it durable; runs in a worker thread inside the stream-state transaction. Raises when it cannot
        (the flush then fails, nothing is acked, and `abandon` is called)."""
        ...

    def abandon(self) -> None:
        """The flush failed: keep what was taken for the next one."""
        ...

    # Optional: ``settled()``, called on the event loop once the whole barrier is durable (e.g. the site worker acks
    # the bus messages whose effects it covered).


class DurableSink(Protocol):
    """Holds results derived from processed frames until the ack barrier makes them durable."""

    def checkpoint(self) -> Checkpoint | None:
        """Called on the event loop at the barrier: everything derived so far (None: nothing waits)."""
        ...


@dataclass(slots=True)
class CameraRuntime:
    camera_id: int
    site_id: int
    device_id: int | None
    window: SequenceWindow  # of the current sequence epoch
    epoch: int = 0
    # Earlier epochs' windows, oldest first, and what of each is persisted.
    earlier: dict[int, SequenceWindow] = field(default_factory=dict)
    persisted_contiguous: int = 0
    persisted_earlier: dict[int, int] = field(default_factory=dict)
    # Epochs below this were tracked once and forgotten (more than MAX_EARLIER_EPOCHS): their frames are refused.
    forgotten_epochs_below: int = 0
    epochs_started: int = 0
    frames_stored: int = 0
    frames_rejected: int = 0
    duplicates_dropped: int = 0
    track_updates_stored: int = 0
    last_capture_time_us: int = 0
    dirty: bool = False

    def window_of(self, epoch: int) -> SequenceWindow | None:
        if epoch == self.epoch:
            return self.window
        return self.earlier.get(epoch)


@dataclass(slots=True)
class IngestStats:
    frames_accepted: int = 0
    frames_duplicate: int = 0
    frames_rejected: int = 0
    track_updates: int = 0
    flushes: int = 0
    last_flush_ms: float = 0.0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    state_save_failures: int = 0
    # Cameras whose stream state the last attempt could not save (their acks are withheld), and why.
    unsaved_cameras: dict[int, str] = field(default_factory=dict)


class IngestPipeline:
    def __init__(
        self,
        *,
        processors: Sequence[FrameProcessor] = (),
        reorder_window: int = 256,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        self._processors = list(processors)
        self._sinks: list[tuple[DurableSink, bool]] = []  # (sink, commits inside the database transaction)
        self._reorder_window = reorder_window
        self._clock_us = clock_us
        self._cameras: dict[int, CameraRuntime] = {}
        self._missing: dict[int, float] = {}
        self._flush_lock = asyncio.Lock()
        self._flushes_started = 0  # barriers that took their snapshot
        self._flushes_done = 0  # the number (in that count) of the last barrier that succeeded
        self.stats = IngestStats()

    def add_processor(self, processor: FrameProcessor) -> None:
        self._processors.append(processor)

    def add_sink(self, sink: DurableSink, *, database: bool = True) -> None:
        """Make `sink` part of the ack barrier; sinks are checkpointed in the order added. A sink of another
        store (`database=False`, e.g. the time-series writer) commits first, in a thread of its own, so that
        waiting for it holds neither a transaction nor the thread Django's ORM calls share."""
        self._sinks.append((sink, database))

    # ---- camera registry -------------------------------------------------------------------------------------
    async def camera(self, camera_id: int) -> CameraRuntime | None:
        """The runtime state of a camera, loaded from the database on first use; None if it does not exist."""
        runtime = self._cameras.get(camera_id)
        if runtime is not None:
            return runtime
        missing_since = self._missing.get(camera_id)
        if missing_since is not None and time.monotonic() - missing_since < MISSING_CAMERA_TTL_S:
            return None
        runtime = await sync_to_async(self._load_camera)(camera_id)
        if runtime is None:
            self._remember_missing(camera_id)
            return None
        self._missing.pop(camera_id, None)
        for processor in self._processors:
            prepare = getattr(processor, "prepare", None)
            if prepare is not None:
                await prepare(runtime)
        return self._cameras.setdefault(camera_id, runtime)

    def _remember_missing(self, camera_id: int) -> None:
        """Remember a camera id that does not exist for MISSING_CAMERA_TTL_S, at most MAX_MISSING_CAMERAS of them: a
        box sending made-up camera ids must not grow the process's memory for ever."""
        now = time.monotonic()
        self._missing.pop(camera_id, None)
        if len(self._missing) >= MAX_MISSING_CAMERAS:
            self._missing = {cid: t for cid, t in self._missing.items() if now - t < MISSING_CAMERA_TTL_S}
            while len(self._missing) >= MAX_MISSING_CAMERAS:
                del self._missing[next(iter(self._missing))]  # the oldest: insertion order is time order
        self._missing[camera_id] = now

    def forget_camera(self, camera_id: int) -> None:
        """Drop the cached camera (its owner or site changed, or it was deleted); reloaded on next use. A save of its
        state that failed is no longer this process's to retry (nothing of it was acked): no longer reported."""
        self._cameras.pop(camera_id, None)
        self.stats.unsaved_cameras.pop(camera_id, None)

    async def reload_cameras(self, camera_ids: frozenset[int] | set[int]) -> None:
        """Drop the cached cameras that hold nothing unsaved, so that their next use loads the stream state from
        PostgreSQL: another ingest process may have advanced it since this one cached it (a box that reconnected
        there and back). Under the flush lock, so a clean camera's saved state is what it holds."""
        async with self._flush_lock:
            for camera_id in camera_ids:
                runtime = self._cameras.get(camera_id)
                if runtime is not None and not runtime.dirty:
                    del self._cameras[camera_id]

    def _load_camera(self, camera_id: int) -> CameraRuntime | None:
        row = Camera.objects.filter(pk=camera_id).values("id", "site_id", "device_id").first()
        if row is None:
            return None
        # Created on the first flush, so that merely looking a camera up (e.g. another device's) stores nothing.
        state = CameraStreamState.objects.filter(camera_id=camera_id).first() or CameraStreamState(
            camera_id=camera_id
        )
        window = self._window(
            state.highest_contiguous_sequence,
            state.pending_sequences,
            state.sequences_skipped,
            state.skipped_ranges,
            state.reference_time_us or state.last_capture_time_us,
        )
        earlier = {
            int(e["epoch"]): self._window(
                e["highest_contiguous"],
                e["pending"],
                e["skipped"],
                e["skipped_ranges"],
                e["reference_time_us"],
            )
            for e in state.earlier_epochs
        }
        return CameraRuntime(
            camera_id=row["id"],
            site_id=row["site_id"],
            device_id=row["device_id"],
            window=window,
            epoch=state.sequence_epoch,
            earlier=earlier,
            persisted_contiguous=state.highest_contiguous_sequence,
            persisted_earlier={epoch: w.highest_contiguous for epoch, w in earlier.items()},
            forgotten_epochs_below=state.forgotten_epochs_below,
            epochs_started=state.epochs_started,
            frames_stored=state.frames_stored,
            frames_rejected=state.frames_rejected,
            duplicates_dropped=state.duplicates_dropped,
            track_updates_stored=state.track_updates_stored,
            last_capture_time_us=state.last_capture_time_us,
        )

    def _window(
        self, contiguous: int, pending: object, skipped: int, ranges: object, reference_time_us: int
    ) -> SequenceWindow:
        return SequenceWindow(
            reorder_window=self._reorder_window,
            highest_contiguous=int(contiguous),
            pending={int(s) for s in pending},  # type: ignore[attr-defined]
            skipped_total=int(skipped),
            skipped_ranges=[(int(a), int(b)) for a, b in ranges],  # type: ignore[attr-defined]
            reference_time_us=int(reference_time_us),
        )

    def _epoch_window(self, camera: CameraRuntime, epoch: int) -> SequenceWindow:
        """The window of `epoch`; a new epoch (a new spool: a replaced box, a wiped spool) starts a new window and the
        current one is kept among the earlier ones. Raises InvalidFrameError for an epoch that cannot be taken."""
        window = camera.window_of(epoch)
        if window is not None:
            return window
        if epoch < 0 or epoch > MAX_EPOCH:
            raise InvalidFrameError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"sequence_epoch {epoch} is outside the legal range 0 .. 2^63-1",
            )
        current = camera.window
        if (
            current.highest_contiguous == 0
            and not current.pending
            and camera.epoch == 0
            and not camera.earlier
        ):
            camera.epoch = epoch  # nothing seen yet: the camera's first epoch
            current.reference_time_us = max(current.reference_time_us, epoch)
            camera.dirty = True
            return current
        too_old = (
            epoch < camera.epoch and len(camera.earlier) >= MAX_EARLIER_EPOCHS and epoch < min(camera.earlier)
        )
        if epoch < camera.forgotten_epochs_below or too_old:
            raise InvalidFrameError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"sequence epoch {epoch} of camera {camera.camera_id} is older than the {MAX_EARLIER_EPOCHS + 1} "
                "epochs the server tracks (a spool replaced long ago): its frames cannot be told from replays",
            )
        fresh = SequenceWindow(reorder_window=self._reorder_window, reference_time_us=epoch)
        camera.epochs_started += 1
        camera.dirty = True
        if epoch < camera.epoch:
            # An earlier spool not seen before (its box is late): tracked beside the current one.
            camera.earlier[epoch] = fresh
            camera.persisted_earlier[epoch] = 0
        else:
            # A new spool: its sequences started at 1, no earlier than `epoch` (its creation time).
            logger.info(
                "camera %d: new sequence epoch %d (a new spool: replaced box or wiped spool); epoch %d ended at %d",
                camera.camera_id,
                epoch,
                camera.epoch,
                current.highest_contiguous,
            )
            camera.earlier[camera.epoch] = current
            camera.persisted_earlier[camera.epoch] = camera.persisted_contiguous
            camera.epoch = epoch
            camera.window = fresh
            camera.persisted_contiguous = 0
        camera.earlier = dict(sorted(camera.earlier.items()))
        while len(camera.earlier) > MAX_EARLIER_EPOCHS:
            oldest = next(iter(camera.earlier))
            del camera.earlier[oldest]
            camera.persisted_earlier.pop(oldest, None)
            camera.forgotten_epochs_below = max(camera.forgotten_epochs_below, oldest + 1)
        return fresh

    # ---- hot path ----------------------------------------------------------------------------------------------
    def accept(self, camera: CameraRuntime, frame: DecodedFrame) -> Admission:
        """Store a valid frame once. Returns DUPLICATE for a replay of a sequence already stored; raises
        InvalidFrameError (nothing stored, the caller rejects the frame) for a sequence the window cannot take."""
        window = camera.window_of(frame.sequence_epoch)
        if window is None:  # checked against the window a new epoch would get before one is begun for it
            new = SequenceWindow(reorder_window=self._reorder_window, reference_time_us=frame.sequence_epoch)
            problem = new.check(frame.sequence, frame.capture_time_us)
            if problem is not None:
                raise InvalidFrameError(grpc.StatusCode.INVALID_ARGUMENT, problem)
            window = self._epoch_window(camera, frame.sequence_epoch)
        problem = window.check(frame.sequence, frame.capture_time_us)
        if problem is not None:
            raise InvalidFrameError(grpc.StatusCode.INVALID_ARGUMENT, problem)
        admission = window.admit(frame.sequence)
        if admission is Admission.DUPLICATE:
            camera.duplicates_dropped += 1
            camera.dirty = True
            self.stats.frames_duplicate += 1
            return admission
        for processor in self._processors:
            processor.process(camera, frame)
        window.mark_done(frame.sequence, frame.capture_time_us)
        camera.frames_stored += 1
        camera.track_updates_stored += frame.track_count
        camera.last_capture_time_us = max(camera.last_capture_time_us, frame.capture_time_us)
        camera.dirty = True
        self.stats.frames_accepted += 1
        self.stats.track_updates += frame.track_count
        return admission

    def reject(
        self, camera: CameraRuntime | None, sequence: int, reason_code: str, *, epoch: int = 0
    ) -> None:
        """Count a frame that will never be stored. A legal sequence of a tracked epoch is done, so acks can move past
        it; an illegal one (out of range, too far ahead, an untracked epoch) touches no window, and a refused frame
        never begins an epoch: corrupt frames claiming new epochs would push the box's current one out."""
        self.stats.frames_rejected += 1
        self.stats.rejected_by_reason[reason_code] = self.stats.rejected_by_reason.get(reason_code, 0) + 1
        metrics.record_frame_rejected(_REJECT_REASONS.get(reason_code, RejectReason.INVALID_ARGUMENT))
        if camera is None:
            return
        camera.frames_rejected += 1
        camera.dirty = True
        window = camera.window_of(epoch)
        if window is None:
            return
        if window.check(sequence) is None and window.admit(sequence) is Admission.NEW:
            window.mark_done(sequence)

    # ---- persistence behind the acks -----------------------------------------------------------------------------
    def acked_sequences(self, camera_ids: frozenset[int] | set[int]) -> dict[tuple[int, int], int]:
        """Highest contiguous sequence persisted, per (camera, sequence epoch) of the cameras of `camera_ids` that
        this process has seen: the current epoch and the earlier ones still tracked."""
        acked: dict[tuple[int, int], int] = {}
        for camera_id in camera_ids:
            runtime = self._cameras.get(camera_id)
            if runtime is None:
                continue
            for epoch, contiguous in runtime.persisted_earlier.items():
                acked[(camera_id, epoch)] = contiguous
            acked[(camera_id, runtime.epoch)] = runtime.persisted_contiguous
        return acked

    def state_save_problem(self) -> str | None:
        """Why the stream state of some cameras cannot be saved now (their acks are withheld), or None."""
        # Only cameras still cached: one forgotten while its failed save was in flight is not retried here.
        unsaved = {cid: error for cid, error in self.stats.unsaved_cameras.items() if cid in self._cameras}
        if not unsaved:
            return None
        camera_id, error = next(iter(unsaved.items()))
        return (
            f"stream state of {len(unsaved)} camera(s) cannot be saved, their acks are withheld "
            f"(camera {camera_id}: {error})"
        )

    async def flush(self) -> None:
        """The ack barrier: make every sink durable and persist the state of every camera that changed, in one
        transaction; afterwards acks may claim the frames processed before the call.

        A camera whose state cannot be saved stays dirty and unacked (retried at the next flush), is counted, logged
        and reported by the health check; it never holds back the other cameras' saves and acks.

        Callers that arrive while a barrier runs share the next one: every stream's ack loop calls this, and one
        barrier per interval serves them all (each one writes the open heat-map buckets, for instance).
        """
        needed = self._flushes_started + 1  # a barrier whose snapshot is taken from now on
        async with self._flush_lock:
            if self._flushes_done >= needed:
                return
            self._flushes_started += 1
            this_flush = self._flushes_started
            dirty = [runtime for runtime in self._cameras.values() if runtime.dirty]
            snapshot = []
            for runtime in dirty:
                values, holds = self._durable_values(runtime)
                runtime.dirty = holds  # frames a processor still holds: a later flush saves them
                snapshot.append((runtime, values))
            # Taken in the same loop step as the window snapshot: they cover exactly the frames processed so far.
            taken = [(c, database) for sink, database in self._sinks if (c := sink.checkpoint()) is not None]
            checkpoints = [c for c, _ in taken]
            if not snapshot and not checkpoints:
                self._flushes_done = this_flush
                return
            started = time.perf_counter()
            try:
                for checkpoint, database in taken:
                    if not database:
                        await asyncio.to_thread(checkpoint.commit)
                failures, deleted = await sync_to_async(_persist_durably)(
                    [(r.camera_id, v) for r, v in snapshot], [c for c, db in taken if db]
                )
            except BaseException:
                for runtime in dirty:
                    runtime.dirty = True
                for checkpoint in checkpoints:
                    checkpoint.abandon()
                raise
            for (
                camera_id
            ) in deleted:  # its frames are refused from now on (NOT_FOUND); nothing to save or ack
                logger.info("camera %d was deleted: its stream state is no longer saved", camera_id)
                self._cameras.pop(camera_id, None)
                self.stats.unsaved_cameras.pop(camera_id, None)
            for runtime, values in snapshot:
                if runtime.camera_id in deleted:
                    continue
                if runtime.camera_id in failures:
                    runtime.dirty = True
                    continue
                if self.stats.unsaved_cameras.pop(runtime.camera_id, None) is not None:
                    logger.info("stream state of camera %d saved again; its acks resume", runtime.camera_id)
                _mark_persisted(runtime, values)
            for camera_id, error in failures.items():
                self.stats.state_save_failures += 1
                metrics.record_state_save_failure()
                if (
                    camera_id not in self.stats.unsaved_cameras
                ):  # logged once per episode, retried every flush
                    logger.error(
                        "saving the stream state of camera %d failed; its acks are withheld until a save "
                        "succeeds: %s",
                        camera_id,
                        error,
                    )
                self.stats.unsaved_cameras[camera_id] = error
            for checkpoint in checkpoints:  # optional: what a sink does once its checkpoint is durable
                settled = getattr(checkpoint, "settled", None)
                if settled is not None:
                    settled()
            self._flushes_done = this_flush
            self.stats.flushes += 1
            self.stats.last_flush_ms = (time.perf_counter() - started) * 1000

    def _durable_values(self, runtime: CameraRuntime) -> tuple[dict[str, object], bool]:
        """The camera's state to save, less any frame a processor still holds (per epoch: the highest contiguous
        sequence below it, the pending sequences below it); True when a held frame was left out."""
        values = _state_values(runtime)
        holders = [h for p in self._processors if (h := getattr(p, "held_from", None)) is not None]
        if not holders:
            return values, False
        holds = False

        def first_held(epoch: int) -> int | None:
            found = [s for h in holders if (s := h(runtime.camera_id, epoch)) is not None]
            return min(found) if found else None

        first = first_held(runtime.epoch)
        if first is not None:
            contiguous = int(values["highest_contiguous_sequence"])  # type: ignore[call-overload]
            pending = [int(x) for x in values["pending_sequences"]]  # type: ignore[attr-defined]
            if first <= contiguous or any(x >= first for x in pending):
                values["highest_contiguous_sequence"] = min(contiguous, first - 1)
                values["pending_sequences"] = [x for x in pending if x < first]
                holds = True
        for entry in values["earlier_epochs"]:  # type: ignore[attr-defined]
            first = first_held(int(entry["epoch"]))
            if first is not None and (
                first <= entry["highest_contiguous"] or any(x >= first for x in entry["pending"])
            ):
                entry["highest_contiguous"] = min(entry["highest_contiguous"], first - 1)
                entry["pending"] = [x for x in entry["pending"] if x < first]
                holds = True
        return values, holds


def _persist_durably(
    rows: list[tuple[int, dict[str, object]]], checkpoints: Sequence[Checkpoint]
) -> tuple[dict[int, str], set[int]]:
    """One transaction: the sinks' checkpoints, then the stream state of every camera (see `_save_states`).
    Returns the cameras whose state could not be saved and those deleted; raises when a checkpoint cannot be made
    durable."""
    from django.db import close_old_connections, transaction

    try:
        with transaction.atomic():
            for checkpoint in checkpoints:
                checkpoint.commit()
            return _save_states(rows)
    except Exception:
        close_old_connections()  # a connection the error left unusable is replaced, not reused for ever
        raise


def _mark_persisted(runtime: CameraRuntime, values: dict[str, object]) -> None:
    """Acks may now claim what `values` (a snapshot taken before the save) holds, per epoch: a frame of a new epoch
    may have arrived while the save ran."""
    saved = {int(e["epoch"]): int(e["highest_contiguous"]) for e in values["earlier_epochs"]}  # type: ignore[attr-defined]
    saved[int(values["sequence_epoch"])] = int(values["highest_contiguous_sequence"])  # type: ignore[call-overload]
    for epoch, contiguous in saved.items():
        if epoch == runtime.epoch:
            runtime.persisted_contiguous = contiguous
        elif epoch in runtime.earlier:
            runtime.persisted_earlier[epoch] = contiguous


def _window_values(window: SequenceWindow) -> dict[str, object]:
    return {
        "highest_contiguous": window.highest_contiguous,
        "pending": sorted(window.pending),
        "skipped": window.skipped_total,
        "skipped_ranges": [list(r) for r in window.skipped_ranges],
        "reference_time_us": window.reference_time_us,
    }


def _state_values(runtime: CameraRuntime) -> dict[str, object]:
    window = runtime.window
    return dict(
        sequence_epoch=runtime.epoch,
        highest_contiguous_sequence=window.highest_contiguous,
        pending_sequences=sorted(window.pending),
        skipped_ranges=[list(r) for r in window.skipped_ranges],
        reference_time_us=window.reference_time_us,
        earlier_epochs=[{"epoch": epoch, **_window_values(w)} for epoch, w in runtime.earlier.items()],
        forgotten_epochs_below=runtime.forgotten_epochs_below,
        epochs_started=runtime.epochs_started,
        frames_stored=runtime.frames_stored,
        frames_rejected=runtime.frames_rejected,
        duplicates_dropped=runtime.duplicates_dropped,
        sequences_skipped=window.skipped_total,
        track_updates_stored=runtime.track_updates_stored,
        last_capture_time_us=runtime.last_capture_time_us,
    )


def _save_states(rows: list[tuple[int, dict[str, object]]]) -> tuple[dict[int, str], set[int]]:
    """Save every row (inside the caller's transaction). Returns the cameras whose row could not be saved, with the
    error, and the cameras deleted meanwhile (their row is not written again; a deferred foreign key would only
    fail at commit, with every other row). All rows in one savepoint; if that fails, each row in its own, so that
    one bad row does not hold back the others; on PostgreSQL the deferred checks run inside each savepoint."""
    from django.db import connection, transaction

    def save(part: list[tuple[int, dict[str, object]]]) -> None:
        with transaction.atomic():
            for camera_id, values in part:
                CameraStreamState.objects.update_or_create(camera_id=camera_id, defaults=values)
            if connection.vendor == "postgresql":
                connection.check_constraints()

    existing = set(Camera.objects.filter(pk__in=[c for c, _ in rows]).values_list("pk", flat=True))
    deleted = {c for c, _ in rows if c not in existing}
    rows = [(c, v) for c, v in rows if c in existing]
    failures: dict[int, str] = {}
    try:
        save(rows)
        return failures, deleted
    except Exception as err:  # find the bad row(s) below and save the others
        logger.debug("saving %d stream states at once failed (%s); saving them one by one", len(rows), err)
    for camera_id, values in rows:
        try:
            save([(camera_id, values)])
        except Exception as err:
            failures[camera_id] = f"{type(err).__name__}: {err}"
    return failures, deleted
