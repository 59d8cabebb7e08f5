"""The API over HTTP, as ``apexflow serve`` runs it: the same answers, a schemathesis run, injection attempts,
requests side by side, the insights route running the deployed state machine."""
import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
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

from apexflow.query import insight_runs
from apexflow.storage.db import connect
from apexflow_local import demo, step_functions
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
    """``apexflow serve``'s server on a free port, over a 3-lap race, with the insights state machine the local
    stack deploys (the file CDK deploys, on moto); FastF1 offline on the frozen responses (or none), so asking
    for a session never goes out."""
    frozen = SHARED_CACHE if SHARED_CACHE.is_dir() else tmp_path_factory.mktemp("no-responses")
    with pytest.MonkeyPatch.context() as patch, local_stack(dsn=module_dsn) as dsn:
        patch.setenv("FASTF1_HTTP_CACHE", str(frozen))
        patch.setenv("FASTF1_CACHE", str(tmp_path_factory.mktemp("fastf1")))
        demo.trip(3, 3, dsn)
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
    f"{S}/laps?drivr=VER", f"{S}/telemetry?driver=VER&t_from=NaN",
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


def _stored(dsn, run_id: str) -> list[dict]:
    conn = connect(dsn)
    try:
        with conn.cursor() as cur:
            return insight_runs.run_insights(cur, run_id)
    finally:
        conn.close()


def test_insights_route_runs_the_deployed_state_machine_once_per_request_and_stores_insights(server):
    base, dsn = server
    first = fetch(base, f"{S}/insights", "POST")
    again = fetch(base, f"{S}/insights", "POST")
    assert first[0] == again[0] == 202
    assert json.loads(first[2])["execution_arn"] == json.loads(again[2])["execution_arn"]
    done = step_functions.wait(json.loads(first[2])["execution_arn"])
    assert done["status"] == "SUCCEEDED", done["events"][-1]
    stored = _stored(dsn, done["output"]["run_id"])
    scopes = [i["scope"] for i in stored]
    assert scopes.count("session") == 1 and scopes.count("driver") == 20 and len(stored) == done["output"]["insights"]
    assert {(i["status"], i["note"]) for i in stored} == {("ok", "")}
    status, _, body = fetch(base, f"{S}/insights?limit=1000")
    assert status == 200 and {i["content"] for i in json.loads(body)["insights"]} == {i["content"] for i in stored}
    other = fetch(base, f"{S}/insights", "POST", headers={"Idempotency-Key": "rerun-1"})
    assert other[0] == 202 and json.loads(other[2])["execution_arn"] != json.loads(first[2])["execution_arn"]
    rerun = step_functions.wait(json.loads(other[2])["execution_arn"])
    assert rerun["status"] == "SUCCEEDED" and len(_stored(dsn, rerun["output"]["run_id"])) == len(stored)
    assert _stored(dsn, done["output"]["run_id"]) == []  # the new run replaced the first one's insights
    assert fetch(base, "/sessions/none/insights", "POST")[0] == 404


def _raw(base: str, data: bytes) -> bytes:
    """What the server answers to ``data`` sent as is on one connection."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_head_answers_as_get_without_a_body_and_other_methods_are_405_problems(server):
    base, _ = server
    with urllib.request.urlopen(urllib.request.Request(f"{base}/health", method="HEAD"), timeout=30) as r:
        assert (r.status, r.headers["Content-Type"], r.read()) == (200, "application/json", b"")
    for method, target, allow in [("DELETE", "/sessions", "GET, HEAD, POST"), ("TRACE", "/health", "GET, HEAD"),
                                  ("BREW", f"{S}/laps", "GET, HEAD"), ("PUT", f"/iam{S}/insights", "GET, HEAD, POST")]:
        try:
            urllib.request.urlopen(urllib.request.Request(base + target, method=method), timeout=30)
            raise AssertionError(f"{method} {target} was answered 2xx")
        except urllib.error.HTTPError as e:
            assert (e.code, e.headers["Content-Type"], e.headers["Allow"]) == (405, "application/problem+json", allow)
            assert f"{method} is not allowed" in json.loads(e.read())["detail"]


def test_a_body_that_is_not_json_or_not_whole_is_a_4xx_problem(server):
    base, _ = server
    for kind, data in [("text/plain", b"2025 Miami Sprint"), ("application/xml", b"<session year='2025'/>"),
                       ("application/x-www-form-urlencoded", b"year=2025&event=Miami&session=S")]:
        status, got, body = _post(base, data, kind)
        assert (status, got) == (415, "application/problem+json") and kind in json.loads(body)["detail"]
    answer = _raw(base, b"POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n{}")
    assert answer.startswith(b"HTTP/1.0 400 ") and b"application/problem+json" in answer and b"'ten'" in answer
    answer = _raw(base, b"POST /sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 411 ") and b"Content-Length" in answer


def _post(base, data: bytes, kind: str):
    request = urllib.request.Request(f"{base}/sessions", method="POST", data=data, headers={"Content-Type": kind})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def test_a_stalled_client_holds_up_no_one_and_requests_side_by_side_each_get_their_own_answer(server):
    httpd = make_server(load("api").handler, port=0, workers=4, read_timeout=3)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_port}"
    try:
        with socket.create_connection(("127.0.0.1", httpd.server_port), timeout=60) as stalled:
            stalled.sendall(b"POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            b"Content-Length: 100\r\n\r\n{\"year\": 20")
            status, _, body = fetch(base, "/health")
            assert status == 200 and json.loads(body)["status"] == "ok"
            stalled.setblocking(False)
            with pytest.raises(BlockingIOError):
                stalled.recv(1)  # /health was answered while the half-sent request was still open
            stalled.setblocking(True)
            answer = b""
            while chunk := stalled.recv(65536):  # then the stalled request times out, answered as such
                answer += chunk
            assert answer.startswith(b"HTTP/1.0 408 ") and b"after 11 of its 100 bytes" in answer
        drivers = ["VER", "HAM", "LEC", "NOR", "PIA"]
        targets = [f"{S}/laps?driver={drivers[i % 5]}" if i % 3 else "/health" for i in range(300)]
        with ThreadPoolExecutor(30) as pool:
            answers = list(pool.map(lambda t: (t, fetch(base, t)), targets))
        for target, (status, _kind, body) in answers:
            assert status == 200, (target, body)
            if "driver=" in target:
                laps = json.loads(body)["laps"]
                assert len(laps) == 3 and {lap["driver"] for lap in laps} == {target.rsplit("=", 1)[1]}
    finally:
        httpd.shutdown()
        httpd.server_close()


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
