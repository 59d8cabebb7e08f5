"""Analyze: the Kinesis-triggered function that turns chunks into detections in PostgreSQL."""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from apexflow_aws.mapping import ANALYZE
from infra.data import Data
from infra.function import python_function
from infra.layers import Layers
from infra.nag import acknowledge, logical_id
from infra.names import Settings
from infra.network import Network


class Analyze(Construct):
    """Core layer only (no pandas, no FastF1); failures are isolated per record and never lost.

    Partial batch responses retry from the first failed record, bisection isolates a poison
    record, and a batch that exhausts its retries or ages out is written whole, records
    included, to the failed-batches bucket.
    """

    def __init__(self, scope: Construct, id: str, *, settings: Settings, network: Network, data: Data,
                 layers: Layers, database_environment: dict[str, str]) -> None:
        super().__init__(scope, id)
        self.function = python_function(
            self, "Function", settings=settings, service="analyze", layers=[layers.core],
            vpc=network.vpc, subnets=network.function_subnets, security_groups=[network.function_sg],
            environment=database_environment, memory_mb=settings.analyze_memory_mb,
            timeout_seconds=settings.analyze_timeout_seconds,
            reserved_concurrency=settings.analyze_reserved_concurrency)
        data.app_secret.grant_read(self.function)
        self.function.add_event_source(sources.KinesisEventSource(
            data.stream,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=settings.analyze_batch_size,
            max_batching_window=Duration.seconds(settings.analyze_batching_window_seconds),
            parallelization_factor=settings.analyze_parallelization_factor,
            bisect_batch_on_error=ANALYZE.bisect_batch_on_error,
            retry_attempts=settings.analyze_retry_attempts,
            max_record_age=Duration.seconds(settings.analyze_max_record_age_seconds),
            report_batch_item_failures=True,
            on_failure=sources.S3OnFailureDestination(data.failed_batches),
        ))
        for action in ("Abort*", "DeleteObject*", "GetBucket*", "GetObject*", "List*"):
            acknowledge(self.function, f"IAM5[Action::s3:{action}]", "Granted by Lambda's S3 on-failure "
                        "destination (grantReadWrite), scoped to the failed-batches bucket only.")
        acknowledge(self.function, f"IAM5[Resource::<{logical_id(data.failed_batches)}.Arn>/*]",
                    "Lambda names each failed-batch object itself, so writes address the whole bucket.")
