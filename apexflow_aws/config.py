"""Where the functions find their resources: environment variables, secrets, clients."""
from __future__ import annotations

import logging
import threading
from functools import cache
from urllib.parse import quote

from apexflow.settings import settings

SECRET_MAX_AGE = 300  # seconds a container trusts a database secret it read: a rotation reaches it this fast

# At DEBUG, botocore logs whole responses, secrets' values included: it never logs below WARNING here,
# whatever level the function's logging is set to.
for _name in ("botocore", "boto3", "urllib3"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@cache
def client(service: str):
    """One boto3 client per service and container; ``AWS_ENDPOINT_URL`` redirects all (local mode)."""
    import boto3  # here, not at the top: the analyze function reaches the database without it

    return boto3.client(service)


def database_dsn(refresh: bool = False) -> str:
    """``DATABASE_URL`` if set, else built from the Secrets Manager secret of the RDS Proxy login
    (re-read every ``SECRET_MAX_AGE`` seconds, or now with ``refresh``)."""
    given = settings()
    return given.database_url or _secret_dsn(given.need("database_secret_arn"), refresh)


def _secret_dsn(secret_arn: str, refresh: bool) -> str:
    from aws_lambda_powertools.utilities import parameters

    secret = parameters.get_secret(secret_arn, transform="json", max_age=SECRET_MAX_AGE, force_fetch=refresh)
    host = settings().database_host or secret["host"]
    name = settings().database_name or secret.get("dbname", "apexflow")
    user, password, host = (quote(x, safe="") for x in (secret["username"], secret["password"], host))
    return f"postgresql://{user}:{password}@{host}:{secret.get('port', 5432)}/{name}?sslmode=require"


_local = threading.local()


def connection():
    """This thread's database connection, reused across invocations of a warm container (rid of any
    transaction an earlier invocation left open), with ``apexflow.storage.db``'s timeouts; reopened when
    closed or when the login changed (the secret rotated). A refused login re-reads the secret once."""
    from apexflow.errors import DatabaseUnavailable
    from apexflow.storage.db import connect

    dsn = database_dsn()
    conn = getattr(_local, "conn", None)
    if conn is not None and not conn.closed and _local.dsn == dsn:
        conn.rollback()
        return conn
    if conn is not None:
        conn.close()
    try:
        conn = connect(dsn)
    except DatabaseUnavailable:
        if settings().database_url:
            raise
        dsn = database_dsn(refresh=True)
        conn = connect(dsn)
    _local.conn, _local.dsn = conn, dsn
    return conn
