"""The naive design the pipeline is measured against: one Kinesis record and one INSERT per sample.

A slice of a race's samples (the first ``n`` in time order across the cars) goes through the same local stack,
one ``PutRecord`` per sample (a JSON document, the car as partition key), then each shard is read as the
deployed mapping reads it (``GetRecords`` of up to a batch) and every record becomes one ``INSERT`` into a
benchmark-only table (primary key on car and time, so a re-delivery changes nothing), a commit per batch.
No detection, no durable copy in S3, no insights: the naive rate is an upper bound for that design.
"""
from __future__ import annotations

import json
import time

import numpy as np

TABLE = "bench_naive_samples"
STREAM = "apexflow-naive-local"


def race_slice(race, n: int) -> list[tuple[str, float, dict]]:
    """The first ``n`` samples of the race in time order across cars: (car, t, {channel: value})."""
    rows = []
    for entity_id, t, values in race.samples():
        names = list(values)
        block = np.stack([values[k] for k in names], axis=1).astype(float)
        rows += [(entity_id, float(ti), dict(zip(names, row))) for ti, row in zip(t.tolist(), block.tolist())]
    rows.sort(key=lambda r: (r[1], r[0]))
    return rows[:n]


def measure(rows: list[tuple[str, float, dict]], session_id: str, kinesis, conn, batch: int = 1000,
            shards: int = 2) -> dict:
    """Seconds to put every row as its own record, then read and insert them one by one; rows stored."""
    kinesis.create_stream(StreamName=STREAM, ShardCount=shards)
    names = list(rows[0][2])
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (session_id text, entity_id text, t double precision, "
                    f"{', '.join(f'{json.dumps(k)} real' for k in names)}, PRIMARY KEY (session_id, entity_id, t))")
    conn.commit()
    insert = (f"INSERT INTO {TABLE} VALUES (%s, %s, %s{', %s' * len(names)}) ON CONFLICT DO NOTHING")
    started = time.perf_counter()
    for entity_id, t, values in rows:
        kinesis.put_record(StreamName=STREAM, PartitionKey=f"{session_id}/{entity_id}",
                           Data=json.dumps({"session_id": session_id, "entity_id": entity_id, "t": t, **values}))
    put = time.perf_counter() - started
    desc = kinesis.describe_stream(StreamName=STREAM)["StreamDescription"]
    for shard in desc["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while True:
            resp = kinesis.get_records(ShardIterator=it, Limit=batch)
            it = resp["NextShardIterator"]
            if not resp["Records"]:
                break
            with conn.cursor() as cur:
                for r in resp["Records"]:
                    doc = json.loads(r["Data"])
                    cur.execute(insert, (doc["session_id"], doc["entity_id"], doc["t"], *(doc[k] for k in names)))
            conn.commit()
    seconds = time.perf_counter() - started
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {TABLE} WHERE session_id = %s", (session_id,))
        stored = cur.fetchone()[0]
        cur.execute(f"DROP TABLE {TABLE}")
    conn.commit()
    kinesis.delete_stream(StreamName=STREAM)
    return {"samples": len(rows), "stored": stored, "put": put, "seconds": seconds, "rate": len(rows) / seconds}
