"""Every resource name and tunable in one place; each setting can be overridden with CDK context.

``cdk deploy -c shardCount=8 -c streamMode=provisioned`` sets ``shard_count`` and ``stream_mode``:
the context key is the field name in camelCase. Values from the command line arrive as strings
and are converted to the field's type.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from apexflow.insights.pricing import DEFAULT_MODEL, DEFAULT_TOKEN_BUDGET
from apexflow_aws.mapping import ANALYZE

# Identity of the system.
PREFIX = "apexflow"
METRICS_NAMESPACE = "ApexFlow"

# Database logins: the owner applies migrations, the app login reads and writes rows,
# the read-only login is for BI tools.
DATABASE_NAME = "apexflow"
ADMIN_USER = "apexflow_admin"
APP_USER = "apexflow_app"
READONLY_USER = "apexflow_bi"
SECRETS = {"admin": "db/admin", "app": "db/app", "readonly": "db/readonly", "openai": "openai-api-key",
           "f1": "live/f1-token", "openf1": "live/openf1-account"}

# Powertools service names, one per function.
SERVICES = {
    "ingest": "apexflow-ingest",
    "analyze": "apexflow-analyze",
    "insights": "apexflow-insights",
    "api": "apexflow-api",
    "migrate": "apexflow-migrate",
}
LIVE_SERVICE = "apexflow-live"  # the live task (ECS), not a function

# Where the code lives, relative to the repository root.
REPO_ROOT = Path(__file__).resolve().parent.parent
INGEST_DOCKERFILE = "functions/ingest/Dockerfile"
FUNCTION_DIRS = {name: f"functions/{name}" for name in ("analyze", "insights", "api", "migrate")}
STATE_MACHINE_FILE = "functions/insights/state_machine.asl.json"
MIGRATIONS_DIR = "apexflow/storage/migrations"
LAYERS = ("core", "insights", "report")

# Lambda's size limits for zip functions: code plus all layers.
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
LAMBDA_ZIPPED_LIMIT = 50 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Deploy-time parameters; defaults suit one F1 season on a small account."""

    stack_name: str = "ApexFlow"
    architecture: str = "x86_64"            # or "arm64"; the layer build follows it
    python_version: str = "3.12"
    layers_dir: str = "layers/dist"         # built by ``python -m layers.build``

    # Network
    max_azs: int = 2
    nat_gateways: int = 1                   # ingest (FastF1) and insights (OpenAI) need egress

    # Stream
    stream_mode: str = "on-demand"          # or "provisioned"
    shard_count: int = 2                    # used when provisioned
    stream_retention_hours: int = 24

    # Analyze: the Kinesis event source mapping (defaults shared with local mode: apexflow_aws/mapping.py)
    analyze_batch_size: int = ANALYZE.batch_size
    analyze_batching_window_seconds: int = ANALYZE.batching_window_seconds
    analyze_parallelization_factor: int = ANALYZE.parallelization_factor
    analyze_retry_attempts: int = ANALYZE.retry_attempts
    analyze_max_record_age_seconds: int = ANALYZE.max_record_age_seconds
    analyze_memory_mb: int = 1024
    analyze_timeout_seconds: int = 120
    analyze_reserved_concurrency: int = 0   # 0: unreserved; else a cap that protects the proxy's pool

    # Ingest
    ingest_memory_mb: int = 3008
    ingest_timeout_seconds: int = 900
    ingest_ephemeral_mb: int = 4096
    ingest_reserved_concurrency: int = 0    # 0: unreserved; else sessions ingested at once (others queue)
    # Race weekends: hourly from Friday to Monday (UTC) the ingest function's scheduled path ingests
    # every session that ended within the last ``hours`` and is not registered yet (idempotent).
    ingest_schedule_enabled: bool = True
    ingest_schedule_minutes: str = "15"
    ingest_schedule_hours: str = "*"
    ingest_schedule_days: str = "FRI-MON"
    ingest_schedule_event: str = '{"source": "schedule", "hours": 6}'

    # Live: the ingest image as an ECS Fargate task. On race weekends the schedule starts it every
    # ``live_schedule_minutes``; it follows the session starting within ``live_lead_minutes`` (or running),
    # and exits when there is none or another task follows it already.
    live_schedule_enabled: bool = True
    live_schedule_minutes: str = "0/10"
    live_schedule_hours: str = "*"
    live_schedule_days: str = "FRI-SUN"
    live_lead_minutes: int = 15
    live_source: str = "f1"                 # or "openf1" (a paid account in its secret)
    live_cpu: int = 1024
    live_memory_mb: int = 2048

    # Insights
    insights_reserved_concurrency: int = 0  # 0: unreserved; else concurrent OpenAI calls at most
    insights_model: str = DEFAULT_MODEL     # an OpenAI model with structured outputs
    insights_token_budget: int = DEFAULT_TOKEN_BUDGET  # per run of the workflow (one session)

    # Database
    db_instance_class: str = "t4g.small"
    db_allocated_gb: int = 20
    db_max_allocated_gb: int = 100
    db_backup_days: int = 7
    db_multi_az: bool = False
    db_deletion_protection: bool = True
    secret_rotation_days: int = 30

    # API
    api_rate_limit: int = 50
    api_burst_limit: int = 100

    # Observability
    log_retention: str = "ONE_MONTH"        # a logs.RetentionDays name
    iterator_age_alarm_ms: int = 60_000
    db_connections_alarm: int = 150
    alert_email: str = ""                   # subscribed to the alerts topic when set

    def secret_name(self, key: str) -> str:
        """``<stack>/db/readonly`` and the like: one stack's secrets never collide with another's."""
        return f"{self.stack_name.lower()}/{SECRETS[key]}"

    @property
    def proxy_name(self) -> str:
        return f"{self.stack_name.lower()}-proxy"

    @classmethod
    def from_context(cls, node) -> Settings:
        """Defaults overridden by any CDK context key named like a field (camelCase)."""
        values = {}
        for f in dataclasses.fields(cls):
            raw = node.try_get_context(_camel(f.name))
            if raw is not None:
                values[f.name] = _coerce(raw, type(f.default))
        return cls(**values)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _coerce(raw, kind: type):
    if kind is bool and isinstance(raw, str):
        return raw.strip().lower() in ("1", "true", "yes")
    return kind(raw)


def manylinux_platforms(architecture: str) -> list[str]:
    """pip ``--platform`` tags matching a Lambda architecture (Amazon Linux 2023, glibc 2.34)."""
    machine = {"x86_64": "x86_64", "arm64": "aarch64"}[architecture]
    return [f"manylinux2014_{machine}", f"manylinux_2_28_{machine}"]

