"""A local Kinesis event-source mapping: reads shards and invokes a handler as Lambda would.

Events are genuine Lambda Kinesis payloads (base64 data, sequence numbers, partition keys,
event ids). Semantics follow Lambda's mapping with ``ReportBatchItemFailures``: a batch
whose response lists failures is retried from the lowest failed sequence number; a handler
error retries the whole batch; after ``max_retries`` the failed records go, payload included,
to ``on_failure`` and the shard moves on.
"""
from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field


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
    def __init__(self, kinesis, stream_name: str, handler, batch_size: int = 100, max_retries: int = 2,
                 on_failure=None):
        self.kinesis, self.stream_name, self.handler = kinesis, stream_name, handler
        self.batch_size, self.max_retries, self.on_failure = batch_size, max_retries, on_failure
        desc = kinesis.describe_stream(StreamName=stream_name)["StreamDescription"]
        self.arn = desc["StreamARN"]
        self.region = self.arn.split(":")[3]
        self.iterators = {
            s["ShardId"]: kinesis.get_shard_iterator(StreamName=stream_name, ShardId=s["ShardId"],
                                                     ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            for s in desc["Shards"]}
        self.pending = {shard: [] for shard in self.iterators}
        self.invocations = 0
        self.failed_records = 0

    def poll(self) -> int:
        """One batch per shard, shards in turn; returns records delivered (0 when caught up)."""
        delivered = 0
        for shard in self.iterators:
            if len(self.pending[shard]) < self.batch_size:
                resp = self.kinesis.get_records(ShardIterator=self.iterators[shard], Limit=self.batch_size)
                self.iterators[shard] = resp["NextShardIterator"]
                self.pending[shard] += resp["Records"]
            batch = self.pending[shard][:self.batch_size]
            if batch:
                self._deliver(shard, batch)
                del self.pending[shard][:len(batch)]
                delivered += len(batch)
        return delivered

    def drain(self, progress=lambda n: None) -> None:
        while n := self.poll():
            progress(n)

    def _deliver(self, shard: str, batch: list[dict]) -> None:
        todo = batch
        for attempt in range(self.max_retries + 1):
            self.invocations += 1
            try:
                response = self.handler(kinesis_event(todo, shard, self.arn, self.region), LambdaContext())
                failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
            except Exception as e:  # the whole batch failed: retry it all
                failed, error = {r["SequenceNumber"] for r in todo}, repr(e)
            else:
                error = "record failures reported by the function"
            if not failed:
                return
            first = min(i for i, r in enumerate(todo) if r["SequenceNumber"] in failed)
            last_failed = [r for r in todo if r["SequenceNumber"] in failed]
            todo = todo[first:]
        self.failed_records += len(last_failed)
        if self.on_failure:
            self.on_failure(shard, last_failed, error, attempt + 1)
