"""Capacity on paper: shards, analyze concurrency, RDS size and RDS Proxy connections for a load, computed from
the per-core figures measured in benchmarks/RESULTS.md (the latest of each), so re-running it after a faster
analyze or a new machine updates the table.

    .venv/bin/python -m benchmarks.capacity [--analyze-rate N] [--write]

Inputs read from RESULTS.md: the analyze function with PostgreSQL (samples/s per core, first delivery), the
samples' COPY into PostgreSQL (samples/s per connection: the database's share of a sample) and its bytes on
disk, and a race's encoded size (bytes and samples per Kinesis record, from the ingest benchmark). Rules: Kinesis
1 MiB/s and 1 000 records/s per shard, 1.5 x headroom; analyze at most half busy (room to catch up after a
stall); the database's CPU at most half busy (the samples' COPY is its floor: chunk rows, detections and states
come on top), no burstable class for a load around the clock; one proxy client connection per concurrent
function and one pooled database connection per analyze function in a transaction (an invocation is its
transaction).
"""
from __future__ import annotations

import argparse
import math
import re
from datetime import UTC, datetime

from benchmarks import RESULTS, machine, report

MIB = 1024 * 1024
# RDS PostgreSQL classes: (name, vCPUs, GiB, max_connections = memory / 9 531 392 less reserved, sustained CPU)
CLASSES = (("db.t4g.small", 2, 2, 180, 0.2), ("db.t4g.medium", 2, 4, 410, 0.2), ("db.m7g.large", 2, 8, 850, 1.0),
           ("db.m7g.xlarge", 4, 16, 1700, 1.0), ("db.m7g.2xlarge", 8, 32, 3400, 1.0),
           ("db.m7g.4xlarge", 16, 64, 5000, 1.0))
OTHERS = 30  # proxy client connections of ingest, insights, API and migrations besides analyze


def latest(pattern: str, text: str, what: str) -> tuple[float, ...]:
    found = re.findall(pattern, text)
    if not found:
        raise SystemExit(f"capacity: no {what} in {RESULTS}; run its benchmark first (python -m benchmarks)")
    last = found[-1]
    return tuple(float(x.replace(",", "")) for x in (last if isinstance(last, tuple) else (last,)))


def measured(text: str) -> dict:
    analyze = latest(r"\| first delivery \| [\d.]+ \| ([\d,]+) \|", text, "analyze function with PostgreSQL")
    copy = latest(r"\| COPY into the session's partition \+ commit \| [\d.]+ \| ([\d,]+) \|", text, "COPY rate")
    disk = latest(r"(\d+) bytes per sample on disk", text, "bytes per sample on disk")
    race = latest(r"([\d,]+) samples in ([\d,]+) chunks \(([\d.]+) MB\)", text, "race encoding")
    samples, chunks, mb = race
    return {"analyze_rate": analyze[0], "copy_rate": copy[0], "disk_bytes": disk[0],
            "bytes_per_sample": mb * 1e6 / samples, "samples_per_record": samples / chunks}


def scenarios(m: dict) -> list[dict]:
    """Loads: samples/s and records/s (live chunks leave each car every second, within the latency budget)."""
    return [
        {"name": "20 F1 sessions live (20 cars, ~4 Hz each)", "samples": 20 * 20 * 4, "records": 20 * 20},
        {"name": "20 F1 sessions ingested at once (each as fast as ingest writes: 2.4 M samples in a minute; "
                 "a burst)",
         "samples": 20 * 40_000, "records": 20 * 40_000 / m["samples_per_record"]},
        {"name": "a non-F1 tenant at 100 000 samples/s, around the clock (10 s chunks, the F1 race's bytes per "
                 "sample)", "samples": 100_000, "records": 100_000 / m["samples_per_record"], "sustained": True},
    ]


def plan(load: dict, m: dict) -> dict:
    mb_s = load["samples"] * m["bytes_per_sample"] / MIB
    shards = max(1, math.ceil(1.5 * max(mb_s, load["records"] / 1000)))
    analyzers = max(1, math.ceil(load["samples"] / (0.5 * m["analyze_rate"])))
    factor = min(10, math.ceil(analyzers / shards))
    if analyzers > shards * factor:  # the factor caps at 10: more shards instead
        shards = math.ceil(analyzers / 10)
    concurrency = shards * factor
    db_cpu = load["samples"] / (0.5 * m["copy_rate"])  # vCPUs busy at most half the time
    pool = concurrency + 10
    fits = [c for c in CLASSES if c[1] * c[4] >= db_cpu and c[3] >= pool + 20]
    name, vcpus, gib, max_conn, _ = next(c for c in fits if c[4] == 1.0 or not load.get("sustained"))  # no credits
    return {**load, "mb_s": mb_s, "shards": shards, "factor": factor, "concurrency": concurrency,
            "db_cpu": db_cpu, "rds": f"{name} ({vcpus} vCPU, {gib} GiB, max_connections ~{max_conn})",
            "proxy": f"{concurrency + OTHERS} client, pool {pool}",
            "disk_gb_hour": load["samples"] * m["disk_bytes"] * 3_600 / 1e9}


def render(m: dict, rows: list[dict], command: str) -> str:
    lines = [f"## Capacity from measured per-core figures — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
             f"- command: `{command}`", f"- machine of this table's arithmetic: {machine()}",
             f"- inputs (latest in RESULTS.md): analyze with PostgreSQL {m['analyze_rate']:,.0f} samples/s per core; "
             f"COPY into PostgreSQL {m['copy_rate']:,.0f} samples/s per connection, {m['disk_bytes']:.0f} bytes "
             f"per sample on disk; {m['bytes_per_sample']:.1f} bytes and {m['samples_per_record']:.0f} samples "
             "per Kinesis record (10 s chunks)", "",
             "| load | samples/s | MiB/s | records/s | shards | parallelization factor | analyze concurrency | "
             "database vCPU (half busy) | RDS | RDS Proxy connections | disk per hour |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['samples']:,.0f} | {r['mb_s']:.2f} | {r['records']:,.0f} | {r['shards']} | "
                     f"{r['factor']} | {r['concurrency']} | {r['db_cpu']:.2f} | {r['rds']} | {r['proxy']} | "
                     f"{r['disk_gb_hour']:,.1f} GB |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--analyze-rate", type=float, help="samples/s per core instead of the latest measured")
    ap.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    m = measured(RESULTS.read_text())
    if args.analyze_rate:
        m["analyze_rate"] = args.analyze_rate
    rows = [plan(load, m) for load in scenarios(m)]
    command = ".venv/bin/python -m benchmarks.capacity" + (f" --analyze-rate {args.analyze_rate:g}"
                                                          if args.analyze_rate else "") + (" --write" * args.write)
    report(render(m, rows, command), args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
