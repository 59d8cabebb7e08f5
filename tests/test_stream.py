"""Kinesis delivery: service limits, per-key order, retries of partial failures and throttling.

The end-to-end test runs moto Kinesis behind a client that fails some records of some calls
(as PutRecords does under load) and throttles whole calls, then drains the stream into the
real analyze handler and checks the database holds every chunk exactly once.
"""
from __future__ import annotations

import random
from collections import defaultdict

import pytest

from apexflow import chunk as chunks
from apexflow_aws.stream import MAX_BYTES, MAX_RECORDS, DeliveryError, KinesisStream


class _Exceptions:
    class ProvisionedThroughputExceededException(Exception):
        pass


class FakeKinesis:
    """Records what was stored; ``fail(call, index, key)`` decides which records of a call fail."""

    exceptions = _Exceptions

    def __init__(self, fail=lambda call, i, key: None, throttle=lambda call: False):
        self.fail, self.throttle = fail, throttle
        self.calls, self.stored = [], []

    def put_records(self, StreamName, Records):
        call = len(self.calls)
        self.calls.append([(r["PartitionKey"], len(r["Data"])) for r in Records])
        if self.throttle(call):
            raise self.exceptions.ProvisionedThroughputExceededException("Rate exceeded")
        out = []
        for i, r in enumerate(Records):
            code = self.fail(call, i, r["PartitionKey"])
            if code:
                out.append({"ErrorCode": code, "ErrorMessage": "injected"})
            else:
                self.stored.append((r["PartitionKey"], r["Data"]))
                out.append({"SequenceNumber": str(len(self.stored)), "ShardId": "shardId-000000000000"})
        return {"FailedRecordCount": sum("ErrorCode" in o for o in out), "Records": out}


def _records(keys: int, per_key: int, size: int = 10):
    return [(f"s/{k}", f"{k}:{i}:".encode().ljust(size, b".")) for i in range(per_key) for k in range(keys)]


def _assert_exactly_once_in_order(sent, stored):
    assert sorted(stored) == sorted(sent), "records lost or duplicated"
    by_key_sent, by_key_stored = defaultdict(list), defaultdict(list)
    for k, d in sent:
        by_key_sent[k].append(d)
    for k, d in stored:
        by_key_stored[k].append(d)
    assert by_key_stored == by_key_sent, "a key's records arrived out of order"


def test_one_record_per_key_per_call_and_order_kept():
    sent = _records(keys=20, per_key=5)
    fake = FakeKinesis()
    KinesisStream(fake, "s", sleep=lambda s: None).put(sent)
    assert all(len({k for k, _ in call}) == len(call) for call in fake.calls)
    assert len(fake.calls) == 5
    _assert_exactly_once_in_order(sent, fake.stored)


def test_calls_stay_within_500_records_and_5_mib():
    many = _records(keys=1200, per_key=1)
    fake = FakeKinesis()
    KinesisStream(fake, "s").put(many)
    assert max(len(c) for c in fake.calls) == MAX_RECORDS and len(fake.calls) == 3
    big = _records(keys=12, per_key=2, size=900_000)
    fake = FakeKinesis()
    KinesisStream(fake, "s").put(big)
    assert all(sum(n + len(k) for k, n in call) <= MAX_BYTES for call in fake.calls)
    assert max(len(c) for c in fake.calls) == 5
    _assert_exactly_once_in_order(big, fake.stored)


def test_steady_partial_failures_do_not_fail_a_run_that_makes_progress():
    """Every call has one failed record (a different key each time): the run must still deliver everything.

    Counting any call with a failure as a failed attempt gave up after 8 such calls although each
    record was retried only once or twice.
    """
    sent = _records(keys=20, per_key=10)
    fake = FakeKinesis(fail=lambda call, i, key: "ProvisionedThroughputExceededException" if i == call % 7 else None)
    sleeps = []
    KinesisStream(fake, "s", attempts=4, sleep=sleeps.append).put(sent)
    _assert_exactly_once_in_order(sent, fake.stored)
    assert sleeps and max(sleeps) <= 2.0


def test_random_failures_and_throttling_lose_and_duplicate_nothing():
    rng = random.Random(3)
    sent = _records(keys=25, per_key=40)
    fake = FakeKinesis(fail=lambda call, i, key: rng.choice(["ProvisionedThroughputExceededException",
                                                             "InternalFailure"]) if rng.random() < 0.2 else None,
                       throttle=lambda call: rng.random() < 0.15)
    KinesisStream(fake, "s", sleep=lambda s: None).put(sent)
    _assert_exactly_once_in_order(sent, fake.stored)


def test_a_record_that_keeps_failing_fails_the_run_loudly():
    sent = _records(keys=3, per_key=2)
    fake = FakeKinesis(fail=lambda call, i, key: "InternalFailure" if key == "s/1" else None)
    sleeps = []
    with pytest.raises(DeliveryError, match=r"2 record\(s\) still undelivered to s after 5 attempts"):
        KinesisStream(fake, "s", attempts=5, base_delay=0.1, sleep=sleeps.append).put(sent)
    assert sleeps == [0.1, 0.2, 0.4, 0.8]  # exponential backoff between attempts
    assert ("s/1", sent[1][1]) not in fake.stored and len(fake.stored) == 4


def test_throttled_calls_back_off_then_fail():
    fake = FakeKinesis(throttle=lambda call: True)
    with pytest.raises(DeliveryError):
        KinesisStream(fake, "s", attempts=3, sleep=lambda s: None).put(_records(2, 1))
    assert len(fake.calls) == 3


def test_non_retryable_error_stops_at_once():
    fake = FakeKinesis(fail=lambda call, i, key: "AccessDeniedException" if i == 0 else None)
    with pytest.raises(DeliveryError, match="AccessDeniedException"):
        KinesisStream(fake, "s", sleep=lambda s: None).put(_records(2, 1))


# --------------------------------------------------------------------------- moto + analyze, end to end

class FlakyKinesis:
    """A real (moto) Kinesis client whose PutRecords fails some records and throttles some calls.

    Failed records are not written, exactly as Kinesis does; the rest are written for real.
    """

    def __init__(self, real, seed: int = 11, record_failure: float = 0.25, throttle: float = 0.2):
        self.real, self.rng = real, random.Random(seed)
        self.record_failure, self.throttle = record_failure, throttle
        self.exceptions = real.exceptions
        self.failed_records = self.throttled_calls = 0

    def put_records(self, StreamName, Records):
        if self.rng.random() < self.throttle:
            self.throttled_calls += 1
            raise self.real.exceptions.ProvisionedThroughputExceededException(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}},
                "PutRecords")
        fail = [self.rng.random() < self.record_failure for _ in Records]
        keep = [r for r, f in zip(Records, fail) if not f]
        stored = iter(self.real.put_records(StreamName=StreamName, Records=keep)["Records"] if keep else [])
        out = []
        for f in fail:
            if f:
                self.failed_records += 1
                out.append({"ErrorCode": "ProvisionedThroughputExceededException",
                            "ErrorMessage": "Rate exceeded for shard shardId-000000000001"})
            else:
                out.append(next(stored))
        return {"FailedRecordCount": sum(fail), "Records": out}


def _read_stream(kinesis, stream):
    out = []
    for shard in kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while True:
            resp = kinesis.get_records(ShardIterator=it, Limit=1000)
            out += resp["Records"]
            if not resp["Records"]:
                break
            it = resp["NextShardIterator"]
    return out


def test_partial_failures_on_moto_reach_the_database_exactly_once(local, db):
    from apexflow.pipeline.ingest import ingest
    from apexflow.simulator import SyntheticRace
    from apexflow.storage import registry
    from apexflow.storage.db import transaction
    from apexflow_aws.config import client
    from apexflow_aws.raw_store import S3RawStore
    from apexflow_local.esm import EventSourceMapping
    from apexflow_local.handlers import load
    from apexflow_local.stack import BUCKET, STREAM

    flaky = FlakyKinesis(client("kinesis"))

    def register(session, facts, run_id):
        with transaction(db) as cur:
            return registry.register_session(cur, session, facts, run_id)

    result = ingest(SyntheticRace(seed=5, laps=1, cars=6), S3RawStore(client("s3"), BUCKET),
                    KinesisStream(flaky, STREAM, attempts=12, sleep=lambda s: None), register, batch=50)
    assert flaky.failed_records > 10 and flaky.throttled_calls > 3

    records = _read_stream(client("kinesis"), STREAM)
    decoded = [chunks.decode(r["Data"]) for r in records]
    assert len(decoded) == result.chunks == len({(c.entity_id, c.seq) for c in decoded})
    by_key = defaultdict(list)
    for r, c in zip(records, decoded):
        by_key[r["PartitionKey"]].append(c.seq)
    assert len(by_key) == result.entities
    assert all(seqs == list(range(len(seqs))) for seqs in by_key.values()), "per-car order broken"

    EventSourceMapping(client("kinesis"), STREAM, load("analyze").handler).drain()
    with db.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT (entity_id, seq)), sum(n_samples) FROM telemetry_chunks "
                    "WHERE session_id = %s", (result.session.session_id,))
        assert cur.fetchone() == (result.chunks, result.chunks, result.samples)

    # a failed run re-run in full (delivery is idempotent) duplicates records in the stream, never in the DB
    again = ingest(SyntheticRace(seed=5, laps=1, cars=6), S3RawStore(client("s3"), BUCKET),
                   KinesisStream(client("kinesis"), STREAM), register, batch=50)
    assert again.run_id == result.run_id and again.registered is False
    EventSourceMapping(client("kinesis"), STREAM, load("analyze").handler).drain()
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM telemetry_chunks WHERE session_id = %s", (result.session.session_id,))
        assert cur.fetchone()[0] == result.chunks


# --------------------------------------------------------------------------- replay pacing

class FakeClock:
    def __init__(self):
        self.now, self.sleeps = 1000.0, []

    def clock(self):
        return self.now

    def sleep(self, s):
        assert s > 0
        self.sleeps.append(s)
        self.now += s


class Recorder:
    def __init__(self, clock):
        self.clock, self.calls = clock, []

    def put(self, records):
        self.calls.append((self.clock.now, list(records)))


def _chunk_records(starts: dict[str, list[float]]):
    """Encoded 1-sample chunks per entity at the given session times, in stream order (t, entity)."""
    import numpy as np

    out = []
    for entity, ts in starts.items():
        for seq, t in enumerate(ts):
            c = chunks.Chunk("sess", entity, seq, np.array([t]), {"Speed": np.array([1.0], "f4")}, {"Speed": "km/h"})
            out.append((t, entity, (c.partition_key, chunks.encode(c))))
    return [r for _, _, r in sorted(out, key=lambda x: (x[0], x[1]))]


def test_replay_at_live_pace_and_faster_keeps_order_and_interleaving():
    from apexflow.pipeline.replay import PacedStream

    records = _chunk_records({"VER": [100.0, 110.0, 120.0], "HAM": [100.0, 112.5, 120.0]})
    for speed, expected in ((1.0, [0.0, 10.0, 12.5, 20.0]), (10.0, [0.0, 1.0, 1.25, 2.0])):
        fc = FakeClock()
        sink = Recorder(fc)
        paced = PacedStream(sink, speed, clock=fc.clock, sleep=fc.sleep)
        paced.put(records[:3])  # ingest hands over batches; pacing carries across them
        paced.put(records[3:])
        assert [round(at - 1000.0, 6) for at, _ in sink.calls] == expected
        assert [r for _, rs in sink.calls for r in rs] == records  # nothing reordered
        assert [k.split("/")[1] for k, _ in sink.calls[0][1]] == ["HAM", "VER"]  # both due at t=100 together


def test_replay_as_fast_as_possible_never_sleeps():
    from apexflow.pipeline.replay import PacedStream

    fc = FakeClock()
    sink = Recorder(fc)
    records = _chunk_records({"A": [0.0, 50.0], "B": [10.0]})
    PacedStream(sink, None, clock=fc.clock, sleep=fc.sleep).put(records)
    assert fc.sleeps == [] and sink.calls == [(1000.0, records)]


def test_replay_speed_must_be_positive():
    from apexflow.errors import ContractError
    from apexflow.pipeline.replay import PacedStream

    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ContractError, match="positive"):
            PacedStream(None, bad)


def test_replay_catches_up_when_sending_is_slow():
    """Wall time lost in a slow put is not added on top: later chunks go out as soon as they are due."""
    from apexflow.pipeline.replay import PacedStream

    fc = FakeClock()

    class Slow(Recorder):
        def put(self, records):
            super().put(records)
            fc.now += 7.0

    sink = Slow(fc)
    PacedStream(sink, 1.0, clock=fc.clock, sleep=fc.sleep).put(_chunk_records({"A": [0.0, 5.0, 10.0, 30.0]}))
    assert [round(at - 1000.0, 6) for at, _ in sink.calls] == [0.0, 7.0, 14.0, 30.0]  # late ones at once
