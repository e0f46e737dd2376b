"""The heat-map endpoint over 30 days with small-count suppression (k = 3, the default) against the same endpoint
with it off (k = 1), and each against the reference code (by default the `main` branch), interleaved in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python -m benchmarks.heatmap_privacy [--days 30]
        [--reference main|<directory>|none]

Fills a fresh site with `days` of hourly heat-map rows (30 m x 20 m in 0.5 m cells = 2,400 cells, gamma-distributed
person-seconds: many near-empty cells, as on a real floor) and `--visits-per-day` visits (default 2,000), brings the
planner's statistics up to date (VACUUM ANALYZE, as autovacuum would; CI's PostgreSQL runs without it), then per
bucket (none, 1d, 1h) calls the four variants (this code and the reference, k = 1 and k = 3) round by round, in an
order rotated each round, after one warm-up round, and prints the median (p50) and max of each with the number of
samples, the reference's median and the ratio, the number of cells each answer holds and the suppressed count, and
whether this code's answer is identical to the reference's (the reference runs in a child process on the same
database: `benchmarks/django_database.py`, ReferenceClient). Goal: ≤ 300 ms per 30-day query. Without
DATABASE_URL it runs on a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import json
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
    parser.add_argument(
        "--reference",
        default="main",
        help="git revision or checkout directory of the reference code; none: skip",
    )
    args = parser.parse_args()
    from django_database import ReferenceClient, analyze, setup_django

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
    analyze("insights_heatmaphour", "insights_personvisit")
    fill_s = time.perf_counter() - fill_started
    user, _ = get_user_model().objects.get_or_create(username="privacy-bench")
    user.groups.add(Group.objects.get(name="staff"))
    client = APIClient(SERVER_NAME="localhost")
    client.force_authenticate(user)
    reference = None if args.reference == "none" else ReferenceClient(args.reference, user.username)
    url = f"/api/sites/{site.pk}/analytics/heatmap"
    params = {"start": start.isoformat(), "end": end.isoformat()}
    print(
        f"database: {connection.vendor}; {args.days * 24} heat-map hours x {columns * rows} cells, {total:,} visits "
        f"over {args.days} days (filled in {fill_s:.1f} s); reference: {reference.label if reference else 'none'}"
    )
    variants = [(code, k) for code in (("new", "reference") if reference else ("new",)) for k in (1, 3)]
    for bucket in ("", "1d", "1h"):
        query = {**params, "bucket": bucket} if bucket else params
        times: dict[tuple[str, int], list[float]] = {variant: [] for variant in variants}
        answers: dict[tuple[str, int], dict[str, object]] = {}
        for round_index in range(args.rounds + 1):
            shift = round_index % len(variants)
            for code, k in variants[shift:] + variants[:shift]:
                if code == "reference":
                    assert reference is not None
                    elapsed_ms, status, text = reference.get(url, query, {"PRIVACY_MIN_PERSONS": k})
                    assert status == 200, text[:300]
                    answer = json.loads(text)
                else:
                    with override_settings(PRIVACY_MIN_PERSONS=k):
                        started = time.perf_counter()
                        response = client.get(url, query)
                        elapsed_ms = (time.perf_counter() - started) * 1000
                    assert response.status_code == 200, response.content[:300]
                    answer = response.json()
                if round_index > 0:  # round 0 warms each up
                    times[(code, k)].append(elapsed_ms)
                answers[(code, k)] = answer
        for k, label in ((1, "off (k = 1)"), (3, "on (k = 3)")):
            body = answers[("new", k)]
            privacy = body["privacy"]
            assert isinstance(privacy, dict)
            frames = body.get("frames", [])
            assert isinstance(frames, list)
            new_ms = statistics.median(times[("new", k)])
            against = ""
            if reference is not None:
                reference_ms = statistics.median(times[("reference", k)])
                same = "identical" if answers[("reference", k)] == body else "DIFFERENT"
                against = f" | reference {reference_ms:6.1f} ms: x{reference_ms / new_ms:.2f}, answers {same}"
            print(
                f"{bucket or 'no bucket':>9}, suppression {label:>11}: p50 {new_ms:6.1f} ms, "
                f"max {max(times[('new', k)]):6.1f} ms (n = {len(times[('new', k)])}){against}; "
                f"{len(body['cells']):,} cells shown, "  # type: ignore[arg-type]
                f"{privacy['suppressed_cells']:,} suppressed, {len(frames)} frames (goal <= 300 ms)"
            )
    if reference is not None:
        reference.close()
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
