"""Where the functions find their resources: environment variables, secrets, clients."""
from __future__ import annotations

import logging
import os
from functools import lru_cache
from urllib.parse import quote

# At DEBUG, botocore logs whole responses, secrets' values included: it never logs below WARNING here,
# whatever level the function's logging is set to.
for _name in ("botocore", "boto3", "urllib3"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@lru_cache(maxsize=None)
def client(service: str):
    """One boto3 client per service and container; ``AWS_ENDPOINT_URL`` redirects all (local mode)."""
    import boto3  # here, not at the top: the analyze function reaches the database without it

    return boto3.client(service)


SECRET_MAX_AGE = 300  # seconds a container trusts a database secret it read: a rotation reaches it this fast


def database_dsn() -> str:
    """``DATABASE_URL`` if set, else built from the Secrets Manager secret of the RDS Proxy login, re-read
    once it is ``SECRET_MAX_AGE`` seconds old (Powertools parameters), so a rotated password is picked up."""
    from aws_lambda_powertools.utilities import parameters

    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    secret = parameters.get_secret(os.environ["DATABASE_SECRET_ARN"], transform="json", max_age=SECRET_MAX_AGE)
    host = os.environ.get("DATABASE_HOST") or secret["host"]
    name = os.environ.get("DATABASE_NAME") or secret.get("dbname", "apexflow")
    user, password, host = (quote(x, safe="") for x in (secret["username"], secret["password"], host))
    return f"postgresql://{user}:{password}@{host}:{secret.get('port', 5432)}/{name}?sslmode=require"


_connections: dict[str, object] = {}


def connection():
    """A database connection reused across invocations of a warm container (reopened if closed, and
    rid of any transaction an earlier invocation left open), with ``apexflow.storage.db``'s timeouts."""
    from apexflow.storage.db import connect

    dsn = database_dsn()
    for old in [d for d in _connections if d != dsn]:  # the secret rotated: the old login's connection goes
        _connections.pop(old).close()
    conn = _connections.get(dsn)
    if conn is None or conn.closed:
        conn = _connections[dsn] = connect(dsn)
    conn.rollback()
    return conn
