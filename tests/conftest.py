"""Shared fixtures: a real PostgreSQL (``DATABASE_URL`` or embedded), a fresh database per test, moto.

Markers: a test that needs a real part (PostgreSQL, moto, a fake OpenAI server, a subprocess, a browser or a
broker) is marked ``integration``, found from the fixtures it uses or its module's ``pytestmark``; the rest are
pure and, less the ``slow`` ones, run alone with ``make test-fast``. ``make test`` runs them all.
"""
from __future__ import annotations

import itertools
import os
import socket
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_CACHE = Path(os.environ.get("APEXFLOW_SHARED_DATA") or ROOT.parent / "shared" / "data") / "fastf1-http-cache"
_counter = itertools.count()


INTEGRATION_FIXTURES = {"pg_server", "s3", "fake_openai", "shared_cache"}


def pytest_collection_modifyitems(items):
    for item in items:
        if INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection to something other than this machine fails the test."""
    real = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family != socket.AF_UNIX and host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"test tried to reach the network: {address}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def local_s3_dir(tmp_path, monkeypatch):
    """Local commands keep moto's buckets in a folder between runs (``APEXFLOW_S3_DIR``): each test its own."""
    monkeypatch.setenv("APEXFLOW_S3_DIR", str(tmp_path / "local-s3"))
    return tmp_path / "local-s3"


def _with_db(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """DSN of a server's maintenance database, with a migrated template database ready."""
    from apexflow.storage.migrate import migrate

    base = os.environ.get("DATABASE_URL")
    server = None
    if not base:
        from apexflow.storage.db import embedded_server

        server = embedded_server(tmp_path_factory.mktemp("pgdata"))
        base = server.get_uri()
    _admin(base, "DROP DATABASE IF EXISTS apexflow_test_template", "CREATE DATABASE apexflow_test_template")
    migrate(_with_db(base, "apexflow_test_template"))
    yield base
    if server is not None:
        server.cleanup()


def _admin(base: str, *statements: str) -> None:
    """Run statements on the maintenance database over a connection of their own."""
    conn = psycopg2.connect(base)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


@contextmanager
def fresh_database(base: str):
    """A new, migrated database (a copy of the template), dropped afterwards."""
    name = f"apexflow_test_{os.getpid()}_{next(_counter)}"
    _admin(base, f"CREATE DATABASE {name} TEMPLATE apexflow_test_template")
    yield _with_db(base, name)
    _admin(base, f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def new_database(pg_server):
    """Makes fresh, migrated databases on demand; all are dropped after the test."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(fresh_database(pg_server))


@pytest.fixture
def dsn(pg_server):
    """A fresh, migrated database for one test."""
    with fresh_database(pg_server) as d:
        yield d


@pytest.fixture(scope="module")
def module_dsn(pg_server):
    """A fresh, migrated database shared by one test module."""
    with fresh_database(pg_server) as d:
        yield d


@pytest.fixture(scope="session")
def demo_dsn(pg_server, tmp_path_factory):
    """A database that ``apexflow demo`` filled (seed 7, 6 laps, insights): what dashboards and reports show."""
    from apexflow_local import demo

    with fresh_database(pg_server) as d:
        demo.run(seed=7, laps=6, dsn=d, reports=tmp_path_factory.mktemp("reports"))
        yield d


@pytest.fixture
def login():
    """``login(dsn, kind)`` -> a connection as a new login of that kind (dropped afterwards)."""
    made = []

    def connect(dsn, kind):
        from apexflow.storage.db import transaction
        from apexflow.storage.logins import ensure_login

        name = f"apexflow_test_{kind}_{os.getpid()}_{len(made)}"
        owner = psycopg2.connect(dsn)
        with transaction(owner) as cur:
            ensure_login(cur, owner.info.dbname, name, "not-a-secret", kind)
        conn = psycopg2.connect(dsn, user=name, password="not-a-secret")
        made.append((owner, name, conn))
        return conn

    yield connect
    for owner, name, conn in made:
        conn.close()
        with owner.cursor() as cur:
            cur.execute(f"DROP OWNED BY {name}; DROP ROLE {name}")
        owner.commit()
        owner.close()


@pytest.fixture
def db(dsn):
    conn = psycopg2.connect(dsn)
    yield conn
    conn.close()


@pytest.fixture
def shared_cache():
    if not SHARED_CACHE.is_dir():
        pytest.skip(f"frozen FastF1 responses not found at {SHARED_CACHE} (the shared data folder is absent)")
    return SHARED_CACHE


@pytest.fixture
def local(dsn):
    """moto S3 + Kinesis and the functions' environment, on a fresh database (no insights state machine: the
    tests of the insights workflow deploy their own)."""
    from apexflow_local.stack import local_stack

    with local_stack(dsn=dsn, insights=False) as d:
        yield d


@pytest.fixture
def fake_openai():
    """A local OpenAI-compatible server (``tests/fake_openai.py``)."""
    from fake_openai import FakeOpenAI

    server = FakeOpenAI()
    yield server
    server.close()


def register_race(dsn: str, seed: int = 7, laps: int = 6, extra_detections=()) -> str:
    """A synthetic race's timing registered (lap-level and race detections included), no car data; its id."""
    from apexflow.pipeline.ingest import register
    from apexflow.simulator import SyntheticRace
    from apexflow.storage import detection_store
    from apexflow.storage.db import transaction

    race = SyntheticRace(seed=seed, laps=laps)
    session = race.session()
    conn = psycopg2.connect(dsn)
    try:
        with transaction(conn) as cur:
            register(cur, session, race.facts(), f"run-{seed}-{laps}")
            detection_store.write_detections(cur, [{**d, "session_id": session.session_id} for d in extra_detections])
    finally:
        conn.close()
    return session.session_id


@pytest.fixture
def s3(monkeypatch):
    """moto's S3 with an empty bucket ``raw``: the client."""
    from moto import mock_aws

    from apexflow_aws.config import client

    for k, v in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                 "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(k, v)
    client.cache_clear()
    with mock_aws():
        c = client("s3")
        c.create_bucket(Bucket="raw")
        yield c
    client.cache_clear()
