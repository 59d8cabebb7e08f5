"""Latency of every API route over HTTP, as ``apexflow serve`` answers it, on a full race in the database.

    .venv/bin/python -m benchmarks.api_latency [--laps 57] [--requests 200] [--burst 500 --threads 50] [--write]

A synthetic race goes through the local pipeline (ingest, analyze, insights) into a scratch database
(``DATABASE_URL`` when set, else an embedded server) and moto's S3; then each route is asked ``--requests``
times for one page (the default page size) after 10 warm-up requests, one request at a time over a
fresh local TCP connection. Timed: request sent to response read. Target: p99 under 100 ms.

Side by side: ``--burst`` requests (``/health`` and the lists, in turn) from ``--threads`` client threads at
once, while one client holds a half-sent request open the whole time; every answer must be a 200. Reported:
p50/p99 of a request and the wall time of the burst.
"""
from __future__ import annotations

import argparse
import http.client
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr
from datetime import UTC, datetime
from io import StringIO

from benchmarks import machine, report
from benchmarks.analyze_batches import scratch_database

TARGET_MS = 100
ROUTES = ["/health", "/sessions", "{s}", "{s}/drivers", "{s}/laps", "{s}/laps?driver=VER&lap_time<=100",
          "{s}/stints", "{s}/pit_stops", "{s}/track_status", "{s}/race_control", "{s}/results", "{s}/detections",
          "{s}/detections?score>0.5&format=csv", "{s}/insights", "{s}/drivers/VER/insight",
          "{s}/compare?drivers=VER,HAM", "{s}/telemetry?driver=VER&lap={lap}&points=1000"]


def timed(port: int, target: str, n: int) -> list[float]:
    """Milliseconds of ``n`` GET requests (after 10 unmeasured), each on its own connection."""
    out = []
    for i in range(n + 10):
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", target)
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"GET {target} answered {response.status}")
        if i >= 10:
            out.append((time.perf_counter() - t0) * 1000)
    return out


def side_by_side(port: int, targets: list[str], burst: int, threads: int) -> tuple[list[float], float]:
    """Milliseconds of each of ``burst`` GETs sent from ``threads`` threads at once (a half-sent request held open
    meanwhile), and the burst's wall time in seconds."""
    def one(target: str) -> float:
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", target)
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"GET {target} answered {response.status} side by side")
        return (time.perf_counter() - t0) * 1000

    with socket.create_connection(("127.0.0.1", port)) as stalled, ThreadPoolExecutor(threads) as pool:
        stalled.sendall(b"POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        t0 = time.perf_counter()
        out = list(pool.map(one, [targets[i % len(targets)] for i in range(burst)]))
        return out, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--laps", type=int, default=57)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--burst", type=int, default=500, help="requests sent side by side")
    ap.add_argument("--threads", type=int, default=50, help="client threads of the burst")
    ap.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)

    from apexflow_local import demo
    from apexflow_local.handlers import load
    from apexflow_local.http_api import make_server
    from apexflow_local.stack import local_stack

    with scratch_database() as dsn, local_stack(dsn=dsn):
        with redirect_stderr(StringIO()):
            trip = demo.trip(7, args.laps, dsn)
        server = make_server(load("api").handler, port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        with redirect_stderr(StringIO()):  # the server's request log
            session = f"/sessions/{trip['ingest']['session_id']}"
            results = {r: timed(server.server_port, r.format(s=session, lap=min(10, args.laps)), args.requests)
                       for r in ROUTES}
            lists = [r.format(s=session) for r in ROUTES[:12]]
            burst, wall = side_by_side(server.server_port, lists, args.burst, args.threads)
        server.shutdown()
        server.server_close()
    worst = max(statistics.quantiles(ms, n=100)[98] for ms in results.values())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"## API latency over HTTP (apexflow serve) — {when}", "",
             f"- command: `python -m benchmarks.api_latency --laps {args.laps} --requests {args.requests}"
             f" --burst {args.burst} --threads {args.threads}{' --write' if args.write else ''}`",
             f"- machine: {machine()}; PostgreSQL and moto S3 on the same machine",
             f"- data: synthetic race seed 7, {args.laps} laps, {trip['ingest']['samples']:,} samples, "
             f"{len(trip['overview']['detections'])} detections; one page (100 rows) per list",
             f"- target: p99 under {TARGET_MS} ms for lists of one page: "
             f"**{'met' if worst < TARGET_MS else 'not met'}** (worst p99 {worst:.1f} ms)", "",
             "| route | p50 ms | p99 ms |", "|---|---|---|"]
    for route, ms in results.items():
        shown = route.format(s="/sessions/{id}", lap=min(10, args.laps))
        lines.append(f"| `GET {shown}` | {statistics.median(ms):.1f} | {statistics.quantiles(ms, n=100)[98]:.1f} |")
    lines += ["", (f"Side by side: {args.burst} requests (`/health` and the lists in turn) from {args.threads} "
                   f"threads at once, a half-sent request held open throughout: all answered 200 in {wall:.2f} s; "
                   f"p50 {statistics.median(burst):.1f} ms, p99 {statistics.quantiles(burst, n=100)[98]:.1f} ms "
                   "a request.")]
    report("\n".join(lines) + "\n", args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
