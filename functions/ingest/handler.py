"""Ingest: a source request (scheduled or on demand) -> chunks in S3 and Kinesis, session registered."""
import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from apexflow.ingest import ingest
from apexflow.sources import from_spec
from apexflow.storage import repository
from apexflow.storage.db import transaction
from apexflow_aws.config import client, connection
from apexflow_aws.raw_store import S3RawStore
from apexflow_aws.stream import KinesisStream

logger, tracer, metrics = Logger(), Tracer(), Metrics()


def register(session, facts, run_id):
    with transaction(connection()) as cur:
        return repository.register_session(cur, session, facts, run_id)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    result = ingest(from_spec(event),
                    S3RawStore(client("s3"), os.environ["RAW_BUCKET"]),
                    KinesisStream(client("kinesis"), os.environ["STREAM_NAME"]),
                    register, chunk_seconds=float(event.get("chunk_seconds", 10.0)))
    metrics.add_metric("SamplesIngested", MetricUnit.Count, result.samples)
    logger.info("ingested", session_id=result.session.session_id, run_id=result.run_id, chunks=result.chunks)
    return {"session_id": result.session.session_id, "run_id": result.run_id, "entities": result.entities,
            "chunks": result.chunks, "samples": result.samples, "bytes": result.bytes,
            "location": result.location, "registered": result.registered}
