"""Deploy-time migrations (a CloudFormation custom resource): schema first, then the database logins.

Runs as the owner login. The app login may read and write rows; the read-only login (BI tools)
may only read the reporting schema (``apexflow.storage.logins``). Both take their passwords from
their Secrets Manager secrets, so re-running after a rotation is harmless.
"""
import json

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from apexflow.settings import settings
from apexflow.storage.logins import ensure_login
from apexflow.storage.migrate import migrate
from apexflow_aws.config import client, connection, database_dsn

logger, tracer, metrics = Logger(), Tracer(), Metrics()

LOGINS = {"app_secret_arn": "app", "readonly_secret_arn": "readonly"}  # setting -> apexflow.storage.logins kind


def _secret(arn: str) -> dict:
    return json.loads(client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", "apexflow-migrations")}
    applied = migrate(database_dsn())
    conn = connection()
    with conn, conn.cursor() as cur:
        given = settings()
        for setting, kind in LOGINS.items():
            login = _secret(given.need(setting))
            ensure_login(cur, given.need("database_name"), login["username"], login["password"], kind)
    metrics.add_metric("MigrationsApplied", MetricUnit.Count, len(applied))
    logger.info("migrated", applied=applied)
    return {"PhysicalResourceId": "apexflow-migrations", "Data": {"Applied": ",".join(applied)}}
