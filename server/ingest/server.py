"""Creation of the grpc.aio ingest server (returns the bound port, so tests can bind port 0)."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc

from server.ingest.servicer import EdgeServicer

logger = logging.getLogger(__name__)

# Above the largest legitimate message (a 4 MiB snapshot); per-frame limits are enforced by the servicer, which
# answers with FrameRejected instead of ending the stream.
GRPC_MAX_RECEIVE_BYTES = 5 * 1024 * 1024


def _server_credentials(cert: str, key: str, client_ca: str) -> grpc.ServerCredentials:
    pair = (Path(key).read_bytes(), Path(cert).read_bytes())
    if client_ca:
        return grpc.ssl_server_credentials(
            [pair], root_certificates=Path(client_ca).read_bytes(), require_client_auth=True
        )
    return grpc.ssl_server_credentials([pair])


async def create_grpc_server(
    *,
    servicer: EdgeServicer,
    bind: str,
    tls_cert: str = "",
    tls_key: str = "",
    tls_client_ca: str = "",
    max_connection_age_s: float = 0.0,
    max_connection_age_grace_s: float = 60.0,
) -> tuple[grpc.aio.Server, int]:
    """Build and start the server; returns it with the port actually bound (bind "127.0.0.1:0" for a free one).

    With `max_connection_age_s`, a connection is told to go away after that long and closed
    `max_connection_age_grace_s` later whatever its calls do: grpc's asyncio server cannot cancel a call whose
    client does not read (see `server.ingest.servicer`), closing its connection ends it."""
    options: list[tuple[str, int]] = [
        ("grpc.max_receive_message_length", GRPC_MAX_RECEIVE_BYTES),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
    ]
    if max_connection_age_s > 0:
        options += [
            ("grpc.max_connection_age_ms", round(max_connection_age_s * 1000)),
            ("grpc.max_connection_age_grace_ms", round(max_connection_age_grace_s * 1000)),
        ]
    server = grpc.aio.server(options=options)
    server.add_generic_rpc_handlers((servicer.generic_handler(),))
    if tls_cert and tls_key:
        port = server.add_secure_port(bind, _server_credentials(tls_cert, tls_key, tls_client_ca))
    else:
        port = server.add_insecure_port(bind)
    if port == 0:
        raise OSError(f"could not bind the gRPC ingest server to {bind}")
    await server.start()
    logger.info("gRPC ingest listening on %s (port %d, %s)", bind, port, "TLS" if tls_cert else "plaintext")
    return server, port
