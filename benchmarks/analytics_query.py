"""30-day analytics queries: heat map and flow over 30 days of stored records, through the REST endpoints.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python -m benchmarks.analytics_query [--days 30]
        [--reference main|<directory>|none] [--rounds 7]

Fills a fresh site with `days` of hourly heat-map rows (a 30 m x 20 m floor in 0.5 m cells = 2,400 cells) and
zone transitions (default 3,000 a day), brings the planner's statistics up to date (VACUUM ANALYZE, as autovacuum
would; CI's PostgreSQL runs without it), then times each endpoint with Django's test client, i.e. including URL
routing, authentication, permission checks and JSON rendering: this code and the reference code (by default the
`main` branch, in a child process on the same database: `benchmarks/django_database.py`, ReferenceClient)
alternately, `--rounds` calls each after one warm-up, and prints the median (p50) and max with the number of
samples, the reference's median, the ratio and whether the two answers are identical. Goal: ≤ 300 ms each.
Without DATABASE_URL it runs on a temporary SQLite file. The retail KPIs' records are filled too: door counts
(default 3,000 crossings a day on each of two doors and one counting line, 10 % staff, stored as the recorder
stores them: per line and 15 minutes), detected visits (3,000 a day) and queue waits (600 a day, 10 % abandoned),
for the doors, visits, conversion and queues endpoints. `--timezone` sets the site's zone (default UTC): its
hourly and daily buckets are its local ones, so in another zone the reference (main before local buckets) answers
differently.
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
    parser.add_argument("--transitions-per-day", type=int, default=3000)
    parser.add_argument("--crossings-per-day", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--timezone",
        default="UTC",
        help="the site's time zone (its hourly and daily buckets are its local ones: docs/kpis.md)",
    )
    parser.add_argument(
        "--reference",
        default="main",
        help="git revision or checkout directory of the reference code; none: skip",
    )
    args = parser.parse_args()
    from django_database import ReferenceClient, analyze, setup_django

    setup_django("retail-query-bench-")
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from rest_framework.test import APIClient

    from server.insights.models import HeatmapHour, LineCount, PersonVisit, QueueWait, ZoneTransition
    from server.inventory.models import FloorPlan, Site, Zone, ZoneKind

    site = Site.objects.create(name=f"Query bench {time.time_ns()}", timezone=args.timezone)
    FloorPlan.objects.create(site=site, width_m=30, height_m=20, heatmap_cell_m=0.5)
    zones = [
        Zone.objects.create(site=site, name=f"Z{i}", polygon=[[i, 0], [i + 1, 0], [i + 1, 1], [i, 1]]).pk
        for i in range(8)
    ]
    columns, rows = 60, 40
    rng = np.random.default_rng(1)
    end = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=args.days)
    fill_started = time.perf_counter()
    hours = []
    for hour in range(args.days * 24):
        person_s = rng.gamma(0.3, 20.0, columns * rows).astype("<f4")
        hours.append(
            HeatmapHour(
                site=site,
                hour_start=start + timedelta(hours=hour),
                columns=columns,
                rows=rows,
                cell_m=0.5,
                person_s=person_s.tobytes(),
                displacement_x_m=rng.normal(0, 1, columns * rows).astype("<f4").tobytes(),
                displacement_y_m=rng.normal(0, 1, columns * rows).astype("<f4").tobytes(),
            )
        )
    HeatmapHour.objects.bulk_create(hours, batch_size=200)
    total = args.days * args.transitions_per_day
    offsets = rng.uniform(0, args.days * 86400, total)
    pairs = rng.integers(0, len(zones), (total, 2))
    ZoneTransition.objects.bulk_create(
        [
            ZoneTransition(
                site=site,
                person_id=i,
                from_zone_id=zones[a],
                to_zone_id=zones[b],
                at=start + timedelta(seconds=float(offset)),
            )
            for i, (offset, (a, b)) in enumerate(zip(offsets, pairs, strict=True))
        ],
        batch_size=5000,
    )
    lines = [
        Zone.objects.create(site=site, name=name, kind=kind, polygon=[[x, 5], [x, 9]]).pk
        for name, kind, x in (
            ("Door A", ZoneKind.DOOR, 1),
            ("Door B", ZoneKind.DOOR, 29),
            ("Aisle", ZoneKind.LINE, 15),
        )
    ]
    queue = Zone.objects.create(
        site=site, name="Queue", kind=ZoneKind.QUEUE, polygon=[[3, 1], [9, 1], [9, 3], [3, 3]]
    ).pk
    # The door counts as the recorder stores them: one row per line and 15-minute bucket.
    buckets = args.days * 96
    per_bucket = args.crossings_per_day / 96
    LineCount.objects.bulk_create(
        [
            LineCount(
                site=site,
                line_id=line,
                line_name="",
                entrance=index < 2,
                start=start + timedelta(minutes=15 * b),
                in_count=int(rng.poisson(per_bucket * 0.45)),
                out_count=int(rng.poisson(per_bucket * 0.45)),
                staff_in=int(rng.poisson(per_bucket * 0.05)),
                staff_out=int(rng.poisson(per_bucket * 0.05)),
            )
            for index, line in enumerate(lines)
            for b in range(buckets)
        ],
        batch_size=5000,
    )
    crossings = args.days * args.crossings_per_day * len(lines)
    visits = args.days * 3000
    PersonVisit.objects.bulk_create(
        [
            PersonVisit(
                site=site,
                person_id=10_000_000 + i,
                started_at=start + timedelta(seconds=float(second)),
                ended_at=start + timedelta(seconds=float(second) + 600),
                staff=i % 10 == 0,
            )
            for i, second in enumerate(rng.uniform(0, args.days * 86400, visits))
        ],
        batch_size=5000,
    )
    waits = args.days * 600
    QueueWait.objects.bulk_create(
        [
            QueueWait(
                site=site,
                zone_id=queue,
                person_id=i,
                joined_at=start + timedelta(seconds=float(second)),
                served_at=None if i % 10 == 0 else start + timedelta(seconds=float(second) + 60),
                left_at=start + timedelta(seconds=float(second) + 60),
                wait_s=None if i % 10 == 0 else float(rng.gamma(2.0, 40.0)),
            )
            for i, second in enumerate(rng.uniform(0, args.days * 86400, waits))
        ],
        batch_size=5000,
    )
    analyze(
        "insights_heatmaphour",
        "insights_zonetransition",
        "insights_linecount",
        "insights_personvisit",
        "insights_queuewait",
        "insights_zonedwell",
        "insights_distancingviolation",
    )
    fill_s = time.perf_counter() - fill_started
    user, _ = get_user_model().objects.get_or_create(username="query-bench")
    user.groups.add(Group.objects.get(name="staff"))
    client = APIClient(SERVER_NAME="localhost")
    client.force_authenticate(user)
    reference = None if args.reference == "none" else ReferenceClient(args.reference, user.username)
    print(
        f"database: {connection.vendor}; {len(hours)} heat-map hours x {columns * rows} cells, "
        f"{total:,} zone transitions, {crossings:,} line crossings "
        f"(as {buckets * len(lines):,} 15-minute counts), {visits:,} visits, {waits:,} queue waits over "
        f"{args.days} days (filled in {fill_s:.1f} s), site in {args.timezone}; "
        f"reference: {reference.label if reference else 'none'}"
    )
    codes = ("new", "reference") if reference else ("new",)
    names = (
        "heatmap",
        "flow",
        "visits",
        "visits?day",
        "distancing",
        "dwell",
        "doors",
        "doors?staff",
        "queues",
    )
    for name in (*names, "conversion"):
        url = f"/api/sites/{site.pk}/analytics/{name.split('?')[0]}"
        params = {"start": start.isoformat(), "end": end.isoformat()}
        if name.endswith("?staff"):
            params["include_staff"] = "true"
        if name in ("doors", "visits?day"):
            params["bucket"] = "day"
        times_ms: dict[str, list[float]] = {code: [] for code in codes}
        bodies: dict[str, bytes] = {}
        for round_index in range(args.rounds + 1):
            for code in codes if round_index % 2 == 0 else codes[::-1]:
                if code == "reference":
                    assert reference is not None
                    elapsed_ms, status, text = reference.get(url, params)
                    body = text.encode()
                else:
                    started = time.perf_counter()
                    response = client.get(url, params)
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    status, body = response.status_code, response.content
                assert status == 200, (name, code, status, body[:300])
                if round_index > 0:  # round 0 warms both up
                    times_ms[code].append(elapsed_ms)
                bodies[code] = body
        new_ms = statistics.median(times_ms["new"])
        against = ""
        if reference is not None:
            reference_ms = statistics.median(times_ms["reference"])
            # the live parts of an answer (queues' length from the live state) may move between the calls
            same = (
                "identical" if json.loads(bodies["reference"]) == json.loads(bodies["new"]) else "DIFFERENT"
            )
            against = f" | reference {reference_ms:6.1f} ms: x{reference_ms / new_ms:.2f}, answers {same}"
        print(
            f"{name:>11}: p50 {new_ms:6.1f} ms, max {max(times_ms['new']):6.1f} ms "
            f"(n = {len(times_ms['new'])}, {len(bodies['new']):,} bytes){against} (goal <= 300 ms)"
        )
    if reference is not None:
        reference.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
