"""Per-camera sequence bookkeeping: de-duplication of replays, out-of-order arrival within a window, and the
highest contiguous sequence that an ack may claim.

Pure, no I/O. A sequence is *done* once it is stored or rejected for good; acks cover done sequences only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Admission(enum.Enum):
    NEW = "new"
    DUPLICATE = "duplicate"


@dataclass(slots=True)
class SequenceWindow:
    """Tracks which sequences of one camera are done.

    `reorder_window` bounds how far ahead of the contiguous prefix a sequence may arrive; if a gap stays open beyond
    it (frames the edge evicted from a full spool never arrive), the prefix jumps over the gap and the skipped
    sequences are counted.
    """

    reorder_window: int
    highest_contiguous: int = 0
    pending: set[int] = field(default_factory=set)
    skipped_total: int = 0

    def admit(self, sequence: int) -> Admission:
        if sequence <= self.highest_contiguous or sequence in self.pending:
            return Admission.DUPLICATE
        return Admission.NEW

    def mark_done(self, sequence: int) -> None:
        if sequence <= self.highest_contiguous:
            return
        self.pending.add(sequence)
        if sequence - self.highest_contiguous > self.reorder_window:
            # Give up on the oldest gap(s): whatever should have filled them is gone.
            new_floor = sequence - self.reorder_window
            skipped = new_floor - self.highest_contiguous - sum(1 for s in self.pending if s <= new_floor)
            self.skipped_total += max(skipped, 0)
            self.pending = {s for s in self.pending if s > new_floor}
            self.highest_contiguous = new_floor
        while self.highest_contiguous + 1 in self.pending:
            self.highest_contiguous += 1
            self.pending.discard(self.highest_contiguous)
