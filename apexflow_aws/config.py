"""Where the functions find their resources: environment variables, secrets, clients."""
from __future__ import annotations

import json
import os
from functools import lru_cache
from urllib.parse import quote


@lru_cache(maxsize=None)
def client(service: str):
    """One boto3 client per service and container; ``AWS_ENDPOINT_URL`` redirects all (local mode)."""
    import boto3  # here, not at the top: the analyze function reaches the database without it

    return boto3.client(service)


def database_dsn() -> str:
    """``DATABASE_URL`` if set, else built from the Secrets Manager secret of the RDS Proxy login."""
    return os.environ.get("DATABASE_URL") or _secret_dsn(os.environ["DATABASE_SECRET_ARN"])


@lru_cache(maxsize=4)
def _secret_dsn(secret_arn: str) -> str:
    secret = json.loads(client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"])
    host = os.environ.get("DATABASE_HOST") or secret["host"]
    name = os.environ.get("DATABASE_NAME") or secret.get("dbname", "apexflow")
    return (f"postgresql://{quote(secret['username'])}:{quote(secret['password'])}@{host}:"
            f"{secret.get('port', 5432)}/{name}?sslmode=require")


_connections: dict[str, object] = {}


def connection():
    """A database connection reused across invocations of a warm container (reopened if closed, and
    rid of any transaction an earlier invocation left open), with ``apexflow.storage.db``'s timeouts."""
    from apexflow.storage.db import connect

    dsn = database_dsn()
    conn = _connections.get(dsn)
    if conn is None or conn.closed:
        conn = _connections[dsn] = connect(dsn)
    conn.rollback()
    return conn
