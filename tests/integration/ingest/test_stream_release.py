"""The end of a stream (server side): the final flush of the ingest state reports a failure instead of hiding it."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from asgiref.sync import sync_to_async

from server.devices.services import device_revoke
from server.inventory.models import Camera
from tests.integration.ingest.test_grpc_stream import Conversation, Env, acked, env, frame

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

__all__ = ["env"]


async def test_a_failing_final_flush_is_logged_with_its_error(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cam = env.camera_ids[0]
    conv = Conversation(env.port, env.device_id)
    await conv.send(frame(cam, 1))
    await conv.wait_for(acked(cam, 1))

    async def failing_flush() -> None:
        raise RuntimeError("the state store went away")

    monkeypatch.setattr(env.pipeline, "flush", failing_flush)
    caplog.set_level(logging.ERROR, logger="server.ingest.servicer")
    device = await sync_to_async(lambda: Camera.objects.get(pk=cam).device)()
    assert device is not None
    await sync_to_async(device_revoke)(device=device)  # the stream ends: its state is released, flushed last
    with pytest.raises(grpc.aio.AioRpcError):
        await conv.wait_for(lambda r: False, timeout_s=5)
    await conv.close()

    def final_flush_records() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "final flush" in r.getMessage()]

    for _ in range(100):  # the release may finish just after the client has its status
        if final_flush_records():
            break
        await asyncio.sleep(0.05)
    records = final_flush_records()
    assert records, "the failed final flush was not logged"
    assert f"device {env.device_id}" in records[0].getMessage()
    assert records[0].exc_info is not None
    assert "the state store went away" in str(records[0].exc_info[1])
