"""Load: several sessions replayed at once at N x live pace through a multi-shard stream, locally.

    .venv/bin/python -m benchmarks.load [--sessions 5] [--speed 20] [--laps 4] [--shards 4] [--write]

Each session is a synthetic race (seeds 1..N) ingested by ``apexflow.pipeline.ingest.ingest`` in its own thread
(S3 and Kinesis on moto, each thread registering over a connection of its own, as each Lambda container
does), its chunks paced by ``apexflow.pipeline.replay`` at ``--speed`` times live. Meanwhile the real analyze
handler consumes the stream through the local event-source mapping with the deployed settings, a batch
closing when full or after the batching window, as in AWS. Lag: from a record's arrival in the stream to
the commit of the batch that stored it. Counts are reconciled from source to database per session
(chunks and samples), and the run fails if any record was lost, doubled or given up on. Locally one
consumer runs the lanes in turn (Lambda runs shards x parallelization factor of them at once), on a shared
2-core machine: the lag is an upper bound of the deployed one for the analysis, without its network.
moto's Kinesis numbers records unsafely under concurrent writers (two puts can take one sequence number,
and one record is lost), so calls to it are serialized here; Kinesis needs no such lock.

With ``--scaling 1,2,4``: for each shard count, a fresh stream and database are filled with the sessions
(ingested at full speed, not timed), then drained by one consumer per shard running side by side (a thread
each, its own analyze handler and database connection, as each shard's Lambda has), timed: throughput in
samples/s against the number of shards. Threads share the interpreter (one runs Python at a time) and the
machine's cores with PostgreSQL and moto.

    .venv/bin/python -m benchmarks.load --scaling 1,2,4 [--sessions 4 --laps 4] [--write]
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time
from datetime import UTC, datetime

from benchmarks import busy, machine, report


class Serialized:
    """A client whose calls take turns (moto's stand-in for Kinesis is not safe for concurrent callers)."""

    def __init__(self, client, lock: threading.Lock):
        self.client, self.lock = client, lock

    def __getattr__(self, name):
        attr = getattr(self.client, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            with self.lock:
                return attr(*args, **kwargs)
        return call


def ingest_session(seed: int, laps: int, speed: float, dsn: str, kinesis, results: dict) -> None:
    from apexflow.pipeline.ingest import ingest, register
    from apexflow.pipeline.replay import PacedStream
    from apexflow.simulator import SyntheticRace
    from apexflow.storage.db import connect, transaction
    from apexflow_aws.config import client
    from apexflow_aws.raw_store import S3RawStore
    from apexflow_aws.stream import KinesisStream
    from apexflow_local.stack import BUCKET, STREAM

    conn = connect(dsn)

    def registered(session, facts, run_id):
        with transaction(conn) as cur:
            return register(cur, session, facts, run_id)

    stream = PacedStream(KinesisStream(kinesis, STREAM), speed)
    results[seed] = ingest(SyntheticRace(seed=seed, laps=laps), S3RawStore(client("s3"), BUCKET), stream,
                           registered)
    conn.close()


def consume(producers: list[threading.Thread], kinesis, lags: list[float]):
    """The analyze handler on the stream until the producers are done and the stream is drained."""
    from apexflow_aws.mapping import ANALYZE
    from apexflow_local.esm import EventSourceMapping
    from apexflow_local.handlers import load
    from apexflow_local.stack import STREAM

    analyze = load("analyze").handler

    def timed(event, context):
        response = analyze(event, context)
        done = time.time()
        lags.extend(done - r["kinesis"]["approximateArrivalTimestamp"] for r in event["Records"])
        return response

    esm = EventSourceMapping(kinesis, STREAM, timed)
    while True:
        producing = any(p.is_alive() for p in producers)
        delivered = esm.poll()
        if not producing and not delivered:
            return esm
        if delivered < ANALYZE.batch_size:  # nothing full to send: the batch waits for its window
            time.sleep(ANALYZE.batching_window_seconds)


def stored(dsn: str) -> dict[str, tuple[int, int]]:
    from apexflow.storage.db import connect

    conn = connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT session_id, count(*), sum(n_samples) FROM telemetry_chunks GROUP BY session_id")
        out = {s: (int(n), int(samples)) for s, n, samples in cur.fetchall()}
    conn.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=5)
    ap.add_argument("--speed", type=float, default=20.0)
    ap.add_argument("--laps", type=int, default=4)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    ap.add_argument("--scaling", help="shard counts (e.g. 1,2,4): drain throughput with a consumer per shard")
    args = ap.parse_args(argv)
    if args.scaling:
        return scaling_main(args)

    from apexflow_aws.config import client
    from apexflow_local.stack import local_stack
    from benchmarks.analyze_batches import scratch_database

    results, lags = {}, []
    with scratch_database() as dsn, local_stack(shards=args.shards, dsn=dsn):
        kinesis = Serialized(client("kinesis"), threading.Lock())
        started = time.monotonic()
        producers = [threading.Thread(target=ingest_session,
                                      args=(seed, args.laps, args.speed, dsn, kinesis, results))
                     for seed in range(1, args.sessions + 1)]
        for p in producers:
            p.start()
        esm = consume(producers, kinesis, lags)
        seconds = time.monotonic() - started
        in_db = stored(dsn)
    source = {r.session.session_id: (r.chunks, r.samples) for r in results.values()}
    if len(results) != args.sessions or in_db != source or esm.failed_records:
        raise RuntimeError(f"counts do not reconcile: source {source}, database {in_db}, "
                           f"{esm.failed_records} records given up on")
    q = statistics.quantiles(lags, n=100)
    chunks, samples = sum(c for c, _ in source.values()), sum(s for _, s in source.values())
    lines = [
        f"## Load: {args.sessions} sessions at {args.speed:g}x live pace — "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}", "",
        f"- command: `python -m benchmarks.load --sessions {args.sessions} --speed {args.speed:g} --laps {args.laps} "
        f"--shards {args.shards}{' --write' if args.write else ''}`",
        f"- machine: {machine()}; moto S3 and Kinesis ({args.shards} shards), embedded PostgreSQL, all on it",
        f"- input: synthetic races seeds 1-{args.sessions}, {args.laps} laps each, 20 cars: {chunks:,} chunks, "
        f"{samples:,} samples, all ingested at once in {seconds:.0f} s",
        f"- reconciled: every session's chunks and samples in the database equal its source's; "
        f"0 records given up on; {esm.invocations} analyze invocations", "",
        "| lag, arrival in the stream -> batch committed | p50 | p99 | max |", "|---|---|---|---|",
        f"| seconds | {statistics.median(lags):.2f} | {q[98]:.2f} | {max(lags):.2f} |",
    ]
    report("\n".join(lines) + "\n", args.write)
    return 0


def drain_concurrently(kinesis, shards: int) -> tuple[float, int, int]:
    """Every shard drained by its own consumer thread; (seconds, invocations, records given up on)."""
    from apexflow_local.esm import EventSourceMapping
    from apexflow_local.handlers import load
    from apexflow_local.stack import STREAM

    ids = [s["ShardId"] for s in kinesis.describe_stream(StreamName=STREAM)["StreamDescription"]["Shards"]]
    mappings = []
    for shard in ids[:shards]:
        analyze = load("analyze")  # a container per shard: its own module state and database connection

        def handler(event, context, analyze=analyze):
            try:
                return analyze.handler(event, context)
            finally:
                analyze.metrics.clear_metrics()
        mappings.append(EventSourceMapping(kinesis, STREAM, handler, shards={shard}))
    errors: list[BaseException] = []

    def run(esm):
        try:
            esm.drain()
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
    threads = [threading.Thread(target=run, args=(esm,)) for esm in mappings]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return (time.monotonic() - started, sum(m.invocations for m in mappings),
            sum(m.failed_records for m in mappings))


def scale_once(shards: int, sessions: int, laps: int) -> dict:
    from apexflow_aws.config import client
    from apexflow_local.stack import local_stack
    from benchmarks.analyze_batches import scratch_database

    results = {}
    with scratch_database() as dsn, local_stack(shards=shards, dsn=dsn, insights=False):
        kinesis = Serialized(client("kinesis"), threading.Lock())
        for seed in range(1, sessions + 1):
            ingest_session(seed, laps, None, dsn, kinesis, results)
        seconds, invocations, failed = drain_concurrently(kinesis, shards)
        in_db = stored(dsn)
    source = {r.session.session_id: (r.chunks, r.samples) for r in results.values()}
    if in_db != source or failed:
        raise RuntimeError(f"counts do not reconcile: source {source}, database {in_db}, {failed} given up on")
    samples = sum(s for _, s in source.values())
    return {"shards": shards, "samples": samples, "chunks": sum(c for c, _ in source.values()),
            "seconds": seconds, "rate": samples / seconds, "invocations": invocations}


def scaling_main(args) -> int:
    load = busy()
    rows = [scale_once(int(n), args.sessions, args.laps) for n in args.scaling.split(",")]
    base = rows[0]["rate"]
    lines = [f"## Load: throughput against shards, a consumer per shard — "
             f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}", "",
             f"- command: `python -m benchmarks.load --scaling {args.scaling} --sessions {args.sessions} "
             f"--laps {args.laps}{' --write' if args.write else ''}`",
             f"- machine: {machine()}; moto Kinesis, embedded PostgreSQL, all on it; {load}",
             f"- input: synthetic races seeds 1-{args.sessions}, {args.laps} laps each, 20 cars: "
             f"{rows[0]['chunks']:,} chunks, {rows[0]['samples']:,} samples, in the stream before the clock starts; "
             "counts reconciled from source to database for every row, nothing given up on", "",
             "| shards (consumers at once) | drain seconds | samples/s | vs 1 shard | analyze invocations |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['shards']} | {r['seconds']:.2f} | {r['rate']:,.0f} | {r['rate'] / base:.2f} x | "
              f"{r['invocations']} |" for r in rows]
    report("\n".join(lines) + "\n", args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
