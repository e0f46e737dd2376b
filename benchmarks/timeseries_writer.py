"""Points per second the BatchingWriter sustains into a local InfluxDB 1.x, against a bare batched
line-protocol POST loop in the same run (same points, same batch size, same encoder, one keep-alive HTTP
connection).

    .venv/bin/python -m benchmarks.timeseries_writer [--points 200000] [--batch-size 5000] [--rounds 3]
        [--url http://127.0.0.1:8086]

Without --url an ephemeral influxd is started (tests/support/influxdb.py). Each round runs both contenders in
alternating order into fresh databases; the medians are printed with their ratio (goal >= 0.9). The writer's
time runs from the first write() to the end of flush(), and its points are counted back from InfluxDB
afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid

import httpx

from server.timeseries import measurements as m
from server.timeseries.influx_v1 import InfluxV1Backend
from server.timeseries.lineprotocol import LineProtocolEncoder
from server.timeseries.types import Point, SeriesQuery
from server.timeseries.writer import BatchingWriter
from tests.support.influxdb import EphemeralInfluxDB

T0 = 1_700_000_000_000_000_000
PEOPLE_PER_FRAME = 20
PRODUCER_CHUNK = PEOPLE_PER_FRAME  # ingest hands the writer one frame's positions at a time


def make_points(count: int) -> list[Point]:
    """Positions of 20 people per frame, 10 sites, frames 40 ms apart (what ingest writes)."""
    points: list[Point] = []
    frame = 0
    while len(points) < count:
        positions = [(frame * 100 + k, (k * 0.37) % 30, (frame * 0.01) % 20) for k in range(PEOPLE_PER_FRAME)]
        points += m.position_points(site_id=frame % 10, time_ns=T0 + frame * 40_000_000, positions=positions)
        frame += 1
    return points[:count]


def create_database(client: httpx.Client, name: str) -> None:
    client.post("/query", data={"q": f'CREATE DATABASE "{name}"'}).raise_for_status()


def count_points(url: str, database: str) -> int:
    backend = InfluxV1Backend(url, database)
    try:
        rows = backend.query(
            SeriesQuery(m.POSITIONS, T0 - 1, T0 + 10**16, fields=["person_id"], aggregate="count")
        )
    finally:
        backend.close()
    return int(rows[0].fields["person_id"]) if rows else 0


def run_bare(url: str, points: list[Point], batch_size: int) -> float:
    database = f"bench_bare_{uuid.uuid4().hex[:8]}"
    encoder = LineProtocolEncoder()
    with httpx.Client(base_url=url, timeout=30.0) as client:
        create_database(client, database)
        params = {"db": database, "precision": "ns"}
        began = time.perf_counter()
        for start in range(0, len(points), batch_size):
            body = encoder.encode(points[start : start + batch_size]).body
            client.post("/write", params=params, content=body).raise_for_status()
        elapsed_s = time.perf_counter() - began
    stored = count_points(url, database)
    if stored != len(points):
        raise RuntimeError(f"bare loop stored {stored} of {len(points)} points")
    return len(points) / elapsed_s


def run_writer(url: str, points: list[Point], batch_size: int) -> float:
    database = f"bench_writer_{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=url, timeout=30.0) as client:
        create_database(client, database)
    backend = InfluxV1Backend(url, database, timeout_s=30.0)
    writer = BatchingWriter(backend, batch_size=batch_size, max_buffer_points=len(points) + batch_size)
    writer.start()
    try:
        began = time.perf_counter()
        for start in range(0, len(points), PRODUCER_CHUNK):
            writer.write(points[start : start + PRODUCER_CHUNK])
        if not writer.flush(timeout_s=300):
            raise RuntimeError(f"writer did not flush: {writer.stats()}")
        elapsed_s = time.perf_counter() - began
    finally:
        writer.stop(timeout_s=10)
        backend.close()
    stats = writer.stats()
    stored = count_points(url, database)
    if stats.dropped_points or stored != len(points):
        raise RuntimeError(f"writer stored {stored} of {len(points)} points: {stats}")
    return len(points) / elapsed_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--url", default="", help="an InfluxDB 1.x (or v1-compatible) URL; default: ephemeral"
    )
    args = parser.parse_args(argv)

    points = make_points(args.points)
    server = None if args.url else EphemeralInfluxDB().start()
    url = args.url or (server.url if server else "")
    try:
        bare: list[float] = []
        batched: list[float] = []
        run_bare(url, points[: args.batch_size * 2], args.batch_size)  # warm-up (connections, shard creation)
        for round_index in range(args.rounds):
            contenders = [("bare", run_bare, bare), ("writer", run_writer, batched)]
            if round_index % 2:
                contenders.reverse()
            for name, run, results in contenders:
                results.append(run(url, points, args.batch_size))
                print(f"round {round_index + 1}: {name:6s} {results[-1]:>10,.0f} points/s", flush=True)
    finally:
        if server is not None:
            server.close()
    bare_median = statistics.median(bare)
    writer_median = statistics.median(batched)
    print(f"points: {args.points:,}  batch size: {args.batch_size}  rounds: {args.rounds}  InfluxDB: {url}")
    print(f"bare batched line-protocol POST loop: {bare_median:>10,.0f} points/s (median)")
    print(f"BatchingWriter -> InfluxV1Backend:    {writer_median:>10,.0f} points/s (median)")
    print(f"ratio writer / bare: {writer_median / bare_median:.3f} (goal >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
