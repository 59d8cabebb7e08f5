"""The local stand-in for the deployed stack: moto S3, Kinesis, Step Functions (executing the insights state
machine, its tasks run by the real handlers), SNS and Secrets Manager; embedded or given PostgreSQL.

The functions read the same environment variables as in AWS; only the endpoints differ. An OpenAI key in
``OPENAI_API_KEY`` goes into the local secret the insights function reads, as in AWS. With ``persist`` the
buckets outlive the command, in a folder (``apexflow_local.s3_dir``).
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import TYPE_CHECKING

from apexflow.storage.db import database_url
from apexflow.storage.migrate import migrate

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig

BUCKET = "apexflow-raw-local"
FAILED_BUCKET = "apexflow-failed-batches-local"  # as in AWS, apart from the raw data
STREAM = "apexflow-telemetry-local"
MOTO_CONFIG: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}

_LOCAL_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing", "RAW_BUCKET": BUCKET, "STREAM_NAME": STREAM,
    "POWERTOOLS_SERVICE_NAME": "apexflow", "POWERTOOLS_METRICS_NAMESPACE": "ApexFlow",
    "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR",
}


def _run_ingest(payload: dict, wait: bool):
    """What the API's ``invoke.ingest`` calls in local mode: the ingest handler in this process."""
    from apexflow_local import ingest_cli

    return ingest_cli.invoke_ingest(payload) if wait else ingest_cli.ingest_later(payload)


@contextmanager
def local_stack(shards: int = 2, dsn: str | None = None, insights: bool = True, persist: bool = False):
    """Yield the DSN with moto running, the bucket and stream created and the schema migrated; with ``insights``
    the state machine deployed, which analyze starts once a session is complete (waited for on the way out);
    with ``persist`` the buckets loaded from and saved to ``s3_dir.folder()``."""
    from moto import mock_aws

    from apexflow_aws import insights as insights_function
    from apexflow_aws import invoke
    from apexflow_aws.config import client
    from apexflow_local import s3_dir, step_functions

    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)  # a failed execution is reported, not logged
    saved = {k: os.environ.get(k) for k in (*_LOCAL_ENV, "DATABASE_URL", "OPENAI_SECRET_ARN",
                                            "INSIGHTS_STATE_MACHINE_ARN")}
    os.environ.update(_LOCAL_ENV)
    dsn = dsn or database_url()
    os.environ["DATABASE_URL"] = dsn
    client.cache_clear()
    insights_function.reset()
    invoke.use_ingest_runner(_run_ingest)
    try:
        with mock_aws(config=MOTO_CONFIG), step_functions.lambda_dispatch():
            for bucket in (BUCKET, FAILED_BUCKET):
                client("s3").create_bucket(Bucket=bucket)
            loaded = s3_dir.restore(client("s3"), (BUCKET, FAILED_BUCKET), s3_dir.folder()) if persist else None
            client("kinesis").create_stream(StreamName=STREAM, ShardCount=shards)
            os.environ.pop("OPENAI_SECRET_ARN", None)
            if os.environ.get("OPENAI_API_KEY"):
                os.environ["OPENAI_SECRET_ARN"] = client("secretsmanager").create_secret(
                    Name="apexflow/openai-api-key", SecretString=os.environ["OPENAI_API_KEY"])["ARN"]
            os.environ.pop("INSIGHTS_STATE_MACHINE_ARN", None)
            if insights:
                os.environ["INSIGHTS_STATE_MACHINE_ARN"] = step_functions.deploy(step_functions.DEFINITION.read_text())
            migrate(dsn)
            try:
                yield dsn
            finally:
                if insights:
                    step_functions.drain(os.environ["INSIGHTS_STATE_MACHINE_ARN"])
                if loaded is not None:  # persisted
                    s3_dir.save(client("s3"), (BUCKET, FAILED_BUCKET), s3_dir.folder(), loaded)
    finally:
        invoke.use_ingest_runner(None)
        client.cache_clear()
        insights_function.reset()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def analyze_stream(total: int):
    """Drain the local stream through the real analyze handler with the deployed mapping's settings, records
    given up on going to the failed-batches bucket; returns the mapping (for its counts)."""
    import sys

    from tqdm import tqdm

    from apexflow_aws.config import client
    from apexflow_aws.dead_letter import S3DeadLetters
    from apexflow_local.esm import EventSourceMapping
    from apexflow_local.handlers import load

    esm = EventSourceMapping(client("kinesis"), STREAM, load("analyze").handler,
                             on_failure=S3DeadLetters(client("s3"), FAILED_BUCKET))
    with tqdm(total=total, desc="analyze", unit="chunk", file=sys.stderr) as bar:
        esm.drain(bar.update)
    return esm
