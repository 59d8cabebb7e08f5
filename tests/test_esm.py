"""The local event-source mapping runs with the deployed settings and Lambda's documented semantics:
lanes by partition key, partial-batch retries, bisection on a function error, the maximum record age,
and records given up on kept with their payload in the failed-batches bucket."""
from __future__ import annotations

import base64
import time
import zlib
from dataclasses import replace

import boto3
import pytest

from apexflow_aws.dead_letter import S3DeadLetters
from apexflow_aws.mapping import ANALYZE
from apexflow_local.esm import EventSourceMapping

pytestmark = pytest.mark.integration


@pytest.fixture
def kinesis(monkeypatch):
    from moto import mock_aws

    for k, v in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                 "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        client = boto3.client("kinesis")
        client.create_stream(StreamName="s", ShardCount=1)
        yield client


def put(kinesis, keys: int, per_key: int) -> list[tuple[str, bytes]]:
    records = [(f"sess/e{k}", f"{k}:{i}".encode()) for i in range(per_key) for k in range(keys)]
    for key, data in records:
        kinesis.put_record(StreamName="s", PartitionKey=key, Data=data)
    return records


class Recorder:
    """A handler that records its batches and fails the records (or raises on the batches) it is told to."""

    def __init__(self, fail=(), raise_on=()):
        self.batches, self.fail, self.raise_on = [], set(fail), set(raise_on)

    def __call__(self, event, context):
        data = [base64.b64decode(r["kinesis"]["data"]) for r in event["Records"]]
        self.batches.append([(r["kinesis"]["partitionKey"], d) for r, d in zip(event["Records"], data)])
        if self.raise_on & set(data):
            raise RuntimeError("the function failed")
        return {"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]}
                                      for r, d in zip(event["Records"], data) if d in self.fail]}


def test_runs_with_the_deployed_settings_by_default(kinesis):
    from infra.names import Settings

    assert EventSourceMapping(kinesis, "s", Recorder()).settings == ANALYZE
    deployed = Settings()
    assert (deployed.analyze_batch_size, deployed.analyze_retry_attempts, deployed.analyze_parallelization_factor,
            deployed.analyze_max_record_age_seconds) == \
        (ANALYZE.batch_size, ANALYZE.retry_attempts, ANALYZE.parallelization_factor, ANALYZE.max_record_age_seconds)


def test_lanes_keep_each_key_in_order_and_batches_within_their_size(kinesis):
    records = put(kinesis, keys=9, per_key=12)
    handler = Recorder()
    EventSourceMapping(kinesis, "s", handler, replace(ANALYZE, batch_size=10)).drain()
    delivered = [r for batch in handler.batches for r in batch]
    assert sorted(delivered) == sorted(records)
    for batch in handler.batches:
        assert len(batch) <= 10
        assert len({zlib.crc32(k.encode()) % ANALYZE.parallelization_factor for k, _ in batch}) == 1
    for k in range(9):
        assert [d for key, d in delivered if key == f"sess/e{k}"] == [f"{k}:{i}".encode() for i in range(12)]


def test_failed_records_are_retried_from_the_first_then_kept_with_their_payload(kinesis):
    from moto import mock_aws

    put(kinesis, keys=1, per_key=6)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="failed")
        handler = Recorder(fail={b"0:2"})
        esm = EventSourceMapping(kinesis, "s", handler, replace(ANALYZE, parallelization_factor=1),
                                 on_failure=S3DeadLetters(s3, "failed"))
        esm.drain()
        [letter] = S3DeadLetters(s3, "failed").list()
    first, *retries = handler.batches
    assert len(first) == 6 and len(retries) == ANALYZE.retry_attempts
    assert all([d for _, d in batch] == [b"0:2", b"0:3", b"0:4", b"0:5"] for batch in retries)
    assert esm.failed_records == 1 and letter["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert letter["requestContext"]["approximateInvokeCount"] == ANALYZE.retry_attempts + 1
    assert [base64.b64decode(r["data"]) for r in letter["records"]] == [b"0:2"]


def test_a_function_error_bisects_the_batch_down_to_the_record_that_causes_it(kinesis):
    put(kinesis, keys=1, per_key=8)
    given_up = []
    handler = Recorder(raise_on={b"0:5"})
    esm = EventSourceMapping(kinesis, "s", handler, replace(ANALYZE, parallelization_factor=1),
                             on_failure=lambda shard, records, *why: given_up.append((records, why)))
    esm.drain()
    [(records, (error, attempts, condition))] = given_up
    assert [r["Data"] for r in records] == [b"0:5"] and "the function failed" in error
    assert (attempts, condition) == (ANALYZE.retry_attempts + 1, "RetryAttemptsExhausted")
    succeeded = {d for batch in handler.batches if b"0:5" not in {x for _, x in batch} for _, d in batch}
    assert succeeded == {f"0:{i}".encode() for i in range(8)} - {b"0:5"}


def test_records_older_than_the_maximum_age_go_to_the_failure_destination_unprocessed(kinesis):
    put(kinesis, keys=2, per_key=3)
    given_up, handler = [], Recorder()
    later = time.time() + ANALYZE.max_record_age_seconds + 60
    EventSourceMapping(kinesis, "s", handler, on_failure=lambda shard, records, *why: given_up.append(
        (len(records), why[-1])), clock=lambda: later).drain()
    assert handler.batches == [] and sum(n for n, _ in given_up) == 6
    assert {condition for _, condition in given_up} == {"RecordAgeExceeded"}


class Counted:
    """A Kinesis client counting its GetRecords calls."""

    def __init__(self, client):
        self.client, self.reads = client, 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def get_records(self, **kwargs):
        self.reads += 1
        return self.client.get_records(**kwargs)


def test_a_drain_reads_each_shard_to_its_tip_once_and_a_later_drain_takes_what_came_since(kinesis):
    records = put(kinesis, keys=3, per_key=4)
    counted, handler = Counted(kinesis), Recorder()
    esm = EventSourceMapping(counted, "s", handler, replace(ANALYZE, batch_size=100))
    esm.drain()
    assert counted.reads == 1 and sorted(r for b in handler.batches for r in b) == sorted(records)
    later = put(kinesis, keys=2, per_key=1)
    esm.drain()
    assert counted.reads == 2 and sorted(r for b in handler.batches for r in b) == sorted(records + later)
    esm.drain()  # nothing new: one read finds the tip
    assert counted.reads == 3 and esm.invocations == len(handler.batches)


def test_a_mapping_limited_to_some_shards_reads_only_those(kinesis):
    kinesis.create_stream(StreamName="two", ShardCount=2)
    for k in range(40):
        kinesis.put_record(StreamName="two", PartitionKey=f"sess/e{k}", Data=f"{k}".encode())
    shards = [s["ShardId"] for s in kinesis.describe_stream(StreamName="two")["StreamDescription"]["Shards"]]
    seen = []
    for shard in shards:
        handler = Recorder()
        EventSourceMapping(kinesis, "two", handler, shards={shard}).drain()
        seen.append({key for batch in handler.batches for key, _ in batch})
    assert seen[0] and seen[1] and not seen[0] & seen[1] and len(seen[0] | seen[1]) == 40
