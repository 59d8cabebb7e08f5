"""Secrets stay secret and fresh: a full run's logs never hold the database password or the OpenAI key,
and a rotated database secret is read again once its cached copy is ``SECRET_MAX_AGE`` old."""
from __future__ import annotations

import copy
import io
import json
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from aws_lambda_powertools.utilities.parameters import base

from apexflow_aws import config
from apexflow_aws.config import client
from apexflow_local import step_functions
from apexflow_local.esm import EventSourceMapping, LambdaContext
from apexflow_local.handlers import load
from apexflow_local.stack import STREAM, local_stack

PASSWORD, OPENAI_KEY = "pw-Zq8!x/7%r", "sk-test-Hk3vQ9"
API_EVENT = Path(__file__).parents[1] / "functions/api/events/get_detections.json"


def login_secret(dsn: str, password: str) -> dict:
    """The secret RDS attaches to a login, for the test database (a Unix socket: TLS does not apply)."""
    parts = urlsplit(dsn)
    return {"username": "postgres", "password": password, "host": parse_qs(parts.query)["host"][0],
            "port": 5432, "dbname": parts.path.lstrip("/")}


@pytest.fixture
def secret_login(dsn, monkeypatch):
    """The functions' environment as CDK sets it: the database through a Secrets Manager secret."""
    from aws_lambda_powertools.utilities import parameters

    with local_stack(dsn=dsn):
        sm = client("secretsmanager")
        arn = sm.create_secret(Name="apexflow/db/app", SecretString=json.dumps(login_secret(dsn, PASSWORD)))["ARN"]
        key = sm.create_secret(Name="apexflow/openai-api-key", SecretString=OPENAI_KEY)["ARN"]
        monkeypatch.delenv("DATABASE_URL")
        monkeypatch.setenv("DATABASE_SECRET_ARN", arn)
        monkeypatch.setenv("OPENAI_SECRET_ARN", key)
        parameters.clear_caches()
        config._local.__dict__.clear()
        yield arn
        parameters.clear_caches()
        config._local.__dict__.clear()


def test_a_full_run_logs_no_secret(secret_login, monkeypatch, capsys, caplog, request, fake_openai):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)  # the key travels to a local stand-in of OpenAI
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    caplog.set_level(logging.DEBUG)
    functions_log = io.StringIO()  # the functions' logger keeps the level and stream it was first given
    functions = logging.getLogger("apexflow")
    for handler in functions.handlers:
        monkeypatch.setattr(handler, "stream", functions_log)
    level = functions.level
    functions.setLevel(logging.DEBUG)
    request.addfinalizer(lambda: functions.setLevel(level))
    result = load("ingest").handler({"source": "synthetic", "seed": 3, "laps": 1}, LambdaContext("ingest"))
    client("kinesis").put_record(StreamName=STREAM, PartitionKey=f"{result['session_id']}/VER", Data=b"junk")
    EventSourceMapping(client("kinesis"), STREAM, load("analyze").handler).drain()  # a rejected record logs too
    step_functions.drain(os.environ["INSIGHTS_STATE_MACHINE_ARN"])  # the insights run analyze started, OpenAI key read
    event = json.loads(API_EVENT.read_text())
    for path in ("/sessions", f"/sessions/{result['session_id']}/detections", "/sessions/nope"):
        request = copy.deepcopy(event)
        request["rawPath"] = request["requestContext"]["http"]["path"] = path
        load("api").handler(request, LambdaContext("api"))
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text + functions_log.getvalue()
    assert "record rejected" in logs and result["session_id"] in logs  # the logs were captured
    assert fake_openai.requests and all(r["authorization"] == f"Bearer {OPENAI_KEY}" for r in fake_openai.requests)
    for secret in (PASSWORD, quote(PASSWORD, safe=""), OPENAI_KEY):
        assert secret not in logs


def test_a_rotated_database_secret_is_read_again_after_its_max_age(secret_login, monkeypatch):
    sm = client("secretsmanager")
    first = config.connection()
    assert quote(PASSWORD, safe="") in config.database_dsn()
    sm.put_secret_value(SecretId=secret_login, SecretString=json.dumps(
        {**json.loads(sm.get_secret_value(SecretId=secret_login)["SecretString"]), "password": "rotated-1"}))
    assert config.connection() is first  # still within its max age: the cached secret, the same connection

    class Later(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + timedelta(seconds=config.SECRET_MAX_AGE + 1)

    monkeypatch.setattr(base, "datetime", Later)  # the cached copy is now too old
    second = config.connection()
    assert "rotated-1" in config.database_dsn() and second is not first and first.closed
