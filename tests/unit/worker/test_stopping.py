"""A worker's stop names the tasks that do not end when cancelled, with where they wait (server.worker.stopping)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from server.worker import stopping


async def _stubborn(release: asyncio.Event) -> None:
    """Swallows its cancellation until `release` is set (as a task waiting on a thread that does not return)."""
    while not release.is_set():
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            continue


async def _polite() -> None:
    await asyncio.sleep(60)


def test_a_stop_names_the_task_that_does_not_end_and_where_it_waits(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        stubborn = asyncio.create_task(_stubborn(release), name="stubborn puller")
        polite = asyncio.create_task(_polite(), name="barrier")
        await asyncio.sleep(0)
        ending = asyncio.create_task(
            stopping.end_tasks([stubborn, polite], warn_every_s=0.05, recancel_every_s=0.05)
        )
        await asyncio.sleep(0.2)
        assert not ending.done()  # it still waits: nothing proceeds while a task runs
        release.set()
        await asyncio.wait_for(ending, 2.0)
        assert polite.cancelled()
        assert stubborn.done()

    with caplog.at_level(logging.WARNING, logger="server.worker.stopping"):
        asyncio.run(scenario())
    warnings = [r.getMessage() for r in caplog.records if "not ended" in r.getMessage()]
    assert warnings, "the stop said nothing about the task it waited for"
    assert "stubborn puller" in warnings[0]
    assert "_stubborn" in warnings[0]
    assert "barrier" not in warnings[0]  # the cancelled one ended: not named


def test_a_stop_whose_tasks_end_says_nothing_and_survives_their_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def failing() -> None:
        raise RuntimeError("boom")

    async def scenario() -> None:
        tasks = [asyncio.create_task(failing()), asyncio.create_task(_polite())]
        await asyncio.sleep(0)
        await stopping.end_tasks(tasks, warn_every_s=0.05)
        assert all(task.done() for task in tasks)

    with caplog.at_level(logging.WARNING, logger="server.worker.stopping"):
        asyncio.run(scenario())
    assert not [r for r in caplog.records if "not ended" in r.getMessage()]


def test_dump_tasks_logs_every_task_with_its_stack(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        task = asyncio.create_task(_polite(), name="site 7 puller")
        await asyncio.sleep(0)
        stopping.dump_tasks()
        task.cancel()

    with caplog.at_level(logging.WARNING, logger="server.worker.stopping"):
        asyncio.run(scenario())
    (record,) = [r for r in caplog.records if "worker tasks" in r.getMessage()]
    assert "site 7 puller" in record.getMessage()
    assert "_polite" in record.getMessage()


async def _loses_one_cancellation(never: asyncio.Event) -> None:
    """As a task whose cancellation `asyncio.wait_for` lost (Python < 3.12): it goes on as if never cancelled."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(60)
    await never.wait()


def test_a_task_whose_cancellation_was_lost_is_cancelled_again_and_the_stop_ends() -> None:
    async def scenario() -> None:
        task = asyncio.create_task(_loses_one_cancellation(asyncio.Event()))
        await asyncio.sleep(0)
        await asyncio.wait_for(stopping.end_tasks([task], recancel_every_s=0.05), 2.0)
        assert task.cancelled()

    asyncio.run(scenario())


def test_a_message_arriving_as_its_reader_is_cancelled_does_not_swallow_the_cancellation() -> None:
    """`Deliveries.next_msg` waited with `asyncio.wait_for`, which (before Python 3.12) returns a result that came
    in the loop step its caller was cancelled: a stopping worker's puller went on pulling."""
    from server.bus import jetstream

    class _Connection:
        is_closed = False

    async def scenario() -> None:
        deliveries = jetstream.Deliveries(_Connection())  # type: ignore[arg-type]

        async def reader() -> None:
            while True:  # as the puller: another message, and another
                await deliveries.next_msg(timeout=5.0)

        task = asyncio.create_task(reader())
        await asyncio.sleep(0.01)  # it waits for a message
        assert deliveries._waiter is not None
        await deliveries._take(object())  # type: ignore[arg-type]  # the message arrives ...
        task.cancel()  # ... in the loop step the reader is cancelled
        done, _ = await asyncio.wait([task], timeout=1.0)
        assert done, "the reader went on after its cancellation"
        assert task.cancelled()

    asyncio.run(scenario())
