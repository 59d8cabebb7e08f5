"""Database waits are bounded and failures say so in one line: a server that never answers, a refused
connection, a statement that runs too long, a connection lost mid-command."""
from __future__ import annotations

import socket
import time

import psycopg2
import pytest

from apexflow.errors import ContractError, DatabaseUnavailable
from apexflow.storage.db import connect, transaction
from apexflow_local.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections (the kernel completes the handshake) and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"postgresql://apexflow:s3cret-pw@127.0.0.1:{server.getsockname()[1]}/apexflow"
    server.close()


@pytest.fixture
def refused_url():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    return f"postgresql://apexflow:s3cret-pw@127.0.0.1:{port}/apexflow"


def test_a_server_that_never_answers_fails_after_the_connect_timeout(silent_server, monkeypatch):
    monkeypatch.setenv("APEXFLOW_DB_CONNECT_TIMEOUT", "2")
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match="timeout expired") as e:
        connect(silent_server)
    assert time.monotonic() - started < 30  # bounded, not hanging (libpq's minimum is 2 s)
    assert "s3cret-pw" not in str(e.value) and "apexflow:***@127.0.0.1" in str(e.value)


@pytest.mark.parametrize("server, reason", [("silent_server", "timeout expired"), ("refused_url", "refused")])
def test_the_cli_says_in_one_line_that_the_database_is_unreachable(server, reason, request, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", request.getfixturevalue(server))
    monkeypatch.setenv("APEXFLOW_DB_CONNECT_TIMEOUT", "2")
    assert main(["db", "migrate"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("apexflow: error: cannot reach the database at postgresql://apexflow:***@")
    assert reason in err and "Traceback" not in err and "s3cret-pw" not in err and err.count("\n") == 1


def test_the_lambda_connection_is_bounded_too(silent_server, monkeypatch):
    from apexflow_aws import config

    monkeypatch.setenv("DATABASE_URL", silent_server)
    monkeypatch.setenv("APEXFLOW_DB_CONNECT_TIMEOUT", "2")
    with pytest.raises(DatabaseUnavailable, match="timeout expired"):
        config.connection()


def test_a_statement_running_too_long_is_cancelled_and_the_connection_recovers(dsn, monkeypatch):
    monkeypatch.setenv("APEXFLOW_DB_STATEMENT_TIMEOUT", "0.2")
    conn = connect(dsn)
    with pytest.raises(psycopg2.errors.QueryCanceled, match="statement timeout"), transaction(conn) as cur:
        cur.execute("DELETE FROM sessions")
        cur.execute("SELECT pg_sleep(10)")
    with transaction(conn) as cur:  # the connection is usable again
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    conn.close()


def test_a_bad_timeout_setting_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("APEXFLOW_DB_CONNECT_TIMEOUT", "soon")
    with pytest.raises(ContractError, match="APEXFLOW_DB_CONNECT_TIMEOUT='soon' must be a number of seconds"):
        connect("postgresql://127.0.0.1/none")


def test_migrators_started_at_once_on_an_empty_database_apply_each_migration_once(pg_server):
    """They wait for each other on a table lock (not an advisory lock any login could hold)."""
    from concurrent.futures import ThreadPoolExecutor

    from conftest import _admin, _with_db

    from apexflow.storage.migrate import available, migrate

    name = f"apexflow_empty_{time.monotonic_ns()}"
    _admin(pg_server, f"CREATE DATABASE {name}")
    try:
        with ThreadPoolExecutor(4) as pool:
            applied = list(pool.map(lambda _: migrate(_with_db(pg_server, name)), range(4)))
        assert sorted(n for a in applied for n in a) == [n for _, n, _ in available()]
        conn = psycopg2.connect(_with_db(pg_server, name))
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM schema_migrations")
            assert cur.fetchone() == (len(available()),)
        conn.close()
    finally:
        _admin(pg_server, f"DROP DATABASE {name} WITH (FORCE)")
