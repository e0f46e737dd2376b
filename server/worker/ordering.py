"""Per-site camera-sequence order of what a worker hands to the fusion.

The stream of a site is not always in each camera's sequence order: a gateway whose NATS connection broke sends
the publishes it buffered meanwhile as soon as it reconnects, and the ones lost with the old connection only
when they are due for a republish (a second later, or after a stream leader election: 503), so newer frames of a
camera are stored before older ones; deliveries lost with a NATS node come back after the ack wait. The fusion's
reorder buffer waits a fraction of a second for a late frame and drops anything older than what it released: the
frame is acked and its effect (heat, visits) lost.

So the worker orders each site's messages by camera sequence before the fusion: a message whose camera sequence
is ahead of the next one expected (a gap) starts a *hold*: it and every later message of the site wait (in
arrival order, so that the site's cameras stay in time order) until the frames of the gap arrive, or until they are
given up on: the edge never sent those frames, or the gateway refused them. A gap is given up once `hold_s` passed
since the hold began and, for a worker that reports its reads (`stream_read`), once the site's stream was read to
its end at least `hold_s` after the hold began: a worker that fell behind (a loaded host, a backlog after a fault)
has the gap's frames still in the stream behind the ones it holds, and giving up on them after `hold_s` of its own
slow processing dropped them as late when they came (their heat lost). A hold of more than `MAX_HELD` messages is
given up on whatever the stream holds (memory). A message
of a sequence this worker already applied (stored twice in the stream) is a duplicate: dropped before the fusion
and counted as one, not as a late frame. A held message is neither claimed in the site's progress nor acked.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_GIVEN_UP = (
    32  # per camera: the gaps given up on remembered (a frame of one arriving later is no duplicate)
)
MAX_HELD = 50_000  # messages held behind one gap at most (the hold is given up on beyond)


@dataclass(slots=True)
class _Camera:
    first: int  # the first sequence applied here (below it: unknown, the predecessor's)
    next: int  # the next sequence expected
    given_up: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=MAX_GIVEN_UP))

    def applied_here(self, sequence: int) -> bool:
        return self.first <= sequence < self.next and not any(lo <= sequence < hi for lo, hi in self.given_up)


@dataclass(slots=True)
class Released(Generic[T]):
    item: T
    duplicate: bool


class SiteOrder(Generic[T]):
    """The camera-sequence order of one site's messages (see the module docstring). `offer` takes one message and
    returns those now free to apply, in order; `expire` gives up on a gap held longer than `hold_s` (with
    `by_stream`: and read past in the stream, `stream_read`)."""

    def __init__(
        self, *, hold_s: float, clock: Callable[[], float] = time.monotonic, by_stream: bool = False
    ) -> None:
        self.hold_s = hold_s
        self._clock = clock
        self._by_stream = by_stream
        self._read_at: float | None = None  # when the site's stream was last read to its end
        self._cameras: dict[tuple[int, int], _Camera] = {}
        self._held: deque[tuple[tuple[int, int], int, T]] = deque()
        self._held_since: float | None = None
        self._held_of: dict[tuple[int, int], int] = {}  # per camera: its messages held
        self.duplicates = 0
        self.gaps_held = 0
        self.gaps_given_up = 0
        self.frames_given_up = 0

    @property
    def holding(self) -> int:
        """Messages waiting for a gap to be filled."""
        return len(self._held)

    def expected(self, camera_id: int, epoch: int) -> int | None:
        """The next sequence of the camera expected here (None: none of it applied yet)."""
        camera = self._cameras.get((camera_id, epoch))
        return camera.next if camera is not None else None

    def seed(self, camera_id: int, epoch: int, next_sequence: int) -> None:
        """Where the camera's sequences stood before this worker (a predecessor applied, durably, those below
        `next_sequence`): a later frame of it that comes first is held for the ones between, as here."""
        key = (camera_id, epoch)
        if key not in self._cameras:
            self._cameras[key] = _Camera(first=next_sequence, next=next_sequence)

    def offer(self, camera_id: int, epoch: int, sequence: int, item: T) -> tuple[list[Released[T]], bool]:
        """One message; returns (the messages now free to apply, in order; whether it started a hold)."""
        key = (camera_id, epoch)
        out: list[Released[T]] = []
        if self._held:
            camera = self._cameras.get(key)
            if (
                camera is not None
                and sequence == camera.next
                and self._held_of.get(key)
                and any(k == key and s == sequence for k, s, _ in self._held)
            ):
                # A second copy of a frame held behind the gap (stored twice): the copy waiting is the one
                # applied. Released as the frame, it made the camera's sequence durable past the copy waiting, and
                # a next owner (a stop, a release, a crash) fused that copy again as an older frame.
                self.duplicates += 1
                out.append(Released(item, duplicate=True))
                return out, False
            if camera is not None and (
                sequence < camera.next or (sequence == camera.next and self._held_of.get(key))
            ):
                self._take(key, sequence, item, out)  # fills a gap, or older: not held back
                self._drain(out)
            else:  # later than the hold: waits behind it, whatever its camera (the cameras stay in time order)
                self._hold(key, sequence, item)
            return out, False
        if self._gap(key, sequence):
            self._hold(key, sequence, item)
            self._held_since = self._clock()
            self.gaps_held += 1
            return out, True
        self._take(key, sequence, item, out)
        return out, False

    def expire(self, *, now: float | None = None, everything: bool = False) -> list[Released[T]]:
        """Give up on the gap in front of the hold when it waited `hold_s` (or at once with `everything`: the site
        is flushed or handed over) and release what follows it, up to the next gap."""
        out: list[Released[T]] = []
        now = self._clock() if now is None else now
        while self._held and self._held_since is not None and (everything or self._due(now)):
            key, sequence, _ = self._held[0]
            camera = self._cameras[key]
            if sequence > camera.next:
                camera.given_up.append((camera.next, sequence))
                self.gaps_given_up += 1
                self.frames_given_up += sequence - camera.next
                camera.next = sequence
            self._held_since = now
            self._drain(out)
        return out

    def drop_held(self) -> None:
        """Forget the messages held (the site left this worker: they are the next owner's, unfused and unacked
        here); the counters stay."""
        self._held.clear()
        self._held_of.clear()
        self._held_since = None

    def stream_read(self, *, now: float | None = None) -> None:
        """The worker found nothing more of the site in the stream to deliver (its pull came back short): every
        frame stored by now has reached it."""
        self._read_at = self._clock() if now is None else now

    def _due(self, now: float) -> bool:
        assert self._held_since is not None
        if len(self._held) > MAX_HELD:
            return True
        if now - self._held_since < self.hold_s:
            return False
        return not self._by_stream or (
            self._read_at is not None and self._read_at - self._held_since >= self.hold_s
        )

    def _hold(self, key: tuple[int, int], sequence: int, item: T) -> None:
        self._held.append((key, sequence, item))
        self._held_of[key] = self._held_of.get(key, 0) + 1

    def _unhold(self, key: tuple[int, int]) -> None:
        left = self._held_of.pop(key) - 1
        if left:
            self._held_of[key] = left

    def _gap(self, key: tuple[int, int], sequence: int) -> bool:
        camera = self._cameras.get(key)
        return camera is not None and sequence > camera.next

    def _take(self, key: tuple[int, int], sequence: int, item: T, out: list[Released[T]]) -> None:
        camera = self._cameras.get(key)
        if camera is None:
            self._cameras[key] = _Camera(first=sequence, next=sequence + 1)
            out.append(Released(item, duplicate=False))
        elif sequence >= camera.next:
            camera.next = sequence + 1
            out.append(Released(item, duplicate=False))
        elif camera.applied_here(sequence):
            self.duplicates += 1
            out.append(Released(item, duplicate=True))
        else:  # older than what was applied here, and not applied here: the fusion decides (late, or in time)
            out.append(Released(item, duplicate=False))

    def _drain(self, out: list[Released[T]]) -> None:
        while self._held:
            key, sequence, item = self._held[0]
            camera = self._cameras.get(key)
            if camera is None or sequence <= camera.next:
                self._held.popleft()
                self._unhold(key)
                self._take(key, sequence, item, out)
                continue
            # The front waits for `camera.next`: held further back (it arrived after a newer one of its camera)?
            for index, (other, other_sequence, other_item) in enumerate(self._held):
                if other == key and other_sequence == camera.next:
                    del self._held[index]
                    self._unhold(key)
                    self._take(other, other_sequence, other_item, out)
                    break
            else:
                return
        self._held_since = None
