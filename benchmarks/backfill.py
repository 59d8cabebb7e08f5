"""Backfill throughput: every frozen real F1 session ingested by ``apexflow ingest fastf1 --list``, side by side.

    .venv/bin/python -m benchmarks.backfill [--cache ../shared/data/fastf1-http-cache] [--jobs 1 2] [--write]

The sessions are ``detection_quality.REAL_SESSIONS`` (FastF1 offline from the frozen responses: timing, laps,
track status, race-control messages; no car data). Each run is ``apexflow_local.backfill.run`` as the CLI calls it,
on a fresh scratch database, a fresh local S3 folder and a cold FastF1 parsed-data cache, once per ``--jobs``
value: every session is the real ingest handler, registered with its laps and lap-level detections, and its
insights workflow (offline provider) run, in a worker process of its own.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

from benchmarks import busy, machine, report
from benchmarks.analyze_batches import scratch_database
from benchmarks.detection_quality import REAL_SESSIONS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fastf1-http-cache"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(SHARED), help="the frozen FastF1 HTTP responses")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    ap.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    from apexflow_local import backfill

    specs = [{"source": "fastf1", "year": y, "event": e, "session": s, "chunk_seconds": 10.0}
             for y, e, s in REAL_SESSIONS]
    load = busy()
    rows = []
    for jobs in args.jobs:
        with scratch_database() as dsn, tempfile.TemporaryDirectory() as folder, mock.patch.dict(os.environ, {
                "DATABASE_URL": dsn, "FASTF1_HTTP_CACHE": args.cache, "FASTF1_CACHE": f"{folder}/ff1",
                "APEXFLOW_S3_DIR": f"{folder}/s3", "APEXFLOW_HOME": f"{folder}/home"}):
            t0 = time.perf_counter()
            outcomes = backfill.run(specs, jobs, report=lambda o: None)
            seconds = time.perf_counter() - t0
        failed = [o for o in outcomes if o.error]
        if failed:
            raise RuntimeError("; ".join(f"{o.name}: {o.error}" for o in failed))
        laps = sum(o.result.get("laps", 0) for o in outcomes)
        rows.append((jobs, seconds, laps, sorted(o.seconds for o in outcomes)))
    base = rows[0][1]
    lines = [f"## Backfill: {len(specs)} real F1 sessions, side by side — "
             f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}", "",
             f"- command: `python -m benchmarks.backfill --jobs {' '.join(map(str, args.jobs))}"
             f"{' --write' if args.write else ''}` (each run: `apexflow ingest fastf1 --list FILE --jobs N` as the "
             "CLI runs it)",
             f"- machine: {machine()}; {load}; embedded PostgreSQL on the same machine",
             "- sessions: every frozen real session (timing, laps, track status, race-control messages; no car data "
             "in the frozen responses, so no samples), each ingested, registered, lap-level detections and its "
             "insights workflow run; a cold FastF1 parsed-data cache per run", "",
             "| sessions at once | seconds | sessions a minute | laps a second | vs 1 at a time | "
             "per session: fastest | median | slowest |", "|---|---|---|---|---|---|---|---|"]
    for jobs, seconds, laps, each in rows:
        lines.append(f"| {jobs} | {seconds:.1f} | {len(specs) / seconds * 60:.1f} | {laps / seconds:,.0f} | "
                     f"{base / seconds:.2f} x | {each[0]:.1f} s | {each[len(each) // 2]:.1f} s | {each[-1]:.1f} s |")
    report("\n".join(lines) + "\n", args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
