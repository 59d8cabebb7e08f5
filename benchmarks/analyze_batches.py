"""The analyze function with its database: a full race's Kinesis events through the real handler.

    .venv/bin/python -m benchmarks.analyze_batches [--laps 57] [--batch N] [--write]

The events are the ones ``detection_throughput`` builds (10 s chunks, as many records per event
as the deployed batch size unless ``--batch`` says otherwise). Each goes through
``functions/analyze/handler.py`` as Lambda calls it, against PostgreSQL: ``DATABASE_URL`` when
set (a scratch database is created in it and dropped after), else an embedded server in a
temporary folder. Timed: every invocation (decode, duplicate check, detection, one transaction
with chunk rows, detections, states and the field), then the same events delivered again (all
duplicates). Lambda's CPU share (1 vCPU at 1 769 MB) and the network to RDS Proxy are not
modelled: one local core, a local socket.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from contextlib import contextmanager, redirect_stdout
from datetime import datetime, timezone
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import psycopg2

from benchmarks import machine, report
from benchmarks.detection_throughput import RUN, race_events
from infra.names import Settings


@contextmanager
def scratch_database():
    """A DSN of an empty, migrated database that is gone afterwards."""
    from apexflow.storage.db import embedded_server
    from apexflow.storage.migrate import migrate

    with tempfile.TemporaryDirectory() as folder:
        base = os.environ.get("DATABASE_URL") or embedded_server(folder).get_uri()
        name = f"apexflow_bench_{uuid.uuid4().hex[:8]}"
        admin = psycopg2.connect(base)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        parts = urlsplit(base)
        dsn = urlunsplit(parts._replace(path=f"/{name}"))
        try:
            migrate(dsn)
            yield dsn
        finally:
            with admin.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.close()


def deliver_twice(handler, events: list[dict], context) -> dict[str, list[float]]:
    """Seconds per invocation: every event once, then every event again."""
    passes = {}
    for label in ("first delivery", "delivered again (all duplicates)"):
        times = []
        for ev in events:
            t0 = time.perf_counter()
            failed = handler(ev, context)["batchItemFailures"]
            times.append(time.perf_counter() - t0)
            if failed:
                raise RuntimeError(f"{len(failed)} records failed")
        passes[label] = times
    return passes


def race_arguments(doc: str, argv) -> argparse.Namespace:
    """The options of a benchmark over a synthetic race's batches: --seed, --laps, --batch, --write."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--laps", type=int, default=57)
    ap.add_argument("--batch", type=int, default=Settings().analyze_batch_size)
    ap.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    return ap.parse_args(argv)


def heading(title: str, module: str, args: argparse.Namespace) -> list[str]:
    """A result's title with the date, then the command that made it and the machine and database it ran on."""
    database = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded PostgreSQL"
    return [f"## {title} — {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}", "",
            f"- command: `python -m benchmarks.{module} --seed {args.seed} --laps {args.laps} --batch {args.batch}"
            f"{' --write' if args.write else ''}`",
            f"- machine: {machine()}; database: {database} on the same machine"]


def main(argv=None) -> int:
    args = race_arguments(__doc__, argv)

    from apexflow.ingest import encode_session, register
    from apexflow.simulator import SyntheticRace
    from apexflow.storage.db import transaction
    from apexflow_aws.local.esm import LambdaContext
    from apexflow_aws.local.handlers import load

    events, _, rows, _ = race_events(args.seed, args.laps, args.batch)
    session, facts, _, _ = encode_session(SyntheticRace(seed=args.seed, laps=args.laps))
    with scratch_database() as dsn:
        conn = psycopg2.connect(dsn)
        with transaction(conn) as cur:
            register(cur, session, facts, RUN)
        conn.close()
        env = {"DATABASE_URL": dsn, "POWERTOOLS_SERVICE_NAME": "analyze", "POWERTOOLS_TRACE_DISABLED": "true",
               "POWERTOOLS_METRICS_NAMESPACE": "ApexFlowBench", "AWS_DEFAULT_REGION": "us-east-1"}
        with mock.patch.dict(os.environ, env), open(os.devnull, "w") as sink, redirect_stdout(sink):
            passes = deliver_twice(load("analyze").handler, events, LambdaContext("analyze"))  # metrics still printed
        with psycopg2.connect(dsn) as check, check.cursor() as cur:
            cur.execute("SELECT count(*), coalesce(sum(n_samples), 0) FROM telemetry_chunks")
            chunks, samples = cur.fetchone()
            cur.execute("SELECT count(*) FROM detections")
            detections = cur.fetchone()[0]
        check.close()
    if samples != rows:
        raise RuntimeError(f"stored {samples} samples of {rows}")
    lines = [
        *heading("Analyze function with PostgreSQL", "analyze_batches", args),
        f"- input: synthetic race seed {args.seed}, {args.laps} laps: {rows:,} samples in {chunks:,} chunks, "
        f"{len(events)} events of up to {args.batch} records; stored {detections} streaming and lap-level "
        "detections", "",
        "| pass | seconds | samples/s | per invocation: median | max |", "|---|---|---|---|---|",
    ]
    for label, times in passes.items():
        total = sum(times)
        lines.append(f"| {label} | {total:.2f} | {rows / total:,.0f} | {statistics.median(times):.3f} s | "
                     f"{max(times):.3f} s |")
    report("\n".join(lines) + "\n", args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
