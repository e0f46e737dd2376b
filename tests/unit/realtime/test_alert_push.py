"""The REST API's alert and siren pushes go through the publisher's one sender (`send_bounded`): a channel layer
that never answers costs the request at most the push timeout (before, it held the request forever), one that
raises is logged, and both are counted."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from server.alerts import push
from server.observability import metrics
from server.realtime.events import siren_event
from server.realtime.groups import site_alerts_group


class Layer:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def group_send(self, group: str, event: dict[str, Any]) -> None:
        if self.mode == "hang":
            await asyncio.Event().wait()
        if self.mode == "fail":
            raise ConnectionError("redis is down")
        self.sent.append((group, event))


def _failures(reason: str) -> float:
    return float(metrics.LIVE_PUSH_FAILURES.labels(reason=reason)._value.get())


def _send_in_a_thread(event: Any) -> float:
    """What a request thread does after the commit (async_to_sync needs a thread without a running loop)."""
    started = time.perf_counter()
    thread = threading.Thread(target=push._send, args=(4, event))
    thread.start()
    thread.join(timeout=5.0)
    assert not thread.is_alive(), "the push held the request thread"
    return time.perf_counter() - started


def test_a_push_reaches_the_sites_alerts_group(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = Layer("ok")
    monkeypatch.setattr(push, "get_channel_layer", lambda: layer)
    event = siren_event(site_id=4, on=True)
    _send_in_a_thread(event)
    assert layer.sent == [(site_alerts_group(4), event)]


def test_a_layer_that_never_answers_costs_the_timeout_and_is_counted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    monkeypatch.setattr(push, "get_channel_layer", lambda: Layer("hang"))
    settings.LIVE_PUSH_TIMEOUT_S = 0.2
    before = _failures("timeout")
    assert _send_in_a_thread(siren_event(site_id=4, on=True)) < 2.0
    assert _failures("timeout") == before + 1
    assert "no answer from the channel layer within 0.2 s" in caplog.text


def test_a_layer_that_raises_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(push, "get_channel_layer", lambda: Layer("fail"))
    before = _failures("error")
    _send_in_a_thread(siren_event(site_id=4, on=False))
    assert _failures("error") == before + 1
    assert "ConnectionError: redis is down" in caplog.text
