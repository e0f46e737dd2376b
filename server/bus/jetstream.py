"""NATS JetStream parts of the scale-out bus: the stream of frames, one pull consumer per site with a pinned-client
priority group (placement and failover come from JetStream: the site's messages go to one pulling worker at a time,
and to another one once it stops pulling for the pin timeout), and the gateway's publishing frame sink.

nats-py (2.16) has no priority-group support, so consumers are created and pulled through JetStream's JSON API
subjects (`$JS.API.CONSUMER.CREATE`, `$JS.API.CONSUMER.MSG.NEXT` with `group` and the pin `id`); nats-server
>= 2.11 is required.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.bus.codec import encode_frame, message_id, site_subject

if TYPE_CHECKING:
    import nats.aio.client
    import nats.aio.msg

    from server.frames import CameraRef, DecodedFrame

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "retail.frames"
PRIORITY_GROUP = "sites"
# A publish not acknowledged by JetStream within this long is sent again (same message id: stored once).
REPUBLISH_AFTER_S = 1.0
# Longest wait of the ack barrier for JetStream's acknowledgements; then it fails and the edge keeps its frames.
BARRIER_WAIT_S = 2.0
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class BusConfig:
    servers: tuple[str, ...]
    stream: str = "RETAIL_FRAMES"
    replicas: int = 1
    subject_prefix: str = SUBJECT_PREFIX
    duplicate_window_s: float = 600.0
    max_age_s: float = 24 * 3600.0
    pin_ttl_s: float = 5.0
    ack_wait_s: float = 10.0

    @classmethod
    def from_settings(cls) -> BusConfig:
        from django.conf import settings

        return cls(
            servers=tuple(s.strip() for s in settings.RETAIL_BUS_URL.split(",") if s.strip()),
            stream=settings.RETAIL_BUS_STREAM,
            replicas=settings.RETAIL_BUS_REPLICAS,
            pin_ttl_s=settings.RETAIL_WORKER_PIN_TTL_S,
        )

    def consumer_name(self, site_id: int) -> str:
        return f"site-{site_id}"


async def connect(config: BusConfig, *, name: str) -> nats.aio.client.Client:
    """A connection that reconnects for ever (a NATS node's restart, a failover to another node of the cluster)."""
    import nats

    return await nats.connect(
        servers=list(config.servers),
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        allow_reconnect=True,
    )


async def close(nc: nats.aio.client.Client, *, timeout_s: float = 5.0) -> None:
    """Drain (what is buffered goes out), then close; a connection whose servers are all away is closed after
    `timeout_s` instead of waiting for a reconnect that may never come (a stop must not hang)."""
    try:
        await asyncio.wait_for(nc.drain(), timeout_s)
    except Exception as err:  # already closed, unreachable, or timed out: nothing more can be sent
        logger.debug("draining the bus connection: %s", err)
    with contextlib.suppress(Exception):
        await nc.close()


async def api_request(
    nc: nats.aio.client.Client, subject: str, body: dict[str, Any], *, timeout: float = 5.0
) -> dict[str, Any]:
    reply = await nc.request(subject, json.dumps(body).encode(), timeout=timeout)
    answer: dict[str, Any] = json.loads(reply.data or b"{}")
    error = answer.get("error")
    if error:
        raise BusError(f"{subject}: {error.get('description', error)} (code {error.get('err_code')})")
    return answer


class BusError(RuntimeError):
    """JetStream refused an API request."""


async def ensure_stream(nc: nats.aio.client.Client, config: BusConfig) -> None:
    """Create the frame stream, or bring an existing one to `config` (idempotent; every gateway and worker calls it).
    File storage, `replicas` copies, de-duplication by message id over `duplicate_window_s`."""
    body = {
        "name": config.stream,
        "subjects": [f"{config.subject_prefix}.>"],
        "storage": "file",
        "retention": "limits",
        "num_replicas": config.replicas,
        "duplicate_window": int(config.duplicate_window_s * NS),
        "max_age": int(config.max_age_s * NS),
        "discard": "old",
    }
    try:
        await api_request(nc, f"$JS.API.STREAM.CREATE.{config.stream}", body)
    except BusError as err:
        if "already in use" not in str(err) and "10058" not in str(err):
            raise
        await api_request(nc, f"$JS.API.STREAM.UPDATE.{config.stream}", body)


async def ensure_site_consumer(nc: nats.aio.client.Client, config: BusConfig, site_id: int) -> None:
    """The durable pull consumer of one site: explicit acks, its site's subject only, one pinned client at a time."""
    name = config.consumer_name(site_id)
    body = {
        "stream_name": config.stream,
        "config": {
            "durable_name": name,
            "name": name,
            "filter_subject": site_subject(config.subject_prefix, site_id),
            "ack_policy": "explicit",
            "ack_wait": int(config.ack_wait_s * NS),
            "deliver_policy": "all",
            "max_ack_pending": 20000,
            "max_waiting": 64,
            "priority_groups": [PRIORITY_GROUP],
            "priority_policy": "pinned_client",
            "priority_timeout": int(config.pin_ttl_s * NS),
        },
    }
    await api_request(nc, f"$JS.API.CONSUMER.CREATE.{config.stream}.{name}", body)


# The roll call of the site workers: a consumer on a subject of the frame stream that nothing is published to, on
# which every worker keeps one pull request waiting (`answer_roll_call`); JetStream's count of the requests waiting
# on it is the number of workers (`workers_present`). A worker that dies stops asking: its request expires.
ROLL_CALL_CONSUMER = "workers"
ROLL_CALL_EXPIRES_S = 5.0


def roll_call_subject(config: BusConfig) -> str:
    return f"{config.subject_prefix}.roll-call"


async def ensure_roll_call(nc: nats.aio.client.Client, config: BusConfig) -> None:
    body = {
        "stream_name": config.stream,
        "config": {
            "durable_name": ROLL_CALL_CONSUMER,
            "name": ROLL_CALL_CONSUMER,
            "filter_subject": roll_call_subject(config),
            "ack_policy": "explicit",
            "deliver_policy": "new",
            "max_waiting": 4096,
        },
    }
    await api_request(nc, f"$JS.API.CONSUMER.CREATE.{config.stream}.{ROLL_CALL_CONSUMER}", body)


async def answer_roll_call(nc: nats.aio.client.Client, config: BusConfig) -> None:
    """Keep one pull request of this process waiting on the roll call, for ever (cancel the task to leave it; the
    request then expires within `ROLL_CALL_EXPIRES_S`, or at once with the connection)."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    subject = f"$JS.API.CONSUMER.MSG.NEXT.{config.stream}.{ROLL_CALL_CONSUMER}"
    request = json.dumps({"batch": 1, "expires": int(ROLL_CALL_EXPIRES_S * NS)}).encode()
    try:
        while True:
            try:
                await nc.publish(subject, request, reply=inbox)
                answer = await sub.next_msg(timeout=ROLL_CALL_EXPIRES_S + 1.0)  # its 408 once it expired
                if (answer.headers or {}).get("Status") != "408":  # refused (e.g. 409: too many waiting)
                    await asyncio.sleep(1.0)
            except TimeoutError:
                continue  # lost (a NATS node went away): ask again
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the connection is reconnecting: ask again shortly
                logger.debug("roll call: %s", err)
                await asyncio.sleep(0.5)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def workers_present(nc: nats.aio.client.Client, config: BusConfig) -> int:
    """How many site workers answer the roll call now (at least 1: the one asking)."""
    info = await api_request(nc, f"$JS.API.CONSUMER.INFO.{config.stream}.{ROLL_CALL_CONSUMER}", {})
    return max(1, int(info.get("num_waiting", 1)))


async def consumer_info(nc: nats.aio.client.Client, config: BusConfig, site_id: int) -> dict[str, Any]:
    return await api_request(nc, f"$JS.API.CONSUMER.INFO.{config.stream}.{config.consumer_name(site_id)}", {})


class Deliveries:
    """The messages a pull request's inbox receives, in order (`subscribe_deliveries`). nats-py's
    `Subscription.next_msg` starts two tasks for each message (its timeout); a worker takes every frame of its
    sites that way, so here a message already received is handed over without a task, and only an empty inbox
    waits. Every `YIELD_EVERY` messages handed over it lets the event loop run once all the same (as `next_msg`
    did for each): a batch of frames must not hold up the rest of the process (live pushes, their channel layer's
    connections, the ack barrier) until its end, and with many sites every puller with messages takes its turn
    at each run of the loop (8 frames each at 16 sites held the loop 8 times as long, and live pushes timed out).
    `queued_replies` names the messages received and not handed over yet (the worker keeps them from being
    redelivered while they wait: `SiteWorker._keep_alive`)."""

    YIELD_EVERY = 1

    def __init__(self, nc: nats.aio.client.Client) -> None:
        self._nc = nc
        self._queue: deque[nats.aio.msg.Msg] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._sub: Any = None
        self._handed = 0

    async def _take(self, msg: nats.aio.msg.Msg) -> None:
        self._queue.append(msg)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def queued_replies(self) -> list[str]:
        """The ack subjects of the messages received and not handed over yet."""
        return [msg.reply for msg in self._queue if msg.reply]

    async def next_msg(self, timeout: float) -> nats.aio.msg.Msg:
        """The next message; TimeoutError when none comes within `timeout` seconds."""
        self._handed += 1
        if self._handed % self.YIELD_EVERY == 0:
            await asyncio.sleep(0)
        if self._queue:
            return self._queue.popleft()
        if self._nc.is_closed:
            import nats.errors

            raise nats.errors.ConnectionClosedError
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            # Not asyncio.wait_for: before Python 3.12 it returns the result of a future that completed in the very
            # loop step its caller was cancelled, and the cancellation is lost (a message arriving as a stopping
            # worker cancelled its puller left the puller pulling and the stop waiting until SIGKILL).
            async with asyncio.timeout(timeout):
                await self._waiter
        finally:
            self._waiter = None
        return self._queue.popleft()

    async def unsubscribe(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()


async def subscribe_deliveries(nc: nats.aio.client.Client, subject: str) -> Deliveries:
    """Subscribe to `subject` (a pull request's reply inbox): its messages, in the order they arrive."""
    deliveries = Deliveries(nc)
    deliveries._sub = await nc.subscribe(subject, cb=deliveries._take)
    return deliveries


async def unpin(nc: nats.aio.client.Client, config: BusConfig, site_id: int) -> None:
    """Release the site's pin, so that JetStream pins another pulling worker (rebalancing)."""
    await api_request(
        nc,
        f"$JS.API.CONSUMER.UNPIN.{config.stream}.{config.consumer_name(site_id)}",
        {"group": PRIORITY_GROUP},
    )


@dataclass(slots=True, eq=False)
class _Publish:
    subject: str
    payload: bytes
    headers: dict[str, str]
    done: concurrent.futures.Future[int]
    token: str
    sent_at: float = 0.0


class JetStreamFrameSink:
    """The gateway's frame processor and durable sink (server.ingest.pipeline): each accepted frame is published to
    its site's subject, and the ack barrier waits until JetStream has acknowledged every frame processed before it,
    so an edge ack means "replicated in the stream" (docs/operations.md, "Durability").

    Publishes go out from one task on the event loop in acceptance order; one JetStream has not acknowledged within
    REPUBLISH_AFTER_S is sent again with the same message id (JetStream stores it once)."""

    def __init__(self, config: BusConfig, *, name: str = "retail-gateway") -> None:
        self._config = config
        self._name = name
        self._nc: nats.aio.client.Client | None = None
        self._unsent: deque[_Publish] = deque()
        self._outstanding: dict[str, _Publish] = {}
        self._wake = asyncio.Event()
        self._inbox = ""
        self._token = 0
        self.published = 0
        self.republished = 0
        self.errors = 0
        self.last_error = ""

    # ---- FrameProcessor ------------------------------------------------------------------------------------------
    def process(self, camera: CameraRef, frame: DecodedFrame) -> None:
        self._token += 1
        entry = _Publish(
            subject=site_subject(self._config.subject_prefix, camera.site_id),
            payload=encode_frame(frame),
            headers={"Nats-Msg-Id": message_id(camera.camera_id, frame.sequence_epoch, frame.sequence)},
            done=concurrent.futures.Future(),
            token=str(self._token),
        )
        self._outstanding[entry.token] = entry
        self._unsent.append(entry)
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._outstanding)

    # ---- DurableSink ---------------------------------------------------------------------------------------------
    def checkpoint(self) -> _PublishCheckpoint | None:
        if not self._outstanding:
            return None
        return _PublishCheckpoint([entry.done for entry in self._outstanding.values()])

    # ---- the publishing task -------------------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            try:
                await self._run_connected()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                self.errors += 1
                self.last_error = f"{type(err).__name__}: {err}"
                logger.warning("frame bus: %s; retrying", self.last_error)
                await asyncio.sleep(0.5)

    async def _run_connected(self) -> None:
        if self._nc is None:
            self._nc = await connect(self._config, name=self._name)
            await ensure_stream(self._nc, self._config)
            self._inbox = self._nc.new_inbox()
            await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_reply)
        nc = self._nc
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REPUBLISH_AFTER_S / 2):  # not wait_for: it can lose a cancellation
                    await self._wake.wait()
            self._wake.clear()
            now = time.monotonic()
            while self._unsent:
                entry = self._unsent.popleft()
                if entry.done.done():
                    continue
                entry.sent_at = now
                await nc.publish(
                    entry.subject,
                    entry.payload,
                    reply=f"{self._inbox}.{entry.token}",
                    headers=entry.headers,
                )
                self.published += 1
            for entry in self._outstanding.values():
                if now - entry.sent_at >= REPUBLISH_AFTER_S and entry.sent_at:
                    entry.sent_at = 0.0
                    self._unsent.append(entry)
                    self.republished += 1
            if self._unsent:
                self._wake.set()

    async def _on_reply(self, msg: nats.aio.msg.Msg) -> None:
        token = msg.subject.rsplit(".", 1)[-1]
        entry = self._outstanding.get(token)
        if entry is None:
            return
        status = (msg.headers or {}).get("Status")
        try:
            answer = json.loads(msg.data) if msg.data else {}
        except ValueError:
            answer = {"error": {"description": "unreadable publish acknowledgement"}}
        if (
            status or "error" in answer
        ):  # no responders (503: no stream leader yet), a refused publish: sent again
            self.errors += 1
            self.last_error = f"publish refused: {status or answer.get('error')}"
            entry.sent_at = time.monotonic() - REPUBLISH_AFTER_S / 2
            return
        del self._outstanding[token]
        entry.done.set_result(int(answer.get("seq", 0)))

    async def close(self) -> None:
        if self._nc is not None:
            nc, self._nc = self._nc, None
            await close(nc)


class _PublishCheckpoint:
    def __init__(self, futures: list[concurrent.futures.Future[int]]) -> None:
        self._futures = futures

    def commit(self) -> None:
        """In a worker thread: wait until JetStream has acknowledged every publish of the checkpoint."""
        _, waiting = concurrent.futures.wait(self._futures, timeout=BARRIER_WAIT_S)
        if waiting:
            raise TimeoutError(
                f"JetStream has not acknowledged {len(waiting)} frame(s) within {BARRIER_WAIT_S:g} s; "
                "their acks are withheld"
            )

    def abandon(self) -> None:
        """Nothing to keep: the publishes stay outstanding (and are retried) until JetStream acknowledges them."""
