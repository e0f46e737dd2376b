"""Chain reports over 20 sites and 30 days of synthetic records: the chain overview endpoint and a scheduled
report's build (KPI queries + three charts rendered with matplotlib), with a same-run reference.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python -m benchmarks.reports [--sites 20 --days 30]

Fills `sites` fresh sites with `days` of visits (default 1,000 a day each, with exits), sales (250 a day each) and
a few alerts, runs ANALYZE, then times, interleaved round by round (median of `rounds`, after one warm-up):

- `GET /api/reports/chain` over the 30 days (goal ≤ 300 ms), through Django's test client (routing, session,
  permissions, JSON);
- reference: what a client without it does for the same figures, `GET /api/sites/<id>/analytics/visits` over the
  30 days once per site (one site's footfall series per call);
- the scheduled report's build for the chain (`server.reports.mail.build_report`) over a day, a week and the
  30 days (goal ≤ 10 s).

The records are deleted at the end. Without DATABASE_URL it runs on a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))  # its sibling django_database


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.1f} ms (min {min(samples) * 1000:.1f}, max {max(samples) * 1000:.1f})"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--visits-per-day", type=int, default=1000)
    parser.add_argument("--sales-per-day", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from django_database import setup_django

    setup_django("retail-reports-bench-")
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from rest_framework.test import APIClient

    from server.alerts.models import Alert
    from server.insights.models import PersonVisit
    from server.inventory.models import Site
    from server.reports.mail import build_report
    from server.sales.models import PosTransaction

    rng = np.random.default_rng(args.seed)
    end = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=args.days)
    span_s = args.days * 86_400
    stamp = time.time_ns()
    sites = [Site.objects.create(name=f"Bench store {i:02d} {stamp}") for i in range(args.sites)]
    site_ids = [site.pk for site in sites]
    fill_started = time.perf_counter()
    try:
        for site in sites:
            count = args.days * args.visits_per_day
            offsets = np.sort(rng.uniform(0, span_s, count))
            stays = rng.gamma(2.0, 300.0, count)
            PersonVisit.objects.bulk_create(
                [
                    PersonVisit(
                        site=site,
                        person_id=index,
                        started_at=start + timedelta(seconds=float(offset)),
                        ended_at=start + timedelta(seconds=float(offset + stay)),
                    )
                    for index, (offset, stay) in enumerate(zip(offsets, stays, strict=True))
                ],
                batch_size=5000,
            )
            sales = args.days * args.sales_per_day
            PosTransaction.objects.bulk_create(
                [
                    PosTransaction(
                        site=site,
                        occurred_at=start + timedelta(seconds=float(offset)),
                        till=str(index % 4),
                        amount=round(float(amount), 2),
                        key=f"id:{index}",
                    )
                    for index, (offset, amount) in enumerate(
                        zip(rng.uniform(0, span_s, sales), rng.gamma(2.0, 15.0, sales), strict=True)
                    )
                ],
                batch_size=5000,
            )
            Alert.objects.bulk_create(
                [
                    Alert(site=site, kind="alarm", message="bench", raised_at=start + timedelta(hours=hour))
                    for hour in range(0, args.days * 24, 12)
                ]
            )
        with (
            connection.cursor() as cursor
        ):  # as autovacuum leaves a table in steady use (visibility map, stats)
            for table in ("insights_personvisit", "sales_postransaction", "alerts_alert"):
                cursor.execute(
                    f"VACUUM ANALYZE {table}" if connection.vendor == "postgresql" else f"ANALYZE {table}"
                )
        fill_s = time.perf_counter() - fill_started
        print(
            f"filled {args.sites} sites x {args.days} days: {args.sites * args.days * args.visits_per_day:,} visits, "
            f"{args.sites * args.days * args.sales_per_day:,} sales in {fill_s:.1f} s ({connection.vendor})"
        )

        user = get_user_model().objects.create_user(username=f"bench-{stamp}", password="x" * 20)
        user.groups.add(Group.objects.get(name="staff"))
        client = APIClient(SERVER_NAME="localhost")
        client.force_authenticate(user)
        query = (
            f"start={start.isoformat().replace('+00:00', 'Z')}&end={end.isoformat().replace('+00:00', 'Z')}"
        )
        wanted = "&".join(f"site={site_id}" for site_id in site_ids)

        def chain() -> None:
            response = client.get(f"/api/reports/chain?{query}&{wanted}")
            assert response.status_code == 200, response.content[:300]
            assert len(response.json()["sites"]) == args.sites

        def per_site_visits() -> None:
            for site_id in site_ids:
                response = client.get(f"/api/sites/{site_id}/analytics/visits?{query}&bucket=day")
                assert response.status_code == 200, response.content[:300]

        def report(days: int) -> Callable[[], None]:
            def build() -> None:
                built = build_report(
                    name="Bench", site_ids=site_ids, start=end - timedelta(days=days), end=end, timezone="UTC"
                )
                assert len(built.sites) == args.sites
                assert len(built.images) == 3

            return build

        def kpi(fn: Callable[..., object]) -> Callable[[], object]:
            return lambda: fn(site_ids=site_ids, start=start, end=end)

        from server.reports import chain as chain_kpis
        from server.sales import visits as visit_reads
        from server.sales.selectors import sales_totals

        cases: dict[str, Callable[[], object]] = {
            "chain overview endpoint, 30 days": chain,
            f"reference: visits endpoint x {args.sites} sites, 30 days": per_site_visits,
            "report build, 1 day": report(1),
            "report build, 7 days": report(7),
            f"report build, {args.days} days": report(args.days),
            "  part: visits and mean visit (one pass)": kpi(visit_reads.visit_summary),
            "  part: sales": kpi(sales_totals),
            "  part: alerts": lambda: chain_kpis._alerts(site_ids, start, end),
        }
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for fn in cases.values():
            fn()  # warm-up (imports, matplotlib fonts, connection)
        for _ in range(args.rounds):
            for name, fn in cases.items():
                began = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - began)
        load = os.getloadavg()
        print(f"median of {args.rounds} interleaved rounds (load average {load[0]:.1f}, {load[1]:.1f}):")
        for name, values in samples.items():
            print(f"  {name}: {_median_ms(values)}")
        chain_ms = statistics.median(samples["chain overview endpoint, 30 days"]) * 1000
        report_s = statistics.median(samples[f"report build, {args.days} days"])
        print(f"goals: chain overview ≤ 300 ms: {chain_ms:.0f} ms; 20-site report ≤ 10 s: {report_s:.2f} s")
        user.delete()
    finally:
        for model in (PersonVisit, PosTransaction, Alert):
            model.objects.filter(site_id__in=site_ids)._raw_delete(connection.alias)  # no per-row signals
        Site.objects.filter(pk__in=site_ids).delete()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
