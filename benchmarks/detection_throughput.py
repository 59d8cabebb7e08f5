"""Streaming detection throughput, one core, on the in-memory Kinesis events of a full synthetic race.

The race is cut into 10 s chunks and encoded exactly as ingest puts them on the stream;
the records are wrapped in genuine Lambda Kinesis events (base64), as many per event as the
deployed event source mapping's batch size (``infra.names.Settings.analyze_batch_size``; a
full batch is what the analyze function sees whenever throughput matters, i.e. catching up on
a session). Then, in one process and one thread:

- ``decode``: base64 + ``apexflow.chunk.decode`` + ``Chunk.validate`` of every record;
- ``detectors``: a detector set as the analyze handler runs it, ``analyze.detect`` once per
  event: each car's chunks of the event joined (``chunk.join``), the detectors with state kept
  per car, the field's sums (the JSON round trip of states to the database happens once per
  batch and is timed separately); also with one 10 s chunk per call, for scale;
- ``end to end``: event -> decode -> validate -> ``analyze.detect``, as the analyze handler
  does it minus the database; also at smaller batch sizes.

A *sample* is one timestamp of one car (a row of all its channels); the value rate
(samples x channels) is given alongside. Also: the analyze handler's cold import time in a
fresh interpreter, and whether it pulls in pandas or FastF1.

    python -m benchmarks.detection_throughput [--laps 57] [--batch N] [--repeat 5] [--write]
"""
from __future__ import annotations

import argparse
import base64
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from apexflow import chunk as chunks
from apexflow.detect import DETECTORS, GENERIC
from apexflow.detect.field import Profile
from apexflow.pipeline.analyze import detect
from benchmarks import machine, report
from infra.names import Settings

ROOT = Path(__file__).resolve().parents[1]
RUN = "bench"  # the run the chunks name, as the benchmark registers their session


def race_events(seed: int, laps: int, batch: int) -> tuple[list[dict], dict, int, int]:
    from apexflow.simulator import SyntheticRace

    race = SyntheticRace(seed=seed, laps=laps)
    session = race.session()
    channels = session.channel_map()
    keyed, rows, values = [], 0, 0
    for entity, t, vals in race.samples():
        units = {k: channels[k].unit for k in vals}
        for c in chunks.split(session.session_id, entity, t, vals, units, 10.0):
            c.run_id = RUN
            keyed.append((c.seq, c.partition_key, base64.b64encode(chunks.encode(c)).decode()))
            rows += c.n
            values += c.n * len(c.values)
    keyed.sort()  # the stream interleaves cars: round-robin by sequence number within each car
    arrived = time.time()
    records = [{"kinesis": {"partitionKey": key, "sequenceNumber": str(i), "data": data,
                            "approximateArrivalTimestamp": arrived}, "eventSource": "aws:kinesis"}
               for i, (_, key, data) in enumerate(keyed)]
    events = [{"Records": records[i:i + batch]} for i in range(0, len(records), batch)]
    return events, channels, rows, values


def record_chunk(record: dict, channels: dict) -> chunks.Chunk:
    """A Kinesis record's validated chunk, read as the analyze handler reads it."""
    return chunks.decode(base64.b64decode(record["kinesis"]["data"])).validate(channels)


def decode_all(events: list[dict], channels: dict) -> list:
    return [record_chunk(r, channels) for ev in events for r in ev["Records"]]


def by_event(events: list[dict], channels: dict):
    """Each event's decoded chunks by car, in stream order, event after event: what ``analyze.detect``
    gets per batch."""
    for ev in events:
        yield group(record_chunk(r, channels) for r in ev["Records"])


def group(decoded) -> dict:
    cars: dict[tuple, list] = {}
    for c in decoded:
        cars.setdefault((c.session_id, c.entity_id), []).append(c)
    return cars


def run_batches(batches, contracts: dict, detectors: dict) -> tuple[int, dict]:
    """``analyze.detect`` batch after batch, states and the field carried over as the database would."""
    states: dict[tuple, dict] = {}
    fields: dict[str, Profile] = {}
    n = 0
    for fresh in batches:
        found, added = detect(fresh, states, contracts, fields, detectors)
        for session_id, field in added.items():
            fields.setdefault(session_id, Profile()).merge(field)
        n += len(found)
    return n, states


def end_to_end(events: list[dict], contracts: dict, detectors: dict) -> int:
    """As the analyze handler does it, minus the database: decode and validate each record, then
    ``analyze.detect`` (join per car, detectors, the field's sums) once per event."""
    channels = next(iter(contracts.values()))[1]
    return run_batches(by_event(events, channels), contracts, detectors)[0]


def best_of_rounds(stages: dict, rounds: int) -> tuple[dict[str, float], dict[str, object]]:
    """Each stage timed once per round, round after round; its best time and last result. Interleaving
    the stages means a slow spell of a shared machine costs one round of each, not every try of one."""
    times: dict[str, float] = {}
    results: dict[str, object] = {}
    for _ in range(rounds):
        for name, fn in stages.items():
            t0 = time.perf_counter()
            results[name] = fn()
            times[name] = min(times.get(name, float("inf")), time.perf_counter() - t0)
    return times, results


def cold_import(repeat: int = 5) -> dict:
    """Import functions/analyze/handler.py in fresh interpreters; best wall time and heavy modules seen."""
    code = (
        "import sys, time, importlib.util\n"
        "t0 = time.perf_counter()\n"
        f"spec = importlib.util.spec_from_file_location('h', {str(ROOT / 'functions/analyze/handler.py')!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "dt = time.perf_counter() - t0\n"
        "import json; print(json.dumps({'seconds': dt, 'pandas': 'pandas' in sys.modules,"
        " 'fastf1': 'fastf1' in sys.modules, 'modules': len(sys.modules)}))\n"
    )
    env = {"POWERTOOLS_SERVICE_NAME": "analyze", "POWERTOOLS_TRACE_DISABLED": "true",
           "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"}
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
        if out.returncode:
            raise RuntimeError(out.stderr)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {"best_ms": round(1000 * min(r["seconds"] for r in runs), 1),
            "median_ms": round(1000 * statistics.median(r["seconds"] for r in runs), 1),
            "pandas": any(r["pandas"] for r in runs), "fastf1": any(r["fastf1"] for r in runs),
            "modules": runs[0]["modules"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--laps", type=int, default=57)
    ap.add_argument("--batch", type=int, default=Settings().analyze_batch_size,
                    help="records per Kinesis event (default: the deployed batch size)")
    ap.add_argument("--repeat", type=int, default=5, help="rounds; each stage's best round counts")
    ap.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    events, channels, rows, values = race_events(args.seed, args.laps, args.batch)
    contracts = {record_chunk(events[0]["Records"][0], channels).session_id: ("motorsport", channels)}
    n_records = sum(len(e["Records"]) for e in events)
    batches = list(by_event(events, channels))
    decoded = decode_all(events, channels)
    calls = sum(len(chunks.join(parts)) for b in batches for parts in b.values())
    smaller = {size: race_events(args.seed, args.laps, size)[0] for size in sorted({100, 500} - {args.batch})}
    stages = {
        "decode": lambda: decode_all(events, channels),
        "detectors": lambda: run_batches(batches, contracts, DETECTORS),
        f"e2e {args.batch}": lambda: end_to_end(events, contracts, DETECTORS),
        **{f"e2e {size}": (lambda ev=ev: end_to_end(ev, contracts, DETECTORS)) for size, ev in smaller.items()},
        "one chunk per call": lambda: run_batches(({(c.session_id, c.entity_id): [c]} for c in decoded), contracts,
                                                  DETECTORS),
        "generic": lambda: run_batches(batches, contracts, GENERIC),
        **{name: (lambda run=run, name=name: run_batches(batches, contracts, {name: run}))
           for name, run in DETECTORS.items()},
    }
    times, results = best_of_rounds(stages, args.repeat)
    t_dec, t_det, t_one, t_gen = (times[k] for k in ("decode", "detectors", "one chunk per call", "generic"))
    t_e2e = {size: times[f"e2e {size}"] for size in (args.batch, *smaller)}
    per = {name: times[name] for name in DETECTORS}
    n_det, states = results["detectors"]
    round_trip = {"json": lambda: [json.loads(json.dumps(s)) for s in states.values()]}
    t_json = best_of_rounds(round_trip, args.repeat)[0]["json"]
    state_bytes = sum(len(json.dumps(s)) for s in states.values()) / max(len(states), 1)
    imp = cold_import()
    rate = lambda s: rows / s  # noqa: E731
    row = lambda label, s, bold=False: (  # noqa: E731
        f"| {label} | {s:.3f} | {'**' if bold else ''}{rate(s):,.0f}{'**' if bold else ''} | {values / s:,.0f} |")
    lines = [
        f"## Detection throughput (one core) — {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}", "",
        f"- command: `python -m benchmarks.detection_throughput --seed {args.seed} --laps {args.laps} "
        f"--batch {args.batch} --repeat {args.repeat}{' --write' if args.write else ''}`",
        f"- machine: {machine()}",
        f"- input: synthetic race seed {args.seed}, {args.laps} laps, 20 cars: {rows:,} samples "
        f"({values:,} channel values, 11 channels at 4 Hz) in {n_records:,} chunk records of 10 s, "
        f"{len(events)} Kinesis events of up to {args.batch} (the deployed batch size is "
        f"{Settings().analyze_batch_size}); {calls:,} detector calls (a car's chunks of an event, "
        f"joined); best of {args.repeat} rounds (each round times every stage once)", "",
        "| stage | seconds | samples/s | channel values/s |", "|---|---|---|---|",
        row("decode + validate (base64, header, zlib, checks)", t_dec),
        row(f"F1 detector set ({', '.join(DETECTORS)}), as the handler calls it (`analyze.detect`: "
            "join per car, detectors, the field's sums)", t_det, True),
        row(f"decode + F1 detector set, end to end (no database), events of {args.batch}", t_e2e[args.batch], True),
        *[row(f"&nbsp;&nbsp;end to end, events of {size}", t_e2e[size]) for size in sorted(t_e2e)
          if size != args.batch],
        row("F1 detector set, one 10 s chunk per call", t_one),
        row(f"generic set ({', '.join(GENERIC)}) on all 11 channels, as the handler calls it", t_gen),
        *[row(f"&nbsp;&nbsp;{name} alone", s) for name, s in per.items()],
        "",
        f"- detections found (distinct ids; open and close reports of one event count once): {n_det}; "
        f"detector state per car {state_bytes / 1024:.1f} KB of JSON, "
        f"JSON round trip of all 20 cars' states {1000 * t_json:.1f} ms (once per batch)",
        f"- analyze handler cold import (fresh interpreter, `functions/analyze/handler.py`): best "
        f"**{imp['best_ms']} ms**, median {imp['median_ms']} ms of 5; pandas imported: {imp['pandas']}, "
        f"FastF1 imported: {imp['fastf1']}; {imp['modules']} modules",
    ]
    report("\n".join(lines) + "\n", args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
