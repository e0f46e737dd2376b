"""A worker's stop, made observable: which of its tasks do not end when cancelled, and where each one waits.

A stopping worker cancels its tasks (pullers, barrier, rebalancing, ...) and waits for them before its last
barrier, which closes the open visits of its sites and acks what it applied. A task that does not end keeps the
whole stop waiting until a supervisor's SIGKILL, and the visits stay open until another worker takes the site over
(never, when its stream has ended). Seen once in a cluster test run (3 Dec 2026): a worker that had taken a site
over during a NATS node kill logged nothing after SIGTERM and was killed 30 s later, its 4 visits left open. The
stop now says what it waits for (`end_tasks`), and `dump_tasks` (SIGUSR2 on a worker; SIGUSR1 dumps the threads'
Python stacks, `faulthandler`) says where every task of a live worker waits.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterable, Sequence
from typing import Any

logger = logging.getLogger(__name__)

WARN_EVERY_S = 10.0  # a stop still waiting for tasks this long says which ones, and again as often


def describe_tasks(tasks: Iterable[asyncio.Task[Any]], *, limit: int = 12) -> str:
    """Each task's name and the stack where it waits (innermost `limit` frames), for a log message."""
    parts = []
    for task in tasks:
        stack = io.StringIO()
        task.print_stack(limit=limit, file=stack)
        parts.append(f"--- {task.get_name()}\n{stack.getvalue().rstrip()}")
    return "\n".join(parts)


async def end_tasks(tasks: Sequence[asyncio.Task[Any]], *, warn_every_s: float = WARN_EVERY_S) -> None:
    """Cancel `tasks` and wait until every one has ended (whatever each raised), logging every `warn_every_s`
    the ones still running, with where they wait: a task that swallows its cancellation, or waits for a thread
    that does not come back, is named instead of stalling the stop in silence."""
    for task in tasks:
        task.cancel()
    pending = {task for task in tasks if not task.done()}
    waited_s = 0.0
    while pending:
        _, pending = await asyncio.wait(pending, timeout=warn_every_s)
        waited_s += warn_every_s
        if pending:
            logger.warning(
                "worker stopping: %d task(s) not ended %g s after they were cancelled:\n%s",
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
