"""A site worker's pullers apply in turns (server.worker.turns): one site at a time for a slice, first come first
served, the event loop running between two slices and while a puller waits for anything else."""

from __future__ import annotations

import asyncio
import itertools
import time

from server.worker.turns import ApplyTurns


async def _puller(turns: ApplyTurns, site_id: int, frames: int, applied: list[int], cost_s: float) -> None:
    try:
        for _ in range(frames):
            await turns.take(site_id)
            deadline = time.thread_time() + cost_s  # a frame's fusion and analytics: CPU, no await
            while time.thread_time() < deadline:
                pass
            applied.append(site_id)
            await asyncio.sleep(0)  # the inbox hands a message over after letting the loop run once
    finally:
        turns.release(site_id)


def _runs(applied: list[int]) -> list[int]:
    runs = [1]
    for before, site in itertools.pairwise(applied):
        if site == before:
            runs[-1] += 1
        else:
            runs.append(1)
    return runs


async def test_each_site_applies_a_slice_of_frames_in_a_row_and_the_sites_take_turns() -> None:
    turns = ApplyTurns(slice_s=0.004)
    applied: list[int] = []
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticking = asyncio.create_task(tick())
    await asyncio.gather(*(_puller(turns, site, 40, applied, 0.0005) for site in range(8)))
    ticking.cancel()
    assert sorted(applied) == sorted(list(range(8)) * 40)
    runs = _runs(applied)
    # Before, each run of the loop applied one frame of every site: runs of 1.
    assert sum(runs) / len(runs) >= 4, runs
    assert max(runs) <= 12, runs  # a slice is 4 ms of CPU, 0.5 ms a frame (plus the frame that ends it)
    # Every site had a turn before any had its third: first come, first served.
    first_runs = [applied[sum(runs[:k])] for k in range(8)]
    assert sorted(first_runs) == list(range(8)), applied[:80]
    assert ticks >= len(runs) // 2  # the loop ran between slices (and with every frame)


async def test_a_puller_that_lets_go_does_not_hold_the_others_up() -> None:
    turns = ApplyTurns(slice_s=10.0)
    await turns.take(1)
    assert turns.holder == 1
    waiting = asyncio.create_task(turns.take(2))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # site 1's slice lasts
    turns.release(1)  # site 1 waits for its inbox, a pull, a take-over
    await asyncio.wait_for(waiting, 1.0)
    assert turns.holder == 2
    turns.release(1)  # not its turn: nothing changes
    assert turns.holder == 2
    cancelled = asyncio.create_task(turns.take(3))
    await asyncio.sleep(0)
    cancelled.cancel()  # a puller cancelled while waiting (its site dropped) leaves no turn behind
    await asyncio.gather(cancelled, return_exceptions=True)
    turns.release(2)
    await asyncio.wait_for(turns.take(4), 1.0)
    assert turns.holder == 4
