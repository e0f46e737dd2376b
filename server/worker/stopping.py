"""A worker's stop: its tasks ended for sure, and the ones that do not end named with where they wait.

A stopping worker cancels its tasks (pullers, barrier, rebalancing, ...) and waits for them before its last
barrier, which closes the open visits of its sites and acks what it applied. A task that does not end keeps the
whole stop waiting until a supervisor's SIGKILL, and the visits stay open until another worker takes the site over
(never, when its stream has ended). Seen in cluster test runs (3 Dec 2026): a worker logged nothing after SIGTERM
and was killed 30 s later, its site's 4 visits left open; with the stacks logged, a site's puller was "cancelling"
and still pulling: the cancellation had been lost in `asyncio.wait_for` (before Python 3.12 it returns the
result of a future that completed in the very loop step its caller was cancelled). `end_tasks` cancels again what
has not ended, and logs it; `dump_tasks` (SIGUSR2 on a worker; SIGUSR1 dumps the threads' Python stacks,
`faulthandler`) says where every task of a live worker waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

logger = logging.getLogger(__name__)

WARN_EVERY_S = 10.0  # a stop still waiting for tasks this long says which ones, and again as often


def describe_tasks(tasks: Iterable[asyncio.Task[Any]]) -> str:
    """Each task's name and where it waits: its coroutines from the outermost to the one awaiting (a suspended
    task's own `get_stack` gives only its outermost frame), then what that one awaits."""
    parts = []
    for task in tasks:
        lines = [f"--- {task!r}"]
        awaited: Any = task.get_coro()
        while awaited is not None:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            frame = frame or getattr(awaited, "ag_frame", None)
            if frame is None:
                lines.append(f"    awaiting {awaited!r}")
                break
            lines.append(
                f'  File "{frame.f_code.co_filename}", line {frame.f_lineno}, in {frame.f_code.co_name}'
            )
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
        parts.append("\n".join(lines))
    return "\n".join(parts)


async def end_tasks(
    tasks: Sequence[asyncio.Task[Any]],
    *,
    waiting: str = "worker stopping",
    warn_every_s: float = WARN_EVERY_S,
    recancel_every_s: float = 1.0,
) -> None:
    """Cancel `tasks` and wait until every one has ended (whatever each raised). A task still running is cancelled
    again every `recancel_every_s`: a cancellation can be lost (before Python 3.12, `asyncio.wait_for` returns
    the result of a future that completed in the loop step its caller was cancelled, and nats-py waits so), and
    the task then goes on as if never cancelled. Every `warn_every_s` the ones still running are logged with
    where they wait (`waiting`: who waits): one that swallows every cancellation, or waits for a thread that does
    not come back, is named instead of stalling the stop in silence. Their outcome is not taken: a cancellation of
    the caller ends the wait, and is not taken for theirs."""
    for task in tasks:
        task.cancel()
    pending = {task for task in tasks if not task.done()}
    waited_s = warned_s = 0.0
    while pending:
        _, pending = await asyncio.wait(pending, timeout=recancel_every_s)
        waited_s += recancel_every_s
        for task in pending:
            task.cancel()
        if pending and waited_s - warned_s >= warn_every_s:
            warned_s = waited_s
            logger.warning(
                "%s: %d task(s) not ended %g s after they were cancelled:\n%s",
                waiting,
                len(pending),
                waited_s,
                describe_tasks(pending),
            )
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            logger.debug("task %s ended with %r", task.get_name(), task.exception())


def dump_tasks() -> None:
    """Log every task of the running event loop and where it waits (a live worker's SIGUSR2)."""
    tasks = asyncio.all_tasks()
    logger.warning("worker tasks (%d):\n%s", len(tasks), describe_tasks(tasks))
