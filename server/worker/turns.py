"""Whose turn it is to apply frames in a site worker: one site's puller at a time, for a slice of the clock.

Each site has a puller task (server.worker.service). They used to let the event loop run after every message
(so that a batch of frames never held up live pushes, the ack barrier and NATS reads): with many sites whose
messages were waiting, each run of the loop applied one frame of every site in turn, and every frame found its
site's fusion and analytics state (tracks, pair tables, the zones' geometry, numpy buffers) evicted from the CPU's
caches by the other sites' frames. The same frames cost 40-45 % more CPU time at 64 sites than at one (the analytics
components with no per-site state twice as much per call: `benchmarks/worker_cost.py`). A run of the loop also
lasted one frame per busy site (64 frames, ~45 ms, at 64 sites).

So a puller applies its site's waiting messages for up to `SLICE_S` of the event loop thread's CPU time (not of
the clock: on a loaded host a slice of the clock held one or two frames), then hands over to the next puller waiting
(first come, first served) and the loop runs before the next slice: consecutive frames are the same site's (its
state stays in the caches), and one run of the loop applies one slice, whatever the number of sites. A puller holds
its turn only while it applies: it lets go before it waits for anything (its inbox empty, a pull request, a
take-over or a catch-up reading the stream), so a slow site never holds up the others.
"""

from __future__ import annotations

import asyncio
import time

# One slice of CPU time: at ~0.7 ms a frame (20 people, 8 cameras, one core), about 14 frames of one site.
SLICE_S = 0.01


class ApplyTurns:
    def __init__(self, slice_s: float = SLICE_S) -> None:
        self._slice_s = slice_s
        self._lock = asyncio.Lock()  # FIFO: the pullers waiting get their turns in the order they asked
        self._holder: int | None = None
        self._until = 0.0
        self.slices = 0

    async def take(self, site_id: int) -> None:
        """Return once it is `site_id`'s turn: at once while its slice lasts; else after the loop ran once and the
        pullers that asked before it had theirs."""
        if self._holder == site_id:
            if time.thread_time() < self._until:
                return
            self.release(site_id)
            await asyncio.sleep(0)  # the loop runs between two slices, also with no other puller waiting
        await self._lock.acquire()
        self._holder = site_id
        self._until = time.thread_time() + self._slice_s
        self.slices += 1

    def release(self, site_id: int) -> None:
        """`site_id`'s puller is about to wait for something else (or stops): the next one may apply."""
        if self._holder == site_id:
            self._holder = None
            self._lock.release()

    @property
    def holder(self) -> int | None:
        return self._holder
