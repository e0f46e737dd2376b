"""Per-camera sequence bookkeeping: de-duplication of replays, out-of-order arrival within a window, the highest
contiguous sequence that an ack may claim, and the legal range of sequences (docs/operations.md, "Ack semantics").

Pure, no I/O. A sequence is *done* once it is stored or rejected for good; acks cover done sequences only. One
window covers one sequence epoch of one camera (a spool of one box); a new epoch gets a new window.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# Sequences and epochs are stored as PostgreSQL bigint: 1 .. 2^63-1 (0 is "none yet").
MAX_SEQUENCE = 2**63 - 1
MAX_EPOCH = 2**63 - 1
# How far ahead of the contiguous prefix a sequence may always be, whatever its capture time: covers frames the edge
# evicted from a full spool while its clock was stepped back, and out-of-order arrival. Beyond it, a sequence must be
# explained by the capture time elapsed since the window's latest frame at the highest legal analysis rate.
MAX_SEQUENCE_JUMP = 65_536
MAX_ANALYSIS_FPS = 120
# Gaps given up on that are remembered, so that a frame arriving late for one is stored rather than taken for a
# replay; older gaps are forgotten (a frame of theirs then counts as a duplicate).
MAX_SKIPPED_RANGES = 32


class Admission(enum.Enum):
    NEW = "new"
    DUPLICATE = "duplicate"


@dataclass(slots=True)
class SequenceWindow:
    """Tracks which sequences of one camera and epoch are done.

    `reorder_window` bounds how far ahead of the contiguous prefix a sequence may arrive and wait for the gap before
    it to fill; if a gap stays open beyond it (frames the edge evicted from a full spool never arrive), the prefix
    jumps over the gap and the skipped sequences are counted (and remembered in `skipped_ranges`, inclusive).
    `reference_time_us` is the latest capture time of a done sequence (or the epoch's start): the clock that a large
    jump ahead must be consistent with.
    """

    reorder_window: int
    highest_contiguous: int = 0
    pending: set[int] = field(default_factory=set)
    skipped_total: int = 0
    skipped_ranges: list[tuple[int, int]] = field(default_factory=list)
    reference_time_us: int = 0

    def max_ahead(self, capture_time_us: int | None = None) -> int:
        """How far ahead of the contiguous prefix a sequence captured at `capture_time_us` may be."""
        allowed = max(MAX_SEQUENCE_JUMP, self.reorder_window)
        if capture_time_us is not None and self.reference_time_us > 0:
            elapsed_us = capture_time_us - self.reference_time_us
            if elapsed_us > 0:
                allowed += elapsed_us * MAX_ANALYSIS_FPS // 1_000_000
        return allowed

    def check(self, sequence: int, capture_time_us: int | None = None) -> str | None:
        """Why `sequence` can never be accepted into this window, or None if it is legal."""
        if sequence < 1 or sequence > MAX_SEQUENCE:
            return f"sequence {sequence} is outside the legal range 1 .. 2^63-1"
        ahead = sequence - self.highest_contiguous
        allowed = self.max_ahead(capture_time_us)
        if ahead > allowed:
            return (
                f"sequence {sequence} is {ahead} ahead of the camera's contiguous prefix {self.highest_contiguous}; "
                f"at most {allowed} is allowed here ({MAX_SEQUENCE_JUMP} plus {MAX_ANALYSIS_FPS} per second of "
                "capture time since the latest stored frame): the box's sequence counter is corrupt"
            )
        return None

    def admit(self, sequence: int) -> Admission:
        if sequence in self.pending:
            return Admission.DUPLICATE
        if sequence <= self.highest_contiguous:
            return Admission.NEW if self._in_skipped(sequence) else Admission.DUPLICATE
        return Admission.NEW

    def mark_done(self, sequence: int, capture_time_us: int | None = None) -> None:
        """Record `sequence` as done; call only for a sequence that `check` accepts."""
        first = self.highest_contiguous == 0 and not self.pending
        if capture_time_us is not None and (capture_time_us > self.reference_time_us or first):
            self.reference_time_us = (
                capture_time_us  # the first frame replaces an epoch start from a wrong clock
            )
        if sequence <= self.highest_contiguous:
            if self._in_skipped(sequence):  # a late frame of a gap given up on: no longer skipped
                self._unskip(sequence)
            return
        self.pending.add(sequence)
        if sequence - self.highest_contiguous > self.reorder_window:
            # Give up on the oldest gap(s): whatever should have filled them is gone.
            new_floor = sequence - self.reorder_window
            done_below = sorted(s for s in self.pending if s <= new_floor)
            start = self.highest_contiguous + 1
            for done in [*done_below, new_floor + 1]:
                if done > start:
                    self._skip(start, min(done - 1, new_floor))
                start = done + 1
            self.pending = {s for s in self.pending if s > new_floor}
            self.highest_contiguous = new_floor
        while self.highest_contiguous + 1 in self.pending:
            self.highest_contiguous += 1
            self.pending.discard(self.highest_contiguous)

    def _skip(self, first: int, last: int) -> None:
        self.skipped_total += last - first + 1
        if (
            self.skipped_ranges and self.skipped_ranges[-1][1] == first - 1
        ):  # the floor moving on over one gap
            self.skipped_ranges[-1] = (self.skipped_ranges[-1][0], last)
            return
        self.skipped_ranges.append((first, last))
        del self.skipped_ranges[:-MAX_SKIPPED_RANGES]

    def _in_skipped(self, sequence: int) -> bool:
        return any(first <= sequence <= last for first, last in self.skipped_ranges)

    def _unskip(self, sequence: int) -> None:
        for index, (first, last) in enumerate(self.skipped_ranges):
            if first <= sequence <= last:
                parts = [(a, b) for a, b in ((first, sequence - 1), (sequence + 1, last)) if a <= b]
                self.skipped_ranges[index : index + 1] = parts
                del self.skipped_ranges[:-MAX_SKIPPED_RANGES]
                self.skipped_total -= 1
                return
