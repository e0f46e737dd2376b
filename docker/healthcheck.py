"""Container health check of the server image (stdlib only; no curl in the slim image).

    python /opt/retail/healthcheck.py       # RETAIL_HEALTHCHECK=http (default): GET /api/health gives 200
    RETAIL_HEALTHCHECK=grpc python ...      # ingest-only process (--no-http): the gRPC port accepts TCP

Ports: RETAIL_HEALTH_HTTP_PORT (default 8000), RETAIL_HEALTH_GRPC_PORT (default 50051). Exit 0 = healthy.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 4.0


def check_http(port: int) -> tuple[bool, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/health", headers={"Host": "localhost", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            body = json.loads(response.read().decode() or "{}")
            return response.status == 200, f"status={body.get('status', '?')}"
    except urllib.error.HTTPError as err:
        return False, f"HTTP {err.code}"
    except (OSError, ValueError) as err:
        return False, f"{type(err).__name__}: {err}"


def check_tcp(port: int) -> tuple[bool, str]:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S):
            return True, f"port {port} accepts connections"
    except OSError as err:
        return False, f"port {port}: {err}"


def main() -> int:
    mode = os.environ.get("RETAIL_HEALTHCHECK", "http").strip().lower()
    if mode == "grpc":
        healthy, detail = check_tcp(int(os.environ.get("RETAIL_HEALTH_GRPC_PORT", "50051")))
    elif mode == "http":
        healthy, detail = check_http(int(os.environ.get("RETAIL_HEALTH_HTTP_PORT", "8000")))
    else:
        print(f"unhealthy: RETAIL_HEALTHCHECK={mode!r} must be http or grpc", file=sys.stderr)
        return 2
    print(("healthy: " if healthy else "unhealthy: ") + detail)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
