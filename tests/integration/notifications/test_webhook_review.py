"""Adversarial review of the pinned webhook send (server.notifications.senders): HTTPS receivers with a real
certificate chain (a test CA given by SSL_CERT_FILE), the TLS name of an internationalised host, a proxy from the
environment, and a name with several addresses. Local TLS servers, a local CONNECT proxy; the DNS answers of the
invented names come from a replaced `socket.getaddrinfo` (no resolver can be run here)."""

from __future__ import annotations

import contextlib
import datetime as dt
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.notifications.senders import SendResult, send_webhook

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class _Ca:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("review test CA"))
            .issuer_name(_name("review test CA"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.path = folder / "ca.pem"
        self.path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def leaf(self, dns_name: str) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(dns_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = self.folder / f"{dns_name}.pem", self.folder / f"{dns_name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_pem(key))
        return cert_path, key_path


class _TlsReceiver:
    """An HTTPS server on 127.0.0.1 with a certificate for `dns_name`; records the SNI name and the Host header."""

    def __init__(self, ca: _Ca, dns_name: str) -> None:
        cert, key = ca.leaf(dns_name)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.sni: list[str | None] = []
        self.hosts: list[str] = []
        context.sni_callback = lambda sock, name, ctx: self.sni.append(name)  # type: ignore[assignment]
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.hosts.append(self.headers.get("Host", ""))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> Any:
                sock, address = super().get_request()
                return context.wrap_socket(sock, server_side=True), address

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a refused handshake (the point of some tests)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _ConnectProxy:
    """An HTTP proxy that only tunnels (CONNECT), as HTTPS_PROXY would name; records each CONNECT target."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError), client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            self.targets.append(target)
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Only CONNECT\r\nContent-Length: 0\r\n\r\n")
                return
            host, port = target.rsplit(":", 1)
            with socket.create_connection((host.strip("[]"), int(port)), timeout=5) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                while True:
                    ready, _, _ = select.select([client, upstream], [], [], 5)
                    if not ready:
                        return
                    for sock in ready:
                        data = sock.recv(65536)
                        if not data:
                            return
                        (upstream if sock is client else client).sendall(data)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any) -> _Ca:
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = True  # the receivers are on loopback
    authority = _Ca(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(authority.path))
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    return authority


@pytest.fixture
def tls(ca: _Ca) -> Iterator[Callable[[str], _TlsReceiver]]:
    servers: list[_TlsReceiver] = []

    def start(dns_name: str) -> _TlsReceiver:
        servers.append(_TlsReceiver(ca, dns_name))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[tuple[int, str]]]) -> None:
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        key = host.decode() if isinstance(host, bytes) else host
        if key not in answers:
            return real(host, port, *args, **kwargs)
        return [(family, socket.SOCK_STREAM, 6, "", (address, int(port))) for family, address in answers[key]]

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def _send(url: str) -> SendResult:
    return send_webhook(
        url=url, secret="s", delivery_id=1, event="test", payload={"event": "test"}, timeout_s=5
    )


def test_https_to_the_pinned_address_verifies_the_certificate_of_the_urls_host(tls: Any) -> None:
    """Connected to 127.0.0.1, the TLS name (SNI and the certificate check) is still `localhost`."""
    good = tls("localhost")
    result = _send(f"https://localhost:{good.port}/hook")
    assert result.ok, result
    assert good.sni == ["localhost"]
    assert good.hosts == [f"localhost:{good.port}"]
    wrong = tls("someone-else.example")
    refused = _send(f"https://localhost:{wrong.port}/hook")
    assert not refused.ok
    assert "CERTIFICATE_VERIFY_FAILED" in refused.error or "certificate" in refused.error.lower()


def test_an_internationalised_host_is_named_in_its_a_label_form_over_tls(
    tls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The URL's host straße.example is xn--strae-oqa.example (IDNA 2008, as the Host header and the receiver's
    certificate name it). The check resolved, and the TLS name was, the Unicode form, which Python's resolver and
    ssl encode with IDNA 2003: strasse.example, another domain (whose address the send was pinned to, and whose
    certificate it would have accepted)."""
    receiver = tls("xn--strae-oqa.example")
    _dns(monkeypatch, {"xn--strae-oqa.example": [(socket.AF_INET, "127.0.0.1")]})
    result = _send(f"https://straße.example:{receiver.port}/hook")
    assert result.ok, result
    assert receiver.sni == ["xn--strae-oqa.example"]


def test_https_through_an_environment_proxy_verifies_the_urls_host(
    tls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTPS_PROXY set (a server that reaches the outside through a proxy): the tunnel went to the pinned
    address and httpcore then checked the certificate against that address, so every HTTPS receiver failed."""
    receiver = tls("localhost")
    proxy = _ConnectProxy()
    try:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        result = _send(f"https://localhost:{receiver.port}/hook")
    finally:
        proxy.close()
    assert result.ok, result
    assert proxy.targets, "the proxy was not used"
    assert receiver.sni == ["localhost"]


def test_no_proxy_is_matched_against_the_urls_host(tls: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_PROXY=localhost: the receiver is reached directly. Matched against the pinned address (127.0.0.1) it
    was not, and the send went to the proxy (here one that is down)."""
    receiver = tls("localhost")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed.getsockname()[1]}")
    monkeypatch.setenv("NO_PROXY", "localhost")
    result = _send(f"https://localhost:{receiver.port}/hook")
    assert result.ok, result


def test_a_name_with_an_unreachable_first_address_is_reached_at_its_next(
    tls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receiver name with an address that does not answer (an IPv6 address on a server without IPv6, a dead
    node) before one that does: the HTTP client tried them in turn; pinned to the first alone the send failed."""
    receiver = tls("hooks.example")
    _dns(  # the receiver listens on 127.0.0.1 only: 127.0.0.3 refuses the connection
        monkeypatch,
        {"hooks.example": [(socket.AF_INET, "127.0.0.3"), (socket.AF_INET, "127.0.0.1")]},
    )
    result = _send(f"https://hooks.example:{receiver.port}/hook")
    assert result.ok, result
    assert receiver.hosts == [f"hooks.example:{receiver.port}"]


@pytest.mark.parametrize(
    "url",
    [
        "http://[::ffff:127.0.0.1]:8000/",  # IPv4-mapped loopback
        "http://[::ffff:169.254.169.254]/",  # IPv4-mapped metadata address
        "http://[fe80::1%25eth0]/",  # link-local with a zone id
        "http://user:pw@127.0.0.1:8000/",  # userinfo before a private address
        "http://0x7f000001:8000/",  # loopback spelled for inet_aton
        "http://2130706433:8000/",
        "http://127.1:8000/",
        "http://mixed.example/",  # one public and one private address
    ],
)
def test_private_spellings_are_refused(settings: Any, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = False
    _dns(monkeypatch, {"mixed.example": [(socket.AF_INET, "8.8.8.8"), (socket.AF_INET6, "fd00::1")]})
    result = _send(url)
    assert not result.ok
    assert "NOTIFY_WEBHOOK_ALLOW_PRIVATE" in result.error or "not a URL" in result.error, result.error
