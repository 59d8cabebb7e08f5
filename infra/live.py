"""Live: the ingest image as a long-lived ECS Fargate task, started on race weekends by EventBridge Scheduler.

Every ``liveScheduleMinutes`` the schedule starts the task; it follows the session that starts within
``liveLeadMinutes`` or is running (``functions/ingest/live_task.py``), and exits at once when there is none or
another task already follows it. The F1 TV token and the OpenF1 account live in Secrets Manager.
"""
from __future__ import annotations

from aws_cdk import Duration, TimeZone
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import names
from infra.data import Data
from infra.function import log_group, powertools_environment
from infra.ingest import IMAGE_EXCLUDES, dead_letter_queue
from infra.nag import acknowledge, logical_id
from infra.names import Settings
from infra.network import Network


class Live(Construct):
    def __init__(self, scope: Construct, id: str, *, settings: Settings, network: Network, data: Data,
                 database_environment: dict[str, str], state_machine: sfn.IStateMachine, alerts: sns.ITopic) -> None:
        super().__init__(scope, id)
        self.f1_token = secretsmanager.Secret(
            self, "F1Token", secret_name=settings.secret_name("f1"),
            description="F1 TV subscription token for the F1 live-timing car data (put-secret-value)")
        self.openf1_account = secretsmanager.Secret(
            self, "OpenF1Account", secret_name=settings.secret_name("openf1"),
            description='OpenF1 paid account for real-time data: {"username": ..., "password": ...}')
        for secret in (self.f1_token, self.openf1_account):
            acknowledge(secret, "SMG4", "A third-party credential: renewed with its provider and written with "
                        "put-secret-value, which Secrets Manager cannot automate.")

        self.cluster = ecs.Cluster(self, "Cluster", vpc=network.vpc,
                                   container_insights_v2=ecs.ContainerInsights.ENABLED)
        arm = settings.architecture == "arm64"
        self.task = ecs.FargateTaskDefinition(
            self, "Task", cpu=settings.live_cpu, memory_limit_mib=settings.live_memory_mb,
            runtime_platform=ecs.RuntimePlatform(
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
                cpu_architecture=ecs.CpuArchitecture.ARM64 if arm else ecs.CpuArchitecture.X86_64))
        image = ecr_assets.DockerImageAsset(
            self, "Image", directory=str(names.REPO_ROOT), file=names.INGEST_DOCKERFILE, exclude=IMAGE_EXCLUDES,
            platform=ecr_assets.Platform.LINUX_ARM64 if arm else ecr_assets.Platform.LINUX_AMD64)
        self.task.add_container(
            "Follower", image=ecs.ContainerImage.from_docker_image_asset(image),
            entry_point=["python3", "/var/task/live_task.py"],  # the image's handler is the ingest function's
            environment={**powertools_environment(settings, "ingest"), "POWERTOOLS_SERVICE_NAME": names.LIVE_SERVICE,
                         **database_environment,
                         "RAW_BUCKET": data.raw.bucket_name, "STREAM_NAME": data.stream.stream_name,
                         "FASTF1_CACHE": "/tmp/fastf1", "LIVE_SOURCE": settings.live_source,
                         "LIVE_LEAD_MINUTES": str(settings.live_lead_minutes),
                         "F1_TOKEN_SECRET_ARN": self.f1_token.secret_arn,
                         "OPENF1_SECRET_ARN": self.openf1_account.secret_arn,
                         "INSIGHTS_STATE_MACHINE_ARN": state_machine.state_machine_arn,
                         "ALERTS_TOPIC_ARN": alerts.topic_arn},
            logging=ecs.LogDrivers.aws_logs(stream_prefix="live", log_group=log_group(self, "Logs", settings)))
        role = self.task.task_role
        data.raw.grant_read_write(role)
        data.stream.grant_write(role)
        for secret in (data.app_secret, self.f1_token, self.openf1_account):
            secret.grant_read(role)
        state_machine.grant_start_execution(role)
        alerts.grant_publish(role)  # a critical feed gap: every source silent during a running session
        acknowledge(self.task, "IAM5[Action::kms:GenerateDataKey*]", "Publishing to the encrypted alerts topic "
                    "needs data keys from its own KMS key only.")
        acknowledge(self.task, "IAM5[Resource::*]", "The execution role's ecr:GetAuthorizationToken, which "
                    "pulls the image, supports no resource-level permissions.")
        acknowledge(self.task, "ECS2", "The environment holds names and ARNs only; credentials are read "
                    "from Secrets Manager at run time.")
        for action in ("s3:Abort*", "s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:DeleteObject*"):
            acknowledge(self.task, f"IAM5[Action::{action}]", "Granted by grantReadWrite, scoped to the "
                        "raw-chunk bucket only: the task writes and commits a live run there.")
        acknowledge(self.task, f"IAM5[Resource::<{logical_id(data.raw)}.Arn>/*]",
                    "Chunk keys are per session and run, so objects are addressed under the whole bucket.")

        scheduler_role = iam.Role(self, "SchedulerRole", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"))
        self.dead_letters = dead_letter_queue(self, "DeadLetters")
        self.schedule = scheduler.Schedule(
            self, "RaceWeekendSchedule", description="Follow live sessions: start the live task before each",
            schedule=scheduler.ScheduleExpression.cron(minute=settings.live_schedule_minutes,
                                                       hour=settings.live_schedule_hours,
                                                       week_day=settings.live_schedule_days,
                                                       time_zone=TimeZone.ETC_UTC),
            target=targets.EcsRunFargateTask(self.cluster, task_definition=self.task,
                                             vpc_subnets=network.function_subnets,
                                             security_groups=[network.function_sg], assign_public_ip=False,
                                             role=scheduler_role, dead_letter_queue=self.dead_letters,
                                             retry_attempts=1, max_event_age=Duration.minutes(10)),
            enabled=settings.live_schedule_enabled)
