"""Samples written to PostgreSQL as analyze writes them: binary COPY into the session's partition.

    .venv/bin/python -m benchmarks.samples_write [--laps 57] [--batch N] [--write]

A full synthetic race's chunks, in the deployed batch size (records per analyze invocation), are
encoded (``apexflow.storage.samples.copy_data``) and copied into ``samples`` one transaction per batch, as
analyze does; timed apart: encoding, and the copy with its commit. Database: ``DATABASE_URL``
(a scratch database in it) or an embedded server in a temporary folder, on the same machine.
"""
from __future__ import annotations

import time

import psycopg2

from benchmarks import report
from benchmarks.analyze_batches import heading, race_arguments, scratch_database


def main(argv=None) -> int:
    args = race_arguments(__doc__, argv)

    from apexflow.pipeline.ingest import encode_session, register
    from apexflow.simulator import SyntheticRace
    from apexflow.storage import repository, samples
    from apexflow.storage.db import transaction

    session, facts, run_id, encoded = encode_session(SyntheticRace(seed=args.seed, laps=args.laps))
    chunks = [c for _, _, c, _ in encoded]
    starts = {session.session_id: session.start_time}
    encode_s = copy_s = 0.0
    with scratch_database() as dsn:
        conn = psycopg2.connect(dsn)
        with transaction(conn) as cur:
            register(cur, session, facts, run_id)
        for i in range(0, len(chunks), args.batch):
            t0 = time.perf_counter()
            data = samples.copy_data(chunks[i:i + args.batch], starts)
            t1 = time.perf_counter()
            with transaction(conn) as cur:
                repository.write_samples(cur, data)
            encode_s, copy_s = encode_s + t1 - t0, copy_s + time.perf_counter() - t1
        with conn.cursor() as cur:
            cur.execute("SELECT count(*), pg_total_relation_size(samples_partition_name(%s)::regclass) FROM samples",
                        (session.session_id,))
            rows, size = cur.fetchone()
        conn.close()
    total = sum(c.n for c in chunks)
    if rows != total:
        raise RuntimeError(f"stored {rows} samples of {total}")
    lines = [
        *heading("Samples written with COPY", "samples_write", args),
        f"- input: synthetic race seed {args.seed}, {args.laps} laps: {total:,} samples (11 channels, ~4 Hz per car) "
        f"in {len(chunks):,} chunks, batches of {args.batch}; {size / total:.0f} bytes per sample on disk "
        "(table and index)", "",
        "| stage | seconds | samples/s |", "|---|---|---|",
        f"| encode (numpy, binary COPY format) | {encode_s:.2f} | {total / encode_s:,.0f} |",
        f"| COPY into the session's partition + commit | {copy_s:.2f} | {total / copy_s:,.0f} |",
        f"| both | {encode_s + copy_s:.2f} | {total / (encode_s + copy_s):,.0f} |",
    ]
    report("\n".join(lines) + "\n", args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
