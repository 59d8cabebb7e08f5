"""The local stand-in for the deployed stack: moto S3 + Kinesis, embedded or given PostgreSQL.

The functions read the same environment variables as in AWS; only the endpoints differ.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

from apexflow.storage.db import database_url
from apexflow.storage.migrate import migrate

BUCKET = "apexflow-raw-local"
STREAM = "apexflow-telemetry-local"

_LOCAL_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing", "RAW_BUCKET": BUCKET, "STREAM_NAME": STREAM,
    "POWERTOOLS_SERVICE_NAME": "apexflow", "POWERTOOLS_METRICS_NAMESPACE": "ApexFlow",
    "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR",
    "APEXFLOW_LOCAL": "1",  # functions invoked in this process (apexflow_aws.invoke)
}


@contextmanager
def local_stack(shards: int = 2, dsn: str | None = None):
    """Yield the DSN with moto running, the bucket and stream created and the schema migrated."""
    from moto import mock_aws

    from apexflow_aws.config import client

    saved = {k: os.environ.get(k) for k in (*_LOCAL_ENV, "DATABASE_URL")}
    os.environ.update(_LOCAL_ENV)
    dsn = dsn or database_url()
    os.environ["DATABASE_URL"] = dsn
    client.cache_clear()
    try:
        with mock_aws():
            client("s3").create_bucket(Bucket=BUCKET)
            client("kinesis").create_stream(StreamName=STREAM, ShardCount=shards)
            migrate(dsn)
            yield dsn
    finally:
        client.cache_clear()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def analyze_stream(total: int):
    """Drain the local stream through the real analyze handler, as its event-source mapping would,
    records that fail every retry going to the dead-letter prefix; returns the mapping (for its counts)."""
    import sys

    from tqdm import tqdm

    from apexflow_aws.config import client
    from apexflow_aws.dead_letter import S3DeadLetters
    from apexflow_aws.local.esm import EventSourceMapping
    from apexflow_aws.local.handlers import load

    esm = EventSourceMapping(client("kinesis"), STREAM, load("analyze").handler,
                             on_failure=S3DeadLetters(client("s3"), BUCKET))
    with tqdm(total=total, desc="analyze", unit="chunk", file=sys.stderr) as bar:
        esm.drain(bar.update)
    return esm
