"""Container health check of the edge images (stdlib only).

Healthy while the agent keeps writing its state: every analysed frame goes through the on-disk spool, so a
file in the state directory (RETAIL_EDGE_STATE_DIR, default /var/lib/retail-edge) modified within
RETAIL_EDGE_HEALTH_MAX_AGE_S seconds (default 120) means the pipeline runs. A box whose cameras all fail, or
whose agent hangs, turns unhealthy.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def newest_mtime_s(state_dir: Path) -> float | None:
    newest: float | None = None
    for path in state_dir.rglob("*"):
        try:
            if path.is_file():
                modified_s = path.stat().st_mtime
                newest = modified_s if newest is None else max(newest, modified_s)
        except OSError:
            continue
    return newest


def main() -> int:
    state_dir = Path(os.environ.get("RETAIL_EDGE_STATE_DIR", "/var/lib/retail-edge"))
    max_age_s = float(os.environ.get("RETAIL_EDGE_HEALTH_MAX_AGE_S", "120"))
    newest = newest_mtime_s(state_dir) if state_dir.is_dir() else None
    if newest is None:
        print(f"unhealthy: nothing written in {state_dir} yet")
        return 1
    age_s = time.time() - newest
    if age_s > max_age_s:
        print(f"unhealthy: last write in {state_dir} {age_s:.0f} s ago (limit {max_age_s:.0f} s)")
        return 1
    print(f"healthy: last write in {state_dir} {age_s:.0f} s ago")
    return 0


if __name__ == "__main__":
    sys.exit(main())
