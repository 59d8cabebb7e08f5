"""End to end: a full-length synthetic race from source to detections and insights in PostgreSQL, locally, with
the share of every stage, against the naive one-record-and-one-INSERT-per-sample design in the same run.

    .venv/bin/python -m benchmarks.e2e [--laps 57] [--seed 7] [--naive 20000] [--write]

The run is ``apexflow demo``'s trip (``apexflow_local.demo.trip``: the real ingest handler, S3 and Kinesis
on moto, the analyze handler through the local event-source mapping, the insights workflow on moto's Step
Functions, offline provider) on a fresh database (a scratch one in ``DATABASE_URL``, else an embedded server in
a temporary folder); the stack's start and migrations are not timed. Stages are measured by wrapping the
callables that do their work for this run (``benchmarks.stages``; no timing code in the pipeline): generate
(the simulator), chunk+encode (split, validate, encode, run id, manifest), S3 (raw run and manifest), register
(the session and its facts in PostgreSQL), Kinesis put, Kinesis get (the mapping's reads and event building),
decode (the analyze handler's own work: Powertools, base64, chunk decoding and checks), detect, write (the
batch's transaction less detect), insights (starting the workflow, waiting for it, reading what it stored),
and other. The session's HTML report page, which the demo also renders, is timed apart and not counted.
The naive design (``benchmarks.naive``) runs on a slice of the same race in the same stack afterwards.
Target: <= 15 s for 57 laps, 20 cars; our samples/s >= 50 x the naive design's.
"""
from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

from benchmarks import busy, machine, report
from benchmarks.stages import OTHER, Stages

REPORT_PAGE = "report page (not counted)"
ORDER = ("generate", "chunk+encode", "S3", "register", "Kinesis put", "Kinesis get", "decode", "detect", "write",
         "insights", OTHER)


def targets() -> dict[str, list[tuple[object, str]]]:
    from apexflow.pipeline import analyze, ingest
    from apexflow.simulator.race import SyntheticRace
    from apexflow_aws import insights_starter
    from apexflow_aws.raw_store import S3RawStore
    from apexflow_aws.stream import KinesisStream
    from apexflow_local import demo, esm, insights_cli
    from apexflow_local import step_functions as local_workflow

    return {
        "generate": [(SyntheticRace, n) for n in ("__init__", "samples", "facts", "ground_truth")],
        "chunk+encode": [(ingest, "encode_session"), (ingest, "manifest")],
        "S3": [(S3RawStore, "write_run"), (S3RawStore, "read_manifest")],
        "register": [(ingest, "register")],
        "Kinesis put": [(KinesisStream, "put")],
        "Kinesis get": [(esm.EventSourceMapping, "poll")],
        "detect": [(analyze, "detect")],
        "write": [(analyze.Batch, "commit")],
        "insights": [(insights_starter, "start_when_complete"), (local_workflow, "automatic"),
                     (insights_cli, "collect")],
        REPORT_PAGE: [(demo, "render")],
    }


def timed_handlers(stages: Stages):
    """Handlers as a cold Lambda container loads them: each a fresh module, so it binds the stages' timed
    functions; the analyze handler's own time charged to decode."""
    import importlib.util

    from apexflow_local import handlers

    def timed_load(name: str):
        spec = importlib.util.find_spec(f"functions.{name}.handler")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if name == "analyze":
            module.handler = stages.wrap("decode", module.handler)
        return module
    return mock.patch.object(handlers, "load", timed_load)


def measure(seed: int, laps: int, naive_samples: int) -> dict:
    from apexflow.simulator import SyntheticRace
    from apexflow.storage.db import connect
    from apexflow_aws.config import client
    from apexflow_local import demo
    from apexflow_local.stack import local_stack
    from benchmarks import naive
    from benchmarks.analyze_batches import scratch_database

    stages, load = Stages(), busy()
    with scratch_database() as dsn, local_stack(dsn=dsn) as dsn, tempfile.TemporaryDirectory() as reports:
        with timed_handlers(stages), stages.attach(targets()):
            trip = demo.trip(seed, laps, dsn, Path(reports))
        ing, overview = trip["ingest"], trip["overview"]
        if overview["samples"] != ing["samples"] or overview["chunks"] != ing["chunks"] or trip["dead_letters"]:
            raise RuntimeError(f"counts do not reconcile: ingested {ing['samples']} samples in {ing['chunks']} "
                               f"chunks, stored {overview['samples']} in {overview['chunks']}, "
                               f"{trip['dead_letters']} records given up on")
        rows = naive.race_slice(SyntheticRace(seed=seed, laps=laps), naive_samples)
        conn = connect(dsn)
        base = naive.measure(rows, f"{ing['session_id']}-naive", client("kinesis"), conn)
        conn.close()
    if base["stored"] != base["samples"]:
        raise RuntimeError(f"the naive design stored {base['stored']} of {base['samples']} samples")
    seconds = dict(stages.seconds)
    page = seconds.pop(REPORT_PAGE, 0.0)
    total = sum(seconds.values())
    rate = ing["samples"] / total
    return {"seed": seed, "laps": laps, "samples": ing["samples"], "chunks": ing["chunks"], "mb": ing["bytes"] / 1e6,
            "detections": len(overview["detections"]), "insights": len(trip["insights"]["insights"]),
            "invocations": trip["invocations"], "stages": seconds, "calls": stages.calls, "total": total,
            "page": page, "busy": load, "rate": rate, "naive": base, "ratio": rate / base["rate"],
            "missing": stages.missing}


def render(r: dict, command: str) -> str:
    ok = r["total"] <= 15.0
    base = r["naive"]
    lines = [
        f"## End to end: {r['laps']}-lap race, source to detections and insights (moto, embedded PostgreSQL) — "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
        f"- command: `{command}`",
        f"- machine: {machine()}; moto S3, Kinesis and Step Functions, embedded PostgreSQL, all on it; {r['busy']}",
        f"- race: synthetic, seed {r['seed']}, {r['laps']} laps, 20 cars: {r['samples']:,} samples in "
        f"{r['chunks']:,} chunks ({r['mb']:.1f} MB); {r['invocations']} analyze invocations, "
        f"{r['detections']} detections, {r['insights']} insights stored",
        f"- end to end: **{r['total']:.1f} s**, {r['rate']:,.0f} samples/s (target <= 15 s: "
        f"{'met' if ok else 'NOT met'}); the session's report page, rendered after, took {r['page']:.1f} s more "
        "(not counted)",
        f"- naive design (one record and one INSERT per sample) on the race's first {base['samples']:,} samples: "
        f"{base['seconds']:.1f} s ({base['put']:.1f} s of PutRecord calls), **{base['rate']:,.0f} samples/s**, "
        f"{r['samples'] / base['rate']:,.0f} s for the whole race at that rate",
        f"- ratio: **{r['ratio']:.0f} x** the naive design's samples/s (target >= 50 x: "
        f"{'met' if r['ratio'] >= 50 else 'NOT met'})", "",
        "| stage | seconds | share | calls |", "|---|---|---|---|"]
    for stage in ORDER:
        s = r["stages"].get(stage, 0.0)
        lines.append(f"| {stage} | {s:.2f} | {s / r['total']:.0%} | {r['calls'].get(stage, '')} |")
    lines.append(f"| **total** | **{r['total']:.2f}** | 100% | |")
    if r["missing"]:
        lines += ["", f"- not attributed (renamed in the code, charged to other): {', '.join(r['missing'])}"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--laps", type=int, default=57)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--naive", type=int, default=20_000, help="samples in the naive design's slice")
    ap.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    r = measure(args.seed, args.laps, args.naive)
    command = (f".venv/bin/python -m benchmarks.e2e --laps {args.laps} --seed {args.seed} --naive {args.naive}"
               f"{' --write' if args.write else ''}")
    report(render(r, command), args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
