"""Ingest: the container-image function, its race-weekend schedule and the on-demand path."""
from __future__ import annotations

import json

from aws_cdk import Duration, Size, TimeZone
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import names
from infra.data import Data
from infra.function import architecture, log_group, powertools_environment
from infra.nag import acknowledge, acknowledge_function_role, logical_id
from infra.names import Settings
from infra.network import Network

# Never part of the image's build context.
IMAGE_EXCLUDES = [".venv", ".git", "cdk.out", "layers/dist", "**/__pycache__", "*.pyc", ".apexflow",
                  ".pytest_cache", ".hypothesis", "node_modules", "*.egg-info", "build"]


def dead_letter_queue(scope: Construct, id: str) -> sqs.Queue:
    queue = sqs.Queue(scope, id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                      retention_period=Duration.days(14))
    acknowledge(queue, "SQS3", "This queue is itself a dead-letter queue; its depth is alarmed on.")
    return queue


class Ingest(Construct):
    def __init__(self, scope: Construct, id: str, *, settings: Settings, network: Network, data: Data,
                 database_environment: dict[str, str]) -> None:
        super().__init__(scope, id)
        platform = {"x86_64": ecr_assets.Platform.LINUX_AMD64,
                    "arm64": ecr_assets.Platform.LINUX_ARM64}[settings.architecture]
        self.function = lambda_.DockerImageFunction(
            self, "Function",
            code=lambda_.DockerImageCode.from_image_asset(str(names.REPO_ROOT), file=names.INGEST_DOCKERFILE,
                                                          platform=platform, exclude=IMAGE_EXCLUDES),
            architecture=architecture(settings),
            memory_size=settings.ingest_memory_mb,
            reserved_concurrent_executions=settings.ingest_reserved_concurrency or None,
            ephemeral_storage_size=Size.mebibytes(settings.ingest_ephemeral_mb),
            timeout=Duration.seconds(settings.ingest_timeout_seconds),
            tracing=lambda_.Tracing.ACTIVE,
            vpc=network.vpc, vpc_subnets=network.function_subnets, security_groups=[network.function_sg],
            environment={**powertools_environment(settings, "ingest"), **database_environment,
                         "RAW_BUCKET": data.raw.bucket_name, "STREAM_NAME": data.stream.stream_name,
                         "FASTF1_CACHE": "/tmp/fastf1"},
            log_group=log_group(self, "FunctionLogs", settings),
        )
        acknowledge_function_role(self.function, in_vpc=True)
        data.raw.grant_read_write(self.function)
        data.stream.grant_write(self.function)
        data.app_secret.grant_read(self.function)
        acknowledge(self.function, "IAM5[Action::s3:Abort*]", "Bucket-scoped multipart-upload actions "
                    "granted by grantReadWrite on the raw-chunk bucket only.")
        acknowledge(self.function, "IAM5[Action::s3:GetBucket*]", "Read actions granted by grantReadWrite, "
                    "scoped to the raw-chunk bucket only.")
        acknowledge(self.function, "IAM5[Action::s3:GetObject*]", "Read actions granted by grantReadWrite, "
                    "scoped to the raw-chunk bucket only.")
        acknowledge(self.function, "IAM5[Action::s3:List*]", "List actions granted by grantReadWrite, "
                    "scoped to the raw-chunk bucket only.")
        acknowledge(self.function, "IAM5[Action::s3:DeleteObject*]", "Ingest replaces a run's chunks; "
                    "scoped to the raw-chunk bucket only.")
        acknowledge(self.function, f"IAM5[Resource::<{logical_id(data.raw)}.Arn>/*]",
                    "Chunk keys are per session and run, so objects are addressed under the whole bucket.")

        # Failed asynchronous invocations (schedule or on demand) keep their request here.
        self.dead_letters = dead_letter_queue(self, "DeadLetters")
        scheduler_role = iam.Role(self, "SchedulerRole", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"))
        acknowledge(scheduler_role, f"IAM5[Resource::<{logical_id(self.function)}.Arn>:*]",
                    "The schedule may invoke any version of the ingest function and nothing else.")
        self.function.configure_async_invoke(retry_attempts=1, max_event_age=Duration.hours(6),
                                             on_failure=destinations.SqsDestination(self.dead_letters))
        self.schedule = scheduler.Schedule(
            self, "RaceWeekendSchedule",
            description="Ingest race-weekend sessions as they end",
            schedule=scheduler.ScheduleExpression.cron(minute=settings.ingest_schedule_minutes,
                                                       hour=settings.ingest_schedule_hours,
                                                       week_day=settings.ingest_schedule_days,
                                                       time_zone=TimeZone.ETC_UTC),
            target=targets.LambdaInvoke(self.function,
                                        input=scheduler.ScheduleTargetInput.from_object(
                                            json.loads(settings.ingest_schedule_event)),
                                        dead_letter_queue=self.dead_letters, retry_attempts=2,
                                        max_event_age=Duration.hours(1), role=scheduler_role),
            enabled=settings.ingest_schedule_enabled,
        )
        # The on-demand path: an operator (or CI) holding this policy invokes the function asynchronously.
        self.operator_policy = iam.ManagedPolicy(
            self, "OnDemandPolicy", description="Start an ApexFlow ingestion on demand",
            statements=[iam.PolicyStatement(actions=["lambda:InvokeFunction"],
                                            resources=[self.function.function_arn])])
