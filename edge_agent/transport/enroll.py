"""Enrollment: one-time token → device credentials (saved 0600) + the device's configuration."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import grpc

from edge_agent import __version__
from edge_agent.errors import EnrollmentError
from edge_agent.transport.convert import device_config_from_proto
from edge_agent.transport.credentials import DeviceCredentials, save_credentials
from edge_agent.types import RemoteDeviceConfig
from proto.retail.v1 import edge_service_pb2, edge_service_pb2_grpc

logger = logging.getLogger(__name__)


def enroll(
    *,
    server: str,
    token: str,
    credentials_path: Path,
    tls: bool = False,
    root_cert: Path | None = None,
    timeout_s: float = 15.0,
) -> tuple[DeviceCredentials, RemoteDeviceConfig]:
    """Exchange the token; write the credentials file (0600). Raises ``EnrollmentError`` with the reason."""
    if tls:
        pem = root_cert.read_bytes() if root_cert is not None else None
        channel = grpc.secure_channel(server, grpc.ssl_channel_credentials(root_certificates=pem))
    else:
        channel = grpc.insecure_channel(server)
    try:
        stub = edge_service_pb2_grpc.EdgeServiceStub(channel)
        request = edge_service_pb2.EnrollRequest(
            enrollment_token=token, hostname=socket.gethostname()[:253], software_version=__version__
        )
        try:
            response = stub.Enroll(request, timeout=timeout_s)
        except grpc.RpcError as err:
            code = err.code() if isinstance(err, grpc.Call) else None
            details = err.details() if isinstance(err, grpc.Call) else str(err)
            if code == grpc.StatusCode.UNAUTHENTICATED:
                raise EnrollmentError(f"the server refused the enrollment token: {details}") from err
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise EnrollmentError(f"cannot reach server {server}: {details}") from err
            raise EnrollmentError(f"enrollment failed ({code.name if code else 'error'}): {details}") from err
    finally:
        channel.close()
    credentials = DeviceCredentials(
        server=server,
        device_id=int(response.device_id),
        device_secret=response.device_secret,
        tls=tls,
        root_cert=str(root_cert) if root_cert is not None else None,
    )
    save_credentials(credentials_path, credentials)
    logger.info("enrolled as device %d; credentials saved to %s", credentials.device_id, credentials_path)
    return credentials, device_config_from_proto(response.config)
