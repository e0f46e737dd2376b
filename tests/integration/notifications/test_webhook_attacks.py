"""Webhooks attacked from the receiver's side and by the URL an admin sets: private addresses refused unless
NOTIFY_WEBHOOK_ALLOW_PRIVATE, no redirects followed, an answer that streams forever or is huge cut short, and a
delivery whose lease ran out mid-batch not sent twice by two dispatchers (real local HTTP receivers)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from server.notifications.dispatcher import Dispatcher, DispatcherConfig
from server.notifications.models import Delivery, DeliveryStatus, NotificationRule
from server.notifications.senders import send_webhook, webhook_url_error

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


class _Server:
    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.requests: list[int] = []
        self.bytes_sent = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.requests.append(int(self.headers.get("X-Retail-Delivery", "0")))
                with contextlib.suppress(OSError):
                    outer.answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        if self.behaviour == "redirect":
            handler.send_response(307)
            handler.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        elif self.behaviour in ("forever", "forever-500"):
            handler.send_response(200 if self.behaviour == "forever" else 500)
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # a chunk every 0.1 s: no read ever times out
                handler.wfile.write(b"1\r\nx\r\n")
                handler.wfile.flush()
                self.bytes_sent += 1
                time.sleep(0.1)
        elif self.behaviour == "huge":
            size = 1 << 30
            handler.send_response(500)
            handler.send_header("Content-Length", str(size))
            handler.end_headers()
            block = b"x" * (1 << 20)
            for _ in range(size // len(block)):
                handler.wfile.write(block)
                self.bytes_sent += len(block)
        elif self.behaviour in ("slow", "ok"):
            time.sleep(1.5 if self.behaviour == "slow" else 0)
            handler.send_response(200)
            handler.send_header("Content-Length", "2")
            handler.end_headers()
            handler.wfile.write(b"ok")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[_Server] = []

    def start(behaviour: str) -> _Server:
        servers.append(_Server(behaviour))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _send(url: str, timeout_s: float = 1.0) -> tuple[Any, float]:
    """send_webhook in a thread, so that a sender that never returns fails the test instead of hanging it."""
    out: dict[str, Any] = {}

    def run() -> None:
        out["result"] = send_webhook(
            url=url, secret="s", delivery_id=1, event="test", payload={"event": "test"}, timeout_s=timeout_s
        )

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(15)
    assert not thread.is_alive(), "send_webhook did not return within 15 s"
    return out["result"], time.monotonic() - started


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/api/",
        "http://localhost:8000/api/",  # a name that resolves to loopback
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://10.1.2.3/x",
        "http://[::1]:8000/",
        "http://0.0.0.0:8000/",
    ],
)
def test_private_addresses_are_refused_by_default(settings: Any, url: str) -> None:
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = False
    result, _ = _send(url)
    assert not result.ok
    assert "NOTIFY_WEBHOOK_ALLOW_PRIVATE" in result.error


def test_a_private_literal_address_is_refused_when_the_rule_is_saved(settings: Any, client_for: Any) -> None:
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = False
    answer = client_for("admin").post(
        "/api/notification-rules/",
        {"name": "meta", "channel": "webhook", "url": "http://169.254.169.254/latest/"},
        format="json",
    )
    assert answer.status_code == 400
    assert "url" in answer.content.decode()
    for bad in ("ftp://example.com/x", "file:///etc/passwd", "http:///nohost", "http://exa mple.com/"):
        answer = client_for("admin").post(
            "/api/notification-rules/", {"name": "x", "channel": "webhook", "url": bad}, format="json"
        )
        assert answer.status_code == 400, bad


def test_private_receivers_work_when_allowed(settings: Any, serve: Any) -> None:
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = True
    result, _ = _send(serve("slow").url, timeout_s=5)
    assert result.ok


def test_a_redirect_is_not_followed(settings: Any, serve: Any) -> None:
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = True
    server = serve("redirect")
    result, _ = _send(server.url)
    assert not result.ok
    assert result.response_code == 307
    assert len(server.requests) == 1


@pytest.mark.parametrize("behaviour", ["forever", "forever-500", "huge"])
def test_an_endless_or_huge_answer_is_cut_short(settings: Any, serve: Any, behaviour: str) -> None:
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = True
    server = serve(behaviour)
    result, elapsed = _send(server.url, timeout_s=1.0)
    assert elapsed < 4.0  # the whole send is bounded by about its timeout, not each read
    assert server.bytes_sent < 64 << 20  # not a gigabyte read into memory
    assert len(result.error) <= 500
    if behaviour == "forever":
        assert result.ok  # a 2xx status is all that counts; the body is not waited for


@pytest.mark.django_db(transaction=True)
def test_a_lease_that_ran_out_mid_batch_is_not_sent_twice(settings: Any, serve: Any) -> None:
    """Dispatcher A claims two rows with a 1 s lease and spends 1.5 s on the first; B claims the second when
    its lease ran out and sends it. A must then not send it as well."""
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = True
    server = serve("slow")
    hook = NotificationRule.objects.create(name="slow", channel="webhook", url=server.url, secret="s")
    rows = [
        Delivery.objects.create(
            rule=hook,
            channel="webhook",
            event="test",
            payload={"event": "test"},
            next_attempt_at=timezone.now(),
            created_at=timezone.now(),
        )
        for _ in range(2)
    ]
    config = DispatcherConfig(poll_s=0.05, batch=2, lease_s=1.0, timeout_s=5)
    first, second = Dispatcher(config), Dispatcher(config)
    thread = threading.Thread(target=first.run_once)
    thread.start()
    time.sleep(1.2)
    second.run_once()
    thread.join(20)
    assert sorted(server.requests) == sorted(row.pk for row in rows)  # each once
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}


def test_localhost_resolves_here() -> None:
    assert socket.getaddrinfo("localhost", 80)  # the loopback-name case above needs it


@pytest.mark.django_db(transaction=True)
def test_a_send_that_raises_is_a_recorded_failure_not_a_stuck_batch(settings: Any, serve: Any) -> None:
    """A URL the HTTP client cannot even encode (an empty host label) raised out of the sender: the batch stopped
    there, the row stayed `sending` with no attempt counted (claimed again after each lease, for ever) and the
    rows after it waited. Now it is an attempt like any other, and the next row is sent in the same pass."""
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = True
    server = serve("slow")
    now = timezone.now()
    broken = NotificationRule.objects.create(name="broken", channel="webhook", url="http://a..b/", secret="s")
    good = NotificationRule.objects.create(name="good", channel="webhook", url=server.url, secret="s")
    first, second = (
        Delivery.objects.create(
            rule=rule,
            channel="webhook",
            event="test",
            payload={"event": "test"},
            next_attempt_at=now,
            created_at=now,
        )
        for rule in (broken, good)
    )
    Dispatcher(DispatcherConfig(poll_s=0.05, batch=5, timeout_s=5)).run_once()
    first.refresh_from_db()
    assert (first.status, first.attempts) == (DeliveryStatus.PENDING, 1)
    assert first.last_error
    assert Delivery.objects.get(pk=second.pk).status == DeliveryStatus.DELIVERED
    assert webhook_url_error("http://a..b/")  # and refused when a rule is saved


@pytest.mark.django_db(transaction=True)
def test_a_dead_receiver_holds_up_only_its_own_rows_and_spends_one_attempt(settings: Any, serve: Any) -> None:
    """A receiver that accepts connections and never answers: each of its rows waited out the timeout in turn
    (3 rows, 3 s at a 1 s timeout) and the live receiver's row waited behind them. Now the live one goes in its
    own lane at once, the dead one's first row spends an attempt and the other two wait for its retry unspent."""
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = True
    live = serve("ok")
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))
        dead.listen(16)  # connections complete in the backlog; nothing is ever read or answered
        dead_url = f"http://127.0.0.1:{dead.getsockname()[1]}/hook"
        now = timezone.now()
        hung = NotificationRule.objects.create(name="hung", channel="webhook", url=dead_url, secret="s")
        good = NotificationRule.objects.create(name="good", channel="webhook", url=live.url, secret="s")

        def row(rule: NotificationRule) -> Delivery:
            return Delivery.objects.create(
                rule=rule,
                channel="webhook",
                event="test",
                payload={"event": "test"},
                next_attempt_at=now,
                created_at=now,
            )

        dead_rows = [row(hung) for _ in range(3)]
        good_row = row(good)
        started = time.monotonic()
        Dispatcher(DispatcherConfig(poll_s=0.05, batch=10, timeout_s=1.0, lanes=4)).run_once()
        took = time.monotonic() - started
    assert Delivery.objects.get(pk=good_row.pk).status == DeliveryStatus.DELIVERED
    assert took < 2.6, f"the pass took {took:.1f} s: the rows were sent one after the other"
    first, *rest = (Delivery.objects.get(pk=r.pk) for r in dead_rows)
    assert (first.status, first.attempts) == (DeliveryStatus.PENDING, 1)
    for waiting in rest:
        assert (waiting.status, waiting.attempts) == (DeliveryStatus.PENDING, 0)
        assert waiting.next_attempt_at == first.next_attempt_at
        assert "unreachable" in waiting.last_error


def test_a_name_that_rebinds_after_the_check_still_reaches_only_the_checked_address(
    settings: Any, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DNS server that answers a public address to the check and loopback to the connection (rebinding; the DNS
    is a fake: `socket.getaddrinfo` replaced, no resolver can be run here). The HTTP client resolved the name again
    and reached the server's own port; now the send connects to the address that was checked."""
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = False
    local = serve("ok")
    port = int(local.url.rsplit(":", 1)[1].split("/", 1)[0])
    real = socket.getaddrinfo
    answers = iter(["8.8.8.8"])  # the first answer public, every later one loopback

    def rebinding_dns(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.example":
            return real(host, *args, **kwargs)
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    result, _ = _send(f"http://rebind.example:{port}/hook", timeout_s=1.0)
    assert local.requests == [], "the connection went to the rebound (loopback) address"
    assert not result.ok


def test_the_pinned_connection_keeps_the_host_header(settings: Any, receiver: Any) -> None:
    """Connecting to the checked address, the request still names the URL's host (virtual hosts, signatures)."""
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = True
    port = receiver.url.rsplit(":", 1)[1].split("/", 1)[0]
    result, _ = _send(f"http://localhost:{port}/hook", timeout_s=5.0)
    assert result.ok, result
    assert receiver.requests[-1].headers["Host"] == f"localhost:{port}"
