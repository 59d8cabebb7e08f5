"""A local Kinesis event-source mapping: reads shards and invokes a handler as Lambda would.

It runs with the deployed mapping's settings (``apexflow_aws.mapping.ANALYZE``) and follows Lambda's
documented behaviour with ``ReportBatchItemFailures``: each shard's records are split into
``parallelization_factor`` lanes by partition key (a key's records stay in one lane, in order), a lane
is delivered in batches of up to ``batch_size``; a batch whose response lists failures is retried from
the lowest failed sequence number; a function error splits the batch in two (bisection) before retrying;
after ``retry_attempts`` retries the failed records, and any record older than
``max_record_age_seconds``, go, payload included, to ``on_failure``, and the lane moves on. Events are
genuine Lambda Kinesis payloads (base64 data, sequence numbers, partition keys, event ids). Locally the
lanes run one batch after another, where Lambda runs them at once; no batching window is needed, as
the records are all there when a batch is read.
"""
from __future__ import annotations

import base64
import time
import uuid
import zlib
from dataclasses import dataclass, field

from apexflow_aws.mapping import ANALYZE, MappingSettings


@dataclass
class LambdaContext:
    function_name: str = "apexflow-analyze-local"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:apexflow-analyze-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


def kinesis_event(records: list[dict], shard_id: str, stream_arn: str, region: str) -> dict:
    """The event Lambda passes to a Kinesis-triggered function for these GetRecords records."""
    return {"Records": [{
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": r["PartitionKey"],
            "sequenceNumber": r["SequenceNumber"],
            "data": base64.b64encode(r["Data"]).decode(),
            "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{r['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/apexflow-analyze-local",
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    } for r in records]}


class EventSourceMapping:
    def __init__(self, kinesis, stream_name: str, handler, settings: MappingSettings = ANALYZE, on_failure=None,
                 clock=time.time, shards: set[str] | None = None):
        """``on_failure(shard, records, error, attempts, condition)`` keeps records given up on; ``shards``
        limits the mapping to those shard ids (a consumer per shard, run side by side, as Lambda runs them)."""
        self.kinesis, self.stream_name, self.handler = kinesis, stream_name, handler
        self.settings, self.on_failure, self.clock = settings, on_failure, clock
        desc = kinesis.describe_stream(StreamName=stream_name)["StreamDescription"]
        self.arn = desc["StreamARN"]
        self.region = self.arn.split(":")[3]
        self.iterators = {
            s["ShardId"]: kinesis.get_shard_iterator(StreamName=stream_name, ShardId=s["ShardId"],
                                                     ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            for s in desc["Shards"] if shards is None or s["ShardId"] in shards}
        lanes = settings.parallelization_factor
        self.lanes: dict[str, list[list[dict]]] = {shard: [[] for _ in range(lanes)] for shard in self.iterators}
        self.invocations = 0
        self.failed_records = 0
        self.caught_up = False

    def poll(self) -> int:
        """One batch per lane, shards in turn; returns records delivered (0 when caught up). ``caught_up``
        says whether every shard was read to its tip and every lane emptied."""
        delivered, size = 0, self.settings.batch_size
        self.caught_up = True
        for shard, lanes in self.lanes.items():
            if min(map(len, lanes)) < size:
                resp = self.kinesis.get_records(ShardIterator=self.iterators[shard], Limit=size)
                self.iterators[shard] = resp["NextShardIterator"]
                for r in resp["Records"]:
                    lanes[zlib.crc32(r["PartitionKey"].encode()) % len(lanes)].append(r)
                self.caught_up &= len(resp["Records"]) < size and resp.get("MillisBehindLatest", 1) == 0
            else:
                self.caught_up = False
            for lane in lanes:
                batch = lane[:size]
                if batch:
                    self._deliver(shard, batch, self.settings.retry_attempts)
                    del lane[:len(batch)]
                    delivered += len(batch)
            self.caught_up &= not any(lanes)
        return delivered

    def drain(self, progress=lambda n: None) -> None:
        """Deliver until caught up (without a last, empty read once a poll found every shard at its tip)."""
        while n := self.poll():
            progress(n)
            if self.caught_up:
                return

    def _deliver(self, shard: str, todo: list[dict], retries: int) -> None:
        attempts = 0
        while todo:
            oldest = self.clock() - self.settings.max_record_age_seconds
            expired = [r for r in todo if r["ApproximateArrivalTimestamp"].timestamp() < oldest]
            if expired:
                self._give_up(shard, expired, "records older than the maximum record age", attempts,
                              "RecordAgeExceeded")
                todo = todo[len(expired):]  # arrival times grow along a shard: the old ones lead
                continue
            attempts += 1
            self.invocations += 1
            try:
                response = self.handler(kinesis_event(todo, shard, self.arn, self.region), LambdaContext())
                failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
                error = "record failures reported by the function"
            except Exception as e:  # a function error: the whole batch failed
                if self.settings.bisect_batch_on_error and len(todo) > 1:
                    half = len(todo) // 2
                    for part in (todo[:half], todo[half:]):
                        self._deliver(shard, part, retries)
                    return
                failed, error = {r["SequenceNumber"] for r in todo}, repr(e)
            if not failed:
                return
            if retries == 0:
                self._give_up(shard, [r for r in todo if r["SequenceNumber"] in failed], error, attempts,
                              "RetryAttemptsExhausted")
                return
            retries -= 1
            todo = todo[min(i for i, r in enumerate(todo) if r["SequenceNumber"] in failed):]

    def _give_up(self, shard: str, records: list[dict], error: str, attempts: int, condition: str) -> None:
        self.failed_records += len(records)
        if self.on_failure:
            self.on_failure(shard, records, error, attempts, condition)
