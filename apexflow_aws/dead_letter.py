"""Records the local event-source mapping gave up on, kept in the failed-batches bucket with their payload.

The object mirrors what Lambda's S3 on-failure destination writes there for a stream in AWS: the
condition (retries exhausted, or the records too old), the batch's shard and sequence range, and the
records themselves.
"""
from __future__ import annotations

import base64
import json

PREFIX = "dead-letter/"


class S3DeadLetters:
    def __init__(self, s3, bucket: str, stream_arn: str = ""):
        self.s3, self.bucket, self.stream_arn = s3, bucket, stream_arn

    def __call__(self, shard: str, records: list[dict], error: str, attempts: int, condition: str) -> str:
        first, last = records[0]["SequenceNumber"], records[-1]["SequenceNumber"]
        key = f"{PREFIX}{shard}/{first}-{last}.json"
        doc = {
            "requestContext": {"condition": condition, "approximateInvokeCount": attempts,
                               "functionError": error},
            "KinesisBatchInfo": {"shardId": shard, "startSequenceNumber": first, "endSequenceNumber": last,
                                 "batchSize": len(records), "streamArn": self.stream_arn},
            "records": [{"sequenceNumber": r["SequenceNumber"], "partitionKey": r["PartitionKey"],
                         "data": base64.b64encode(r["Data"]).decode()} for r in records],
        }
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(doc, indent=1).encode())
        return key

    def list(self) -> list[dict]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=PREFIX)
        return [json.loads(self.s3.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read())
                for page in pages for o in page.get("Contents", [])]
