"""The API over HTTP, as ``apexflow serve`` runs it: the same answers, a schemathesis run, injection attempts."""
import gzip
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from conftest import SHARED_CACHE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from apexflow.storage.db import connect
from apexflow_aws.config import client
from apexflow_local import demo
from apexflow_local.esm import LambdaContext
from apexflow_local.handlers import load
from apexflow_local.http_api import api_event, make_server
from apexflow_local.stack import local_stack

S = "/sessions/sim-s3-l3"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLES = ("sessions", "entities", "laps", "track_status", "session_facts", "telemetry_chunks", "detections",
          "insights", "processing_checkpoints", "field_profile")
REQUIRED = {"/sessions/{session_id}/telemetry": {"driver": "VER", "lap": "1"},
            "/sessions/{session_id}/compare": {"drivers": "VER,HAM"}}
INJECTIONS = ["' OR '1'='1", "VER' OR 1=1 --", "x'; DROP TABLE sessions; --", "1) OR (1=1", "%' --",
              "\" OR \"\"=\"", "1; DELETE FROM laps", "$$; SELECT pg_sleep(5); $$"]


@pytest.fixture(scope="module")
def server(module_dsn, tmp_path_factory):
    """``apexflow serve``'s server on a free port, over a 3-lap race, with a (moto) insights state machine;
    FastF1 offline on the frozen responses (or none), so asking for a session never goes out."""
    frozen = SHARED_CACHE if SHARED_CACHE.is_dir() else tmp_path_factory.mktemp("no-responses")
    with pytest.MonkeyPatch.context() as patch, local_stack(dsn=module_dsn) as dsn:
        patch.setenv("FASTF1_HTTP_CACHE", str(frozen))
        patch.setenv("FASTF1_CACHE", str(tmp_path_factory.mktemp("fastf1")))
        demo.trip(3, 3, dsn)
        role = "arn:aws:iam::123456789012:role/sfn"
        machine = client("stepfunctions").create_state_machine(
            name="insights", roleArn=role, definition=json.dumps({"StartAt": "A", "States": {"A": {
                "Type": "Pass", "End": True}}}))["stateMachineArn"]
        patch.setenv("INSIGHTS_STATE_MACHINE_ARN", machine)
        httpd = make_server(load("api").handler, port=0)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_port}", dsn
        finally:
            httpd.shutdown()
            httpd.server_close()


def fetch(base, target, method="GET", body=None, headers=None):
    headers = {**({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})}
    request = urllib.request.Request(base + target, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


@pytest.mark.parametrize("target", [
    "/health", "/sessions?limit=1", S, f"{S}/drivers?limit=3", f"{S}/laps?driver=VER&lap_time<=200",
    f"{S}/stints?compound=HARD", f"{S}/pit_stops", f"{S}/track_status", f"{S}/race_control", f"{S}/results",
    f"{S}/detections?score%3E0.5", f"{S}/insights", f"{S}/drivers/VER/insight", f"{S}/compare?drivers=VER,HAM",
    f"{S}/telemetry?driver=VER&lap=2&points=20", f"{S}/laps?format=csv", f"{S}/nope", "/sessions?limit=0",
])
def test_over_http_the_answers_are_the_handlers(server, target):
    base, _ = server
    status, kind, body = fetch(base, target)
    response = load("api").handler(api_event("GET", target), LambdaContext("api"))
    assert (status, kind) == (response["statusCode"], response["headers"]["Content-Type"])
    same = json.loads if "json" in kind else str
    assert same(body) == same(response["body"])


def test_report_page_is_the_cli_report_gzip_compressed_for_clients_that_accept_it(server):
    base, dsn = server
    from apexflow.report import render

    conn = connect(dsn)
    try:
        with conn.cursor() as cur:
            expected = render(cur, "sim-s3-l3")
    finally:
        conn.close()
    request = urllib.request.Request(f"{base}{S}/report", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=60) as r:
        assert (r.status, r.headers["Content-Type"], r.headers["Content-Encoding"]) == (
            200, "text/html; charset=utf-8", "gzip")
        packed = r.read()
    assert gzip.decompress(packed).decode() == expected and len(packed) < len(expected) / 3
    assert fetch(base, f"{S}/report")[2] == expected  # plain for a client that does not ask for gzip
    status, kind, body = fetch(base, "/sessions/nope/report")
    assert (status, kind) == (404, "application/problem+json") and "GET /sessions lists" in json.loads(body)["detail"]


def test_insights_workflow_starts_once_per_request(server):
    base, _ = server
    first = fetch(base, f"{S}/insights", "POST")
    again = fetch(base, f"{S}/insights", "POST")
    other = fetch(base, f"{S}/insights", "POST", headers={"Idempotency-Key": "rerun-1"})
    assert first[0] == again[0] == other[0] == 202
    arns = [json.loads(r[2])["execution_arn"] for r in (first, again, other)]
    assert arns[0] == arns[1] != arns[2]
    assert fetch(base, "/sessions/none/insights", "POST")[0] == 404


def _counts(dsn) -> dict:
    conn = connect(dsn)
    try:
        with conn.cursor() as cur:
            found = {}
            for table in TABLES:
                cur.execute(f"SELECT count(*), md5(coalesce(string_agg(t::text, '' ORDER BY t::text), '')) "
                            f"FROM {table} t")
                found[table] = cur.fetchone()
            return found
    finally:
        conn.close()


def _parameters(base) -> list[tuple[str, str, str]]:
    """(method, path template, parameter) for every path and query parameter the OpenAPI document names."""
    doc = json.loads(fetch(base, "/openapi.json")[2])
    return [(method.upper(), path, p["name"]) for path, item in doc["paths"].items()
            for method, op in item.items() for p in op.get("parameters", []) if p["in"] in ("path", "query")]


def test_sql_injection_in_any_parameter_changes_nothing(server, shared_cache):
    base, dsn = server
    before = _counts(dsn)
    tried = 0
    for method, path, name in _parameters(base):
        for attack in INJECTIONS:
            ids, query = {"session_id": "sim-s3-l3", "driver": "VER"}, dict(REQUIRED.get(path, {}))
            if "{" + name + "}" in path:
                ids[name] = attack
            else:
                query[name] = attack
            target = path.format(**{k: quote(v, safe="") for k, v in ids.items()})
            status, kind, body = fetch(base, target + (f"?{urlencode(query)}" if query else ""), method)
            tried += 1
            assert status in (200, 202, 400, 404, 422), (method, target, query, status, body)
            if status == 200 and "json" in kind:
                lists = [v for v in json.loads(body).values() if isinstance(v, list)]
                assert all(v == [] for v in lists), (method, target, query, body[:300])
    for attack in INJECTIONS:  # the comparison filters, name and value
        for query in (f"lap_time<={quote(attack)}", f"{quote(attack)}<=1", f"lap_time{quote(attack)}=1"):
            status, _, body = fetch(base, f"{S}/laps?{query}")
            assert status in (200, 400), body
            if status == 200:
                assert json.loads(body) == json.loads(fetch(base, f"{S}/laps")[2])  # ignored as unknown
        status, _, body = fetch(base, "/sessions", "POST", {"year": 2025, "event": attack, "session": attack})
        assert status == 400 and json.loads(body)["errors"][0]["parameter"] == "event", body
    assert tried > 200 and _counts(dsn) == before


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def _fuzz(data, schema, base, modes, path_parameters):
    case = data.draw(schema.as_strategy(generation_mode=modes, path_parameters=path_parameters))
    case.call_and_validate(base_url=base, checks=[not_a_server_error, status_code_conformance,
                                                  content_type_conformance, response_schema_conformance,
                                                  negative_data_rejection])


@pytest.mark.parametrize("mode, real", [("positive", True), ("positive", False), ("negative", False)])
def test_schemathesis_finds_no_5xx_and_every_response_matches_its_schema(server, mode, real):
    base, _ = server
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    _fuzz(schema=schema, base=base, modes=GenerationMode(mode),
          path_parameters={"session_id": "sim-s3-l3", "driver": "VER"} if real else None)


def _cli(*args, dsn) -> str:
    env = {**os.environ, "DATABASE_URL": dsn, "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, "-m", "apexflow_local.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cli_prints_what_the_routes_answer(server):
    base, dsn = server
    table = _cli("sessions", dsn=dsn).splitlines()
    assert table[0].split()[:3] == ["session_id", "source", "year"] and table[1].startswith("sim-s3-l3")
    laps = json.loads(_cli("laps", "sim-s3-l3", "--driver", "VER", "--format", "json", dsn=dsn))
    assert [lap["lap_number"] for lap in laps] == [1, 2, 3]
    assert laps == json.loads(fetch(base, f"{S}/laps?driver=VER")[2])["laps"]
    csv = _cli("detections", "sim-s3-l3", "--kind", "dropout", "--format", "csv", dsn=dsn).splitlines()
    api = json.loads(fetch(base, f"{S}/detections?kind=dropout")[2])["detections"]
    assert len(csv) == len(api) + 1 and all(",dropout," in line for line in csv[1:])
    missing = subprocess.run([sys.executable, "-m", "apexflow_local.cli", "laps", "nope"], capture_output=True,
                             text=True, env={**os.environ, "DATABASE_URL": dsn, "PYTHONPATH": ROOT}, cwd=ROOT,
                             timeout=120)
    assert missing.returncode == 2 and "session 'nope' not found" in missing.stderr


def test_serve_command_answers_on_its_port(server, tmp_path):
    _, dsn = server
    env = {**os.environ, "DATABASE_URL": dsn, "PYTHONPATH": ROOT}
    with open(tmp_path / "serve.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "apexflow_local.cli", "serve", "--port", "0"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline, base = time.monotonic() + 60, None
        while base is None and time.monotonic() < deadline:
            text = (tmp_path / "serve.log").read_text()
            if "ApexFlow API on " in text:
                base = text.split("ApexFlow API on ", 1)[1].split()[0]
            time.sleep(0.2)
        assert base, (tmp_path / "serve.log").read_text()
        status, _, body = fetch(base, "/sessions")
        assert status == 200 and json.loads(body)["sessions"][0]["session_id"] == "sim-s3-l3"
        status, _, body = fetch(base, f"{S}/telemetry?driver=VER&lap=1")
        assert status == 404 and "ingest the session again" in json.loads(body)["detail"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
