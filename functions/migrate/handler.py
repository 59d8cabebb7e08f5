"""Deploy-time migrations (a CloudFormation custom resource): schema first, then the database logins.

Runs as the owner login. The app login may read and write rows; the read-only login (BI tools)
may only read. Both take their passwords from their Secrets Manager secrets, so re-running after
a rotation is harmless.
"""
import json
import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from psycopg2 import sql

from apexflow.storage.migrate import migrate
from apexflow_aws.config import client, connection, database_dsn

logger, tracer, metrics = Logger(), Tracer(), Metrics()

GRANTS = {
    "APP_SECRET_ARN": ("SELECT, INSERT, UPDATE, DELETE", "USAGE, SELECT, UPDATE"),
    "READONLY_SECRET_ARN": ("SELECT", "SELECT"),
}


def _secret(arn: str) -> dict:
    return json.loads(client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


def ensure_login(cur, username: str, password: str, table_privileges: str, sequence_privileges: str) -> None:
    user = sql.Identifier(username)
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    cur.execute(sql.SQL(verb + " ROLE {} WITH LOGIN PASSWORD %s").format(user), (password,))
    database = sql.Identifier(os.environ["DATABASE_NAME"])
    statements = [
        "GRANT CONNECT ON DATABASE {db} TO {user}",
        "GRANT USAGE ON SCHEMA public TO {user}",
        f"GRANT {table_privileges} ON ALL TABLES IN SCHEMA public TO {{user}}",
        f"GRANT {sequence_privileges} ON ALL SEQUENCES IN SCHEMA public TO {{user}}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {table_privileges} ON TABLES TO {{user}}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {sequence_privileges} ON SEQUENCES TO {{user}}",
    ]
    for statement in statements:
        cur.execute(sql.SQL(statement).format(db=database, user=user))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", "apexflow-migrations")}
    applied = migrate(database_dsn())
    conn = connection()
    with conn, conn.cursor() as cur:
        for variable, (tables, sequences) in GRANTS.items():
            login = _secret(os.environ[variable])
            ensure_login(cur, login["username"], login["password"], tables, sequences)
    metrics.add_metric("MigrationsApplied", MetricUnit.Count, len(applied))
    logger.info("migrated", applied=applied)
    return {"PhysicalResourceId": "apexflow-migrations", "Data": {"Applied": ",".join(applied)}}
