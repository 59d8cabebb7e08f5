"""Cold starts: every function's handler file imported by a fresh interpreter, then its first event served.

    .venv/bin/python -m benchmarks.cold_start [--runs 5] [--only api,analyze] [--write]

Two measurements per function, each the median of ``--runs`` fresh interpreters (Python's own start is not
counted, as Lambda's runtime start is not the function's):

- import: the handler file loaded by path as Lambda loads it (``functions/<name>/handler.py``), nothing
  imported before;
- first event: in another fresh interpreter, the handler loaded first (not timed), then its first event timed:
  analyze a Kinesis event of one chunk not stored yet, api ``GET /sessions/{id}``, insights the workflow's
  ``start`` task (offline provider), ingest a synthetic race of 1 lap and 2 cars into S3 and Kinesis.
  PostgreSQL (a scratch database, the session registered before) is set up outside the timed part; the
  ingest child starts moto in its own process before the clock, which imports boto3 early, so its import
  figure is the one to add.

migrate (a deploy-time custom resource) and the live task (``functions/ingest/live_task.py``, a long-running
Fargate task) are timed on import only. Cold start = import + first event; target: analyze and API <= 300 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import busy, machine, report

ROOT = Path(__file__).resolve().parents[1]
FILES = {"analyze": "analyze/handler.py", "api": "api/handler.py", "insights": "insights/handler.py",
         "ingest": "ingest/handler.py", "migrate": "migrate/handler.py", "live": "ingest/live_task.py"}
TARGET_MS = {"analyze": 300, "api": 300}

CHILD = r"""
import importlib.util, json, os, sys, time
spec = json.loads(sys.argv[1])
moto = None
if spec.get("moto"):
    from moto import mock_aws
    moto = mock_aws()
    moto.start()
    import boto3
    boto3.client("s3").create_bucket(Bucket=os.environ["RAW_BUCKET"])
    boto3.client("kinesis").create_stream(StreamName=os.environ["STREAM_NAME"], ShardCount=1)
t0, c0 = time.perf_counter(), time.process_time()
mod_spec = importlib.util.spec_from_file_location("cold_start_" + spec["name"], spec["path"])
module = importlib.util.module_from_spec(mod_spec)
mod_spec.loader.exec_module(module)
out = {"import": time.perf_counter() - t0, "import_cpu": time.process_time() - c0}
if spec.get("event") is not None:
    from apexflow_local.esm import LambdaContext
    context = LambdaContext("apexflow-%s-local" % spec["name"])
    t0 = time.perf_counter()
    result = module.handler(spec["event"], context)
    out["event"] = time.perf_counter() - t0
    out["ok"] = spec["check"] in json.dumps(result, default=str)
print(json.dumps(out))
"""


def child(name: str, env: dict, event: dict | None = None, check: str = "", moto: bool = False) -> dict:
    spec = {"name": name, "path": str(ROOT / "functions" / FILES[name]), "event": event, "check": check,
            "moto": moto}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{name}: the fresh interpreter failed:\n{done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if event is not None and not out["ok"]:
        raise RuntimeError(f"{name}: the first event was not served (no {check!r} in the response)")
    return out


def prepare(dsn: str) -> tuple[str, list[bytes]]:
    """Register a short synthetic race; its session id and its chunks' encoded records (none analyzed)."""
    from apexflow.pipeline.ingest import encode_session, register
    from apexflow.simulator import SyntheticRace
    from apexflow.storage.db import connect, transaction

    session, facts, run_id, encoded = encode_session(SyntheticRace(seed=3, laps=2, cars=20))
    session.meta = {**session.meta, "chunks": len(encoded)}
    conn = connect(dsn)
    with transaction(conn) as cur:
        register(cur, session, facts, run_id)
    conn.close()
    return session.session_id, [data for _, _, _, data in encoded]


def kinesis_event(data: bytes, seq: int) -> dict:
    from datetime import datetime as dt

    from apexflow_local.esm import kinesis_event as event

    record = {"PartitionKey": "cold-start", "SequenceNumber": str(seq), "Data": data,
              "ApproximateArrivalTimestamp": dt.now(UTC)}
    return event([record], "shardId-000000000000", "arn:aws:kinesis:us-east-1:123456789012:stream/cold", "us-east-1")


def measure(runs: int, only: list[str]) -> dict[str, dict]:
    from apexflow_local.http_api import api_event
    from apexflow_local.stack import _LOCAL_ENV, BUCKET, STREAM
    from benchmarks.analyze_batches import scratch_database

    results: dict[str, dict] = {name: {"import": [], "import_cpu": [], "event": []} for name in only}
    with scratch_database() as dsn:
        session_id, records = prepare(dsn)
        env = {**os.environ, **_LOCAL_ENV, "DATABASE_URL": dsn, "RAW_BUCKET": BUCKET, "STREAM_NAME": STREAM}
        env.pop("INSIGHTS_STATE_MACHINE_ARN", None)
        env.pop("OPENAI_SECRET_ARN", None)
        for i in range(runs):
            for name in only:
                out = child(name, env)
                results[name]["import"].append(out["import"])
                results[name]["import_cpu"].append(out["import_cpu"])
            events = {
                "analyze": (kinesis_event(records[i * 7 % len(records)], i), '"batchItemFailures": []', False),
                "api": (api_event("GET", f"/sessions/{session_id}"), session_id, False),
                "insights": ({"task": "start", "request": {"session_id": session_id, "provider": "offline"}},
                             "run_id", False),
                "ingest": ({"source": "synthetic", "seed": 100 + i, "laps": 1, "cars": 2}, "run_id", True),
            }
            for name, (event, check, moto) in events.items():
                if name not in only:
                    continue
                results[name]["event"].append(child(name, env, event, check, moto)["event"])
    return results


def render(results: dict[str, dict], runs: int, command: str, load: str) -> str:
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    lines = [f"## Cold starts: import + first event, fresh interpreters — {when}", "", f"- command: `{command}`",
             f"- machine: {machine()}; {load}; PostgreSQL (scratch database) and moto set up before the clock",
             f"- median of {runs} fresh interpreters each; target: analyze and API <= 300 ms",
             "- import CPU ms: the process's CPU time for the import (what a busy machine's wait does not inflate)", "",
             "| function | import ms | first event ms | cold start ms | target | import CPU ms |",
             "|---|---|---|---|---|---|"]
    for name, r in results.items():
        imp = statistics.median(r["import"]) * 1000
        first = statistics.median(r["event"]) * 1000 if r["event"] else None
        total = imp + (first or 0.0)
        target = TARGET_MS.get(name)
        verdict = "" if target is None else f"<= {target}: {'met' if total <= target else 'NOT met'}"
        cpu = statistics.median(r["import_cpu"]) * 1000
        lines.append(f"| {name} | {imp:.0f} | {'' if first is None else f'{first:.0f}'} | "
                     f"{total:.0f}{'' if first is not None else ' (import only)'} | {verdict} | {cpu:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default=",".join(FILES), help=f"comma-separated functions (of {', '.join(FILES)})")
    ap.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    only = [name for name in args.only.split(",") if name]
    if not only or set(only) - set(FILES):
        ap.error(f"--only takes some of {', '.join(FILES)}")
    load = busy()
    results = measure(args.runs, only)
    command = (f".venv/bin/python -m benchmarks.cold_start --runs {args.runs}"
               f"{'' if set(only) == set(FILES) else ' --only ' + ','.join(only)}{' --write' if args.write else ''}")
    report(render(results, args.runs, command, load), args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
