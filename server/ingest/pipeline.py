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

from asgiref.sync import sync_to_async

from server.ingest.models import CameraStreamState
from server.ingest.sequencing import Admission, SequenceWindow
from server.ingest.validation import DecodedFrame
from server.inventory.models import Camera
from server.observability import metrics
from server.observability.metrics import RejectReason
from server.timeseries.types import Point

logger = logging.getLogger(__name__)

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


class PointSink(Protocol):
    def write(self, points: Sequence[Point]) -> None: ...


class FrameProcessor(Protocol):
    """Receives every new (de-duplicated, valid) frame, e.g. fusion + analytics of the camera's site.

    Optional: ``async prepare(camera)`` (load configuration before the camera's first frame) and
    ``held_from(camera_id) -> int | None``, the lowest sequence of the camera the processor has taken but not
    yet applied (its results are not emitted, so the frame must not be acked)."""

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
    window: SequenceWindow
    persisted_contiguous: int = 0
    frames_stored: int = 0
    frames_rejected: int = 0
    duplicates_dropped: int = 0
    track_updates_stored: int = 0
    last_capture_time_us: int = 0
    dirty: bool = False


@dataclass(slots=True)
class IngestStats:
    frames_accepted: int = 0
    frames_duplicate: int = 0
    frames_rejected: int = 0
    track_updates: int = 0
    flushes: int = 0
    last_flush_ms: float = 0.0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)


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
        if missing_since is not None and time.monotonic() - missing_since < 5.0:
            return None
        runtime = await sync_to_async(self._load_camera)(camera_id)
        if runtime is None:
            self._missing[camera_id] = time.monotonic()
            return None
        self._missing.pop(camera_id, None)
        for processor in self._processors:
            prepare = getattr(processor, "prepare", None)
            if prepare is not None:
                await prepare(runtime)
        return self._cameras.setdefault(camera_id, runtime)

    def forget_camera(self, camera_id: int) -> None:
        """Drop the cached camera (its owner or site changed); reloaded on next use."""
        self._cameras.pop(camera_id, None)

    def _load_camera(self, camera_id: int) -> CameraRuntime | None:
        row = Camera.objects.filter(pk=camera_id).values("id", "site_id", "device_id").first()
        if row is None:
            return None
        # Created on the first flush, so that merely looking a camera up (e.g. another device's) stores nothing.
        state = CameraStreamState.objects.filter(camera_id=camera_id).first() or CameraStreamState(
            camera_id=camera_id
        )
        window = SequenceWindow(
            reorder_window=self._reorder_window,
            highest_contiguous=state.highest_contiguous_sequence,
            pending={int(s) for s in state.pending_sequences},
            skipped_total=state.sequences_skipped,
        )
        return CameraRuntime(
            camera_id=row["id"],
            site_id=row["site_id"],
            device_id=row["device_id"],
            window=window,
            persisted_contiguous=state.highest_contiguous_sequence,
            frames_stored=state.frames_stored,
            frames_rejected=state.frames_rejected,
            duplicates_dropped=state.duplicates_dropped,
            track_updates_stored=state.track_updates_stored,
            last_capture_time_us=state.last_capture_time_us,
        )

    # ---- hot path ----------------------------------------------------------------------------------------------
    def accept(self, camera: CameraRuntime, frame: DecodedFrame) -> Admission:
        """Store a valid frame once. Returns DUPLICATE for a replay of a sequence already stored."""
        admission = camera.window.admit(frame.sequence)
        if admission is Admission.DUPLICATE:
            camera.duplicates_dropped += 1
            camera.dirty = True
            self.stats.frames_duplicate += 1
            return admission
        for processor in self._processors:
            processor.process(camera, frame)
        camera.window.mark_done(frame.sequence)
        camera.frames_stored += 1
        camera.track_updates_stored += frame.track_count
        camera.last_capture_time_us = max(camera.last_capture_time_us, frame.capture_time_us)
        camera.dirty = True
        self.stats.frames_accepted += 1
        self.stats.track_updates += frame.track_count
        return admission

    def reject(self, camera: CameraRuntime | None, sequence: int, reason_code: str) -> None:
        """Count a frame that will never be stored; its sequence is done, so acks can move past it."""
        self.stats.frames_rejected += 1
        self.stats.rejected_by_reason[reason_code] = self.stats.rejected_by_reason.get(reason_code, 0) + 1
        metrics.record_frame_rejected(_REJECT_REASONS.get(reason_code, RejectReason.INVALID_ARGUMENT))
        if camera is not None and sequence > 0:
            camera.window.mark_done(sequence)
            camera.frames_rejected += 1
            camera.dirty = True

    # ---- persistence behind the acks -----------------------------------------------------------------------------
    def acked_sequences(self, camera_ids: frozenset[int] | set[int]) -> dict[int, int]:
        """Highest contiguous sequence persisted, per camera of `camera_ids` that this process has seen."""
        return {
            camera_id: runtime.persisted_contiguous
            for camera_id in camera_ids
            if (runtime := self._cameras.get(camera_id)) is not None
        }

    async def flush(self) -> None:
        """The ack barrier: make every sink durable and persist the state of every camera that changed, in one
        transaction; afterwards acks may claim the frames processed before the call.

        Callers that arrive while a barrier runs share the next one: every stream's ack loop calls this, and one
        barrier per interval serves them all (each one writes the open heat-map buckets, for instance)."""
        needed = self._flushes_started + 1  # a barrier whose snapshot is taken from now on
        async with self._flush_lock:
            if self._flushes_done >= needed:
                return
            self._flushes_started += 1
            this_flush = self._flushes_started
            dirty = [runtime for runtime in self._cameras.values() if runtime.dirty]
            snapshot = []
            for runtime in dirty:
                contiguous, pending = self._durable_window(runtime)
                runtime.dirty = (
                    contiguous < runtime.window.highest_contiguous
                )  # held frames: persist them later
                snapshot.append(
                    (
                        runtime,
                        contiguous,
                        dict(
                            highest_contiguous_sequence=contiguous,
                            pending_sequences=pending,
                            frames_stored=runtime.frames_stored,
                            frames_rejected=runtime.frames_rejected,
                            duplicates_dropped=runtime.duplicates_dropped,
                            sequences_skipped=runtime.window.skipped_total,
                            track_updates_stored=runtime.track_updates_stored,
                            last_capture_time_us=runtime.last_capture_time_us,
                        ),
                    )
                )
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
                await sync_to_async(_persist_durably)(
                    [(r.camera_id, values) for r, _, values in snapshot], [c for c, db in taken if db]
                )
            except Exception:
                for runtime in dirty:
                    runtime.dirty = True
                for checkpoint in checkpoints:
                    checkpoint.abandon()
                raise
            for runtime, contiguous, _ in snapshot:
                runtime.persisted_contiguous = contiguous
            self._flushes_done = this_flush
            self.stats.flushes += 1
            self.stats.last_flush_ms = (time.perf_counter() - started) * 1000

    def _durable_window(self, runtime: CameraRuntime) -> tuple[int, list[int]]:
        """The camera's highest contiguous sequence and pending sequences, less any frame a processor holds."""
        held = [
            h
            for processor in self._processors
            if (held_from := getattr(processor, "held_from", None)) is not None
            and (h := held_from(runtime.camera_id)) is not None
        ]
        contiguous, pending = runtime.window.highest_contiguous, sorted(runtime.window.pending)
        if held:
            first_held = min(held)
            contiguous = min(contiguous, first_held - 1)
            pending = [s for s in pending if s < first_held]
        return contiguous, pending


def _persist_durably(rows: list[tuple[int, dict[str, object]]], checkpoints: Sequence[Checkpoint]) -> None:
    from django.db import transaction

    with transaction.atomic():
        for checkpoint in checkpoints:
            checkpoint.commit()
        _persist_states(rows)


def _persist_states(rows: list[tuple[int, dict[str, object]]]) -> None:
    from django.db import transaction

    with transaction.atomic():
        for camera_id, values in rows:
            CameraStreamState.objects.update_or_create(camera_id=camera_id, defaults=values)
