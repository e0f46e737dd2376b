"""gRPC over TLS: the real edge CLI enrolls and streams through a TLS ingest server with a private CA; a plaintext
client is refused; with a client CA configured (mutual TLS) a client without a certificate is refused."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from asgiref.sync import sync_to_async
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.db import connections

from proto.retail.v1 import edge_service_pb2, edge_service_pb2_grpc
from server.devices.services import device_create, device_issue_enrollment_token
from server.ingest.pipeline import IngestPipeline
from server.ingest.server import create_grpc_server
from server.ingest.servicer import EdgeServicer, StreamSettings
from server.inventory.models import Camera, Site

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
BIN = Path(sys.executable).parent


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_pki(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate, as PEM files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Retail test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(name: str, san: list[x509.GeneralName]) -> tuple[bytes, bytes]:
        key = _key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)

    server_cert, server_key = leaf(
        "localhost", [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    client_cert, client_key = leaf("edge-box", [x509.DNSName("edge-box")])
    files = {
        "ca": ca.public_bytes(serialization.Encoding.PEM),
        "server_cert": server_cert,
        "server_key": server_key,
        "client_cert": client_cert,
        "client_key": client_key,
    }
    paths = {}
    for name, data in files.items():
        path = directory / f"{name}.pem"
        path.write_bytes(data)
        paths[name] = path
    return paths


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[int, dict[str, Path], str]]:
    pki = make_pki(tmp_path)

    def inventory() -> str:
        site = Site.objects.create(name="TLS store")
        device = device_create(site=site, name="tls-box")
        Camera.objects.create(site=site, device=device, name="tls-cam")
        return device_issue_enrollment_token(device=device).token

    token = await sync_to_async(inventory)()
    servicer = EdgeServicer(pipeline=IngestPipeline(), settings=StreamSettings(ack_interval_s=0.05))
    server, port = await create_grpc_server(
        servicer=servicer,
        bind="127.0.0.1:0",
        tls_cert=str(pki["server_cert"]),
        tls_key=str(pki["server_key"]),
    )
    try:
        yield port, pki, token
    finally:
        await server.stop(grace=0.5)
        await sync_to_async(connections.close_all)()


async def test_edge_cli_enrolls_over_tls_and_plaintext_is_refused(
    tls_server: tuple[int, dict[str, Path], str], tmp_path: Path
) -> None:
    port, pki, token = tls_server
    state = tmp_path / "edge-state"
    process = await asyncio.create_subprocess_exec(
        str(BIN / "retail-edge"),
        "enroll",
        f"--server=localhost:{port}",
        f"--token={token}",
        "--tls",
        "--root-cert",
        str(pki["ca"]),
        "--state-dir",
        str(state),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, output.decode()
    credentials = state / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert json.loads(credentials.read_text())["device_id"] > 0
    # A plaintext client cannot talk to the TLS port.
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await edge_service_pb2_grpc.EdgeServiceStub(channel).Enroll(
                edge_service_pb2.EnrollRequest(enrollment_token="x" * 40), timeout=5
            )
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    # A client trusting another CA is refused too.
    (tmp_path / "other").mkdir()
    other = make_pki(tmp_path / "other")
    credentials_other = grpc.ssl_channel_credentials(root_certificates=other["ca"].read_bytes())
    async with grpc.aio.secure_channel(f"localhost:{port}", credentials_other) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await edge_service_pb2_grpc.EdgeServiceStub(channel).Enroll(
                edge_service_pb2.EnrollRequest(enrollment_token="x" * 40), timeout=5
            )
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_requires_a_client_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    servicer = EdgeServicer(pipeline=IngestPipeline(), settings=StreamSettings())
    server, port = await create_grpc_server(
        servicer=servicer,
        bind="127.0.0.1:0",
        tls_cert=str(pki["server_cert"]),
        tls_key=str(pki["server_key"]),
        tls_client_ca=str(pki["ca"]),
    )
    try:
        request = edge_service_pb2.EnrollRequest(enrollment_token="not-a-real-token-0123456789")
        without = grpc.ssl_channel_credentials(root_certificates=pki["ca"].read_bytes())
        async with grpc.aio.secure_channel(f"localhost:{port}", without) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await edge_service_pb2_grpc.EdgeServiceStub(channel).Enroll(request, timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        with_cert = grpc.ssl_channel_credentials(
            root_certificates=pki["ca"].read_bytes(),
            private_key=pki["client_key"].read_bytes(),
            certificate_chain=pki["client_cert"].read_bytes(),
        )
        async with grpc.aio.secure_channel(f"localhost:{port}", with_cert) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await edge_service_pb2_grpc.EdgeServiceStub(channel).Enroll(request, timeout=10)
        # The TLS handshake succeeded: the call reached the servicer, which refused the unknown token.
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await server.stop(grace=0.5)
        await sync_to_async(connections.close_all)()
