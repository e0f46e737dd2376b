"""The heat-map endpoint over 30 days with small-count suppression (k = 3) against the same endpoint with it off
(k = 1), interleaved in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python -m benchmarks.heatmap_privacy [--days 30]

Fills a fresh site with `days` of hourly heat-map rows (30 m x 20 m in 0.5 m cells = 2,400 cells, gamma-distributed
person-seconds: many near-empty cells, as on a real floor) and `--visits-per-day` visits (default 2,000), then
alternates the two settings call by call (after one warm-up each) and prints the median and max of each, the
number of cells each answer holds and the suppressed count. Goal: ≤ 300 ms per 30-day query. Without DATABASE_URL
it runs on a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))  # its sibling django_database


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--visits-per-day", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    from django_database import setup_django

    setup_django("retail-privacy-bench-")
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import override_settings
    from rest_framework.test import APIClient

    from server.insights.models import HeatmapHour, PersonVisit
    from server.inventory.models import FloorPlan, Site

    site = Site.objects.create(name=f"Privacy bench {time.time_ns()}")
    FloorPlan.objects.create(site=site, width_m=30, height_m=20, heatmap_cell_m=0.5)
    columns, rows = 60, 40
    rng = np.random.default_rng(args.seed)
    end = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=args.days)
    fill_started = time.perf_counter()
    HeatmapHour.objects.bulk_create(
        (
            HeatmapHour(
                site=site,
                hour_start=start + timedelta(hours=hour),
                columns=columns,
                rows=rows,
                cell_m=0.5,
                person_s=(rng.gamma(0.05, 2.0, columns * rows) * (rng.random(columns * rows) < 0.02))
                .astype("<f4")
                .tobytes(),
                displacement_x_m=np.zeros(columns * rows, dtype="<f4").tobytes(),
                displacement_y_m=np.zeros(columns * rows, dtype="<f4").tobytes(),
            )
            for hour in range(args.days * 24)
        ),
        batch_size=200,
    )
    total = args.days * args.visits_per_day
    offsets = rng.uniform(0, args.days * 86400, total)
    PersonVisit.objects.bulk_create(
        (
            PersonVisit(
                site=site,
                person_id=i,
                started_at=start + timedelta(seconds=float(offset)),
                ended_at=start + timedelta(seconds=float(offset) + 600),
            )
            for i, offset in enumerate(offsets)
        ),
        batch_size=5000,
    )
    fill_s = time.perf_counter() - fill_started
    user, _ = get_user_model().objects.get_or_create(username="privacy-bench")
    user.groups.add(Group.objects.get(name="staff"))
    client = APIClient(SERVER_NAME="localhost")
    client.force_authenticate(user)
    url = f"/api/sites/{site.pk}/analytics/heatmap"
    params = {"start": start.isoformat(), "end": end.isoformat()}
    print(
        f"database: {connection.vendor}; {args.days * 24} heat-map hours x {columns * rows} cells, {total:,} visits "
        f"over {args.days} days (filled in {fill_s:.1f} s)"
    )
    for bucket in ("", "1d", "1h"):
        query = {**params, "bucket": bucket} if bucket else params
        times: dict[int, list[float]] = {1: [], 3: []}
        answers: dict[int, dict[str, object]] = {}
        for round_index in range(args.rounds + 1):
            for k in (1, 3) if round_index % 2 == 0 else (3, 1):
                with override_settings(PRIVACY_MIN_PERSONS=k):
                    started = time.perf_counter()
                    response = client.get(url, query)
                    elapsed_ms = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, response.content[:300]
                if round_index > 0:  # round 0 warms both up
                    times[k].append(elapsed_ms)
                answers[k] = response.json()
        for k, label in ((1, "off (k = 1), reference"), (3, "on (k = 3)")):
            body = answers[k]
            privacy = body["privacy"]
            assert isinstance(privacy, dict)
            frames = body.get("frames", [])
            assert isinstance(frames, list)
            print(
                f"{bucket or 'no bucket':>9}, suppression {label:>22}: median {statistics.median(times[k]):6.1f} ms, "
                f"max {max(times[k]):6.1f} ms; {len(body['cells']):,} cells shown, "  # type: ignore[arg-type]
                f"{privacy['suppressed_cells']:,} suppressed, {len(frames)} frames (goal <= 300 ms)"
            )
    # A quiet hour: two visitors only, so the range rule hides everything.
    quiet_start = end + timedelta(days=1)
    PersonVisit.objects.bulk_create(
        PersonVisit(site=site, person_id=10**9 + i, started_at=quiet_start, ended_at=quiet_start)
        for i in range(2)
    )
    quiet = client.get(
        url, {"start": quiet_start.isoformat(), "end": (quiet_start + timedelta(hours=1)).isoformat()}
    )
    print(f"quiet hour with 2 visitors: range_suppressed={quiet.json()['privacy']['range_suppressed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
