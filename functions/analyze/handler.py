"""Kinesis -> streaming detection -> PostgreSQL, with partial batch responses.

A record that cannot be decoded or validated fails alone (a batch of nothing but such records is
a partial response listing them all, not a function error); the event source mapping retries
from it and finally hands it, payload included, to its on-failure destination. The good
records' writes commit together in one transaction; records of a run that a re-ingest replaced
are dropped and counted.

Traced by Lambda's active tracing (one segment per invocation) without the X-Ray SDK: the SDK
would add about a quarter of a second to every cold start of the hottest function.
"""
from datetime import UTC, datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from apexflow.errors import ContractError
from apexflow.pipeline.analyze import Batch
from apexflow_aws.config import connection
from apexflow_aws.insights_starter import start_when_complete

logger, metrics = Logger(), Metrics()
processor = BatchProcessor(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    batch, broken = Batch(connection()), []

    def record_handler(record: KinesisStreamRecord):
        kinesis = record.kinesis
        arrived = datetime.fromtimestamp(kinesis.approximate_arrival_timestamp, UTC)
        try:
            batch.add(kinesis.data_as_bytes(), arrived)
        except ContractError as e:
            logger.warning("record rejected", sequence_number=kinesis.sequence_number,
                           partition_key=kinesis.partition_key, error=str(e))
            batch.reject(kinesis.sequence_number, kinesis.partition_key, str(e), arrived)
            raise
        except Exception as e:
            broken.append(e)
            raise

    response = process_partial_response(event, record_handler, processor, context)
    if broken:  # the database (or this function) failed, not the record: the whole batch is retried
        raise broken[0]
    outcomes = batch.commit()  # rejected records are kept with it, even when every record failed
    start_when_complete(batch.conn, batch.sessions)  # re-delivered too: a failed start is retried with its batch
    metrics.add_metric("ChunksProcessed", MetricUnit.Count, outcomes["processed"])
    metrics.add_metric("ChunksDuplicate", MetricUnit.Count, outcomes["duplicate"])
    metrics.add_metric("ChunksStale", MetricUnit.Count, outcomes["stale"])
    if outcomes["stale"]:
        logger.info("dropped chunks of a replaced run", stale=outcomes["stale"])
    metrics.add_metric("RecordsFailed", MetricUnit.Count, len(response["batchItemFailures"]))
    return response
