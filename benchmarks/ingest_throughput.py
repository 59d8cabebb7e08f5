"""Ingest throughput: samples per second into S3 + Kinesis (moto) for a full-length synthetic race.

    .venv/bin/python -m benchmarks.ingest_throughput [--laps 57] [--cars 20] [--repeat 3]

Measures ``apexflow.pipeline.ingest.ingest`` end to end (encode + validate every chunk, write the run
and manifest to S3, PutRecords to a 4-shard stream) with the database registration stubbed
out, so the number is about the pipeline, not PostgreSQL. The race is generated before the
clock starts. moto runs in-process, so this is a CPU-bound upper bound for the code, not a
measurement of AWS service latency. Results are appended to benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

from benchmarks import machine, report


class Frozen:
    """A source whose samples were generated up front (the simulator's cost is not ingest's)."""

    def __init__(self, source):
        self._session, self._facts = source.session(), source.facts()
        self._samples = list(source.samples())

    def session(self):
        return self._session

    def facts(self):
        return self._facts

    def samples(self):
        return iter(self._samples)


def measure(laps: int, cars: int, repeat: int) -> dict:
    from moto import mock_aws

    from apexflow.pipeline.ingest import ingest
    from apexflow.simulator import SyntheticRace
    from apexflow_aws.config import client
    from apexflow_aws.raw_store import S3RawStore
    from apexflow_aws.stream import KinesisStream

    for k, v in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                 "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        os.environ.setdefault(k, v)
    t = time.perf_counter()
    source = Frozen(SyntheticRace(seed=7, laps=laps, cars=cars))
    generate = time.perf_counter() - t
    runs = []
    for _ in range(repeat):
        client.cache_clear()
        with mock_aws():
            client("s3").create_bucket(Bucket="bench")
            client("kinesis").create_stream(StreamName="bench", ShardCount=4)
            t = time.perf_counter()
            result = ingest(source, S3RawStore(client("s3"), "bench"), KinesisStream(client("kinesis"), "bench"),
                            lambda s, f, r: True)
            runs.append(time.perf_counter() - t)
    client.cache_clear()
    best = min(runs)
    return {"laps": laps, "cars": cars, "samples": result.samples, "chunks": result.chunks,
            "mb": result.bytes / 1e6, "seconds": runs, "best": best, "rate": result.samples / best,
            "generate": generate}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--laps", type=int, default=57)
    ap.add_argument("--cars", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-record", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    r = measure(args.laps, args.cars, args.repeat)
    report(f"## Ingest throughput (S3 + Kinesis on moto) — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
           f"- command: `.venv/bin/python -m benchmarks.ingest_throughput --laps {r['laps']} "
           f"--cars {r['cars']} --repeat {len(r['seconds'])}`\n"
           f"- machine: {machine()}\n"
           f"- result: **{r['rate']:,.0f} samples/s**; {r['samples']:,} samples in {r['chunks']:,} "
           f"chunks ({r['mb']:.1f} MB) in {r['best']:.2f} s (best of "
           f"{', '.join(f'{s:.2f}' for s in r['seconds'])} s); generating the race took "
           f"{r['generate']:.1f} s and is not counted\n", not args.no_record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
