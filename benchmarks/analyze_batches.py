"""The analyze function with its database: a full race's Kinesis events through the real handler.

    .venv/bin/python -m benchmarks.analyze_batches [--laps 57] [--batch N] [--repeat 3] [--profile] [--write]

``--repeat N`` runs N rounds, each on the session registered afresh, and keeps each pass's fastest (a shared
machine's slow spells cost a round, not the figure); ``--profile`` samples the first round's first delivery
with pyinstrument and prints the call tree.

The events are the ones ``detection_throughput`` builds (10 s chunks, as many records per event
as the deployed batch size unless ``--batch`` says otherwise). Each goes through
``functions/analyze/handler.py`` as Lambda calls it, against PostgreSQL: ``DATABASE_URL`` when
set (a scratch database is created in it and dropped after), else an embedded server in a
temporary folder. Timed: every invocation (decode, duplicate check, detection, one transaction
with chunk rows, samples, detections, states and the field), then the same events delivered again
(all duplicates), each pass with the CPU seconds of the handler's process and of its database
backend (where the server runs on this machine; on a shared machine they move less than wall time).
Lambda's CPU share (1 vCPU at 1 769 MB) and the network to RDS Proxy are not
modelled: one local core, a local socket.

Peak memory: the session is registered afresh and its first (full) event goes through the handler in a
fresh interpreter, which reports its peak resident set (Linux's ``VmHWM``: interpreter, imports, the
event and the invocation; what Lambda reports as max memory used; ``ru_maxrss`` would carry the parent's
over ``exec``) and its resident set before the call.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager, redirect_stdout
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import psycopg2

from benchmarks import busy, machine, report
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


def deliver_twice(handler, events: list[dict], context, profiler=None
                  ) -> tuple[dict[str, list[float]], dict[str, tuple]]:
    """Seconds per invocation, every event once, then every event again; and per pass the CPU seconds of this
    process and of the handler's database backend (None where the server is not on this machine). A
    ``profiler`` (pyinstrument's) samples the first pass."""
    from apexflow_aws.config import connection

    conn = connection()  # the one the handler reuses
    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    conn.rollback()
    passes, cpu = {}, {}
    for label in ("first delivery", "delivered again (all duplicates)"):
        times, before = [], (time.process_time(), cpu_seconds(backend))
        if profiler is not None and label == "first delivery":
            profiler.start()
        for ev in events:
            t0 = time.perf_counter()
            failed = handler(ev, context)["batchItemFailures"]
            times.append(time.perf_counter() - t0)
            if failed:
                raise RuntimeError(f"{len(failed)} records failed")
        if profiler is not None and profiler.is_running:
            profiler.stop()
        passes[label] = times
        server = cpu_seconds(backend)
        cpu[label] = (time.process_time() - before[0], None if server is None else server - before[1])
    return passes, cpu


def cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) a process of this machine has used so far; None if it is not here."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_memory(event: dict, env: dict) -> dict[str, float]:
    """MB resident in a fresh interpreter running the handler on ``event``: before the call and at the peak."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "event.json")
        with open(path, "w") as fh:
            json.dump(event, fh)
        subprocess.run([sys.executable, "-m", "benchmarks.analyze_batches", "--probe", path], check=True,
                       env={**os.environ, **env}, stdout=subprocess.DEVNULL)
        with open(path + ".rss") as fh:
            return json.load(fh)


def probe(path: str) -> None:
    """The child of ``peak_memory``: the handler once on the event in ``path``; MB resident to ``path.rss``."""
    from apexflow_local.esm import LambdaContext
    from apexflow_local.handlers import load

    handler = load("analyze").handler
    with open(path) as fh:
        event = json.load(fh)
    before = resident()["VmRSS"]
    if handler(event, LambdaContext("analyze"))["batchItemFailures"]:
        raise RuntimeError("records failed")
    with open(path + ".rss", "w") as fh:
        json.dump({"before": before, "peak": resident()["VmHWM"]}, fh)


def resident() -> dict[str, float]:
    """This process's resident set now (``VmRSS``) and at its peak (``VmHWM``), in MB."""
    with open("/proc/self/status") as fh:
        fields = dict(line.split(":", 1) for line in fh)
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}


def race_arguments(doc: str, argv, rounds: bool = False) -> argparse.Namespace:
    """The options of a benchmark over a synthetic race's batches: --seed, --laps, --batch, --write; with
    ``rounds``, --repeat and --profile too."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--laps", type=int, default=57)
    ap.add_argument("--batch", type=int, default=Settings().analyze_batch_size)
    ap.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    if rounds:
        ap.add_argument("--repeat", type=int, default=1, help="rounds, each on a fresh session; the fastest counts")
        ap.add_argument("--profile", action="store_true", help="sample the first round's first delivery with "
                        "pyinstrument and print its call tree (pip install pyinstrument)")
    return ap.parse_args(argv)


def heading(title: str, module: str, args: argparse.Namespace) -> list[str]:
    """A result's title with the date, then the command that made it and the machine and database it ran on."""
    database = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded PostgreSQL"
    return [f"## {title} — {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}", "",
            f"- command: `python -m benchmarks.{module} --seed {args.seed} --laps {args.laps} --batch {args.batch}"
            f"{f' --repeat {args.repeat}' if getattr(args, 'repeat', 1) > 1 else ''}"
            f"{' --write' if args.write else ''}`",
            f"- machine: {machine()}; {busy()}; database: {database} on the same machine"]


def main(argv=None) -> int:
    if argv is None and sys.argv[1:2] == ["--probe"]:
        probe(sys.argv[2])
        return 0
    args = race_arguments(__doc__, argv, rounds=True)

    from apexflow.pipeline.ingest import encode_session, register
    from apexflow.simulator import SyntheticRace
    from apexflow.storage.db import transaction
    from apexflow.storage.registry import delete_session
    from apexflow_local.esm import LambdaContext
    from apexflow_local.handlers import load

    events, _, rows, _ = race_events(args.seed, args.laps, args.batch)
    session, facts, _, _ = encode_session(SyntheticRace(seed=args.seed, laps=args.laps))
    with scratch_database() as dsn:
        env = {"DATABASE_URL": dsn, "POWERTOOLS_SERVICE_NAME": "analyze", "POWERTOOLS_TRACE_DISABLED": "true",
               "POWERTOOLS_METRICS_NAMESPACE": "ApexFlowBench", "AWS_DEFAULT_REGION": "us-east-1"}
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
        passes, cpu = {}, {}
        for round_ in range(args.repeat):  # each round afresh; per pass, the round of least wall time counts
            conn = psycopg2.connect(dsn)
            with transaction(conn) as cur:
                delete_session(cur, session.session_id)
                register(cur, session, facts, RUN)
            conn.close()
            with mock.patch.dict(os.environ, env), open(os.devnull, "w") as sink, redirect_stdout(sink):
                took, used = deliver_twice(load("analyze").handler, events, LambdaContext("analyze"),
                                           profiler if round_ == 0 else None)  # metrics printed
            for label, times in took.items():
                if label not in passes or sum(times) < sum(passes[label]):
                    passes[label], cpu[label] = times, used[label]
        with psycopg2.connect(dsn) as check, check.cursor() as cur:
            cur.execute("SELECT count(*), coalesce(sum(n_samples), 0) FROM telemetry_chunks")
            chunks, samples = cur.fetchone()
            cur.execute("SELECT count(*) FROM detections")
            detections = cur.fetchone()[0]
        check.close()
        conn = psycopg2.connect(dsn)
        with transaction(conn) as cur:  # afresh: the probe's event is a first delivery
            delete_session(cur, session.session_id)
            register(cur, session, facts, RUN)
        conn.close()
        memory = peak_memory(events[0], env)
    if samples != rows:
        raise RuntimeError(f"stored {samples} samples of {rows}")
    lines = [
        *heading("Analyze function with PostgreSQL", "analyze_batches", args),
        f"- input: synthetic race seed {args.seed}, {args.laps} laps: {rows:,} samples in {chunks:,} chunks, "
        f"{len(events)} events of up to {args.batch} records; stored {detections} streaming and lap-level "
        "detections", "",
        "| pass | seconds | samples/s | per invocation: median | max | CPU s: handler | database backend |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, times in passes.items():
        total, (handler, backend) = sum(times), cpu[label]
        lines.append(f"| {label} | {total:.2f} | {rows / total:,.0f} | {statistics.median(times):.3f} s | "
                     f"{max(times):.3f} s | {handler:.2f} | {'-' if backend is None else f'{backend:.2f}'} |")
    lines += ["", f"Peak memory, one event of {len(events[0]['Records'])} records through the handler in a fresh "
              f"interpreter (VmHWM): {memory['peak']:.0f} MB ({memory['before']:.0f} MB before the call)."]
    report("\n".join(lines) + "\n", args.write)
    if profiler is not None:
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
