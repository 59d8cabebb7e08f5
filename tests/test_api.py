"""The HTTP API handler on genuine API Gateway (HTTP API v2) events, over a race that went through the pipeline."""
import copy
import json
from pathlib import Path

import pytest

from apexflow.query import compare, detections, insights, laps, sessions, telemetry, timing
from apexflow_aws.api.common import Problem
from apexflow_local import demo
from apexflow_local.esm import LambdaContext
from apexflow_local.handlers import load
from apexflow_local.http_api import api_event
from apexflow_local.stack import local_stack

EVENT = json.loads((Path(__file__).parents[1] / "functions/api/events/get_detections.json").read_text())
S = "/sessions/sim-s3-l3"


@pytest.fixture(scope="module")
def api(module_dsn):
    """A 3-lap synthetic race ingested, analyzed and summarized; ``api(method, target)`` -> (status, type, body)."""
    with local_stack(dsn=module_dsn) as dsn:
        demo.trip(3, 3, dsn)
        handler = load("api").handler

        def call(method, target, body=None, headers=()):
            event = api_event(method, target, [("host", "api.test"), *headers],
                              json.dumps(body).encode() if body is not None else b"")
            response = handler(event, LambdaContext("apexflow-api-local"))
            kind = response["headers"]["Content-Type"]
            return response["statusCode"], kind, json.loads(response["body"]) if "json" in kind else response["body"]
        yield call


def get(api, target):
    status, kind, body = api("GET", target)
    assert status == 200, body
    return body


def test_the_recorded_event_lists_dropouts(api):
    response = load("api").handler(copy.deepcopy(EVENT), LambdaContext("apexflow-api-local"))
    body = json.loads(response["body"])
    assert response["statusCode"] == 200 and body["detections"]
    assert {d["kind"] for d in body["detections"]} == {"dropout"}


@pytest.mark.parametrize("target, model", [
    ("/health", sessions.Health), ("/sessions", sessions.SessionsPage), (S, sessions.SessionDetail),
    (f"{S}/drivers", sessions.DriversPage), (f"{S}/laps", laps.LapsPage), (f"{S}/stints", laps.StintsPage),
    (f"{S}/pit_stops", laps.PitStopsPage), (f"{S}/track_status", timing.TrackStatusPage),
    (f"{S}/race_control", timing.RaceControlPage), (f"{S}/results", timing.ResultsPage),
    (f"{S}/detections", detections.DetectionsPage), (f"{S}/insights", insights.InsightsPage),
    (f"{S}/drivers/VER/insight", insights.Insight), (f"{S}/compare?drivers=VER,HAM", compare.Comparison),
    (f"{S}/telemetry?driver=VER&lap=1", telemetry.Telemetry),
])
def test_every_route_answers_with_its_model(api, target, model):
    body = get(api, target)
    found = model.model_validate(body)
    lists = [v for v in found.model_dump().values() if isinstance(v, list)]
    assert all(lists), f"{target} answered an empty list: {body}"


def test_sessions_drivers_and_laps_hold_the_race(api):
    assert [s["session_id"] for s in get(api, "/sessions")["sessions"]] == ["sim-s3-l3"]
    session = get(api, S)
    assert session["drivers"] == 20 and session["source"] == "synthetic" and session["missing"]
    assert len(get(api, f"{S}/drivers")["drivers"]) == 20
    assert [lap["lap_number"] for lap in get(api, f"{S}/laps?driver=VER")["laps"]] == [1, 2, 3]
    results = get(api, f"{S}/results")["results"]
    assert [r["position"] for r in results] == list(range(1, 21)) and results[0]["points"] == 25


def test_filters_narrow_every_list(api):
    every = get(api, f"{S}/laps?limit=1000")["laps"]
    median = sorted(lap["lap_time"] for lap in every)[len(every) // 2]
    fast = get(api, f"{S}/laps?lap_time<={median}&lap_number>=2&limit=1000")["laps"]
    assert fast and len(fast) < len(every)
    assert fast == [lap for lap in every if lap["lap_number"] >= 2 and lap["lap_time"] <= median]
    strict = get(api, f"{S}/laps?lap_time%3C{median}&limit=1000")["laps"]  # percent-encoded as clients send it
    assert strict == [lap for lap in every if lap["lap_time"] < median]
    found = get(api, f"{S}/detections?limit=1000")["detections"]
    high = get(api, f"{S}/detections?score>0.8&limit=1000")["detections"]
    assert high == [d for d in found if d["score"] > 0.8] and 0 < len(high) < len(found)
    dropouts = get(api, f"{S}/detections?kind=dropout&severity=warning")["detections"]
    assert dropouts == [d for d in found if d["kind"] == "dropout" and d["severity"] == "warning"]
    assert get(api, "/sessions?year=2023")["sessions"] == [] and get(api, "/sessions?year>=2024")["sessions"]
    hard = get(api, f"{S}/stints?compound=hard")["stints"]
    assert hard and {s["compound"] for s in hard} == {"HARD"}


def test_pages_walk_every_row_once(api):
    every = get(api, f"{S}/detections?limit=1000")["detections"]
    seen, cursor = [], ""
    while True:
        page = get(api, f"{S}/detections?limit=7" + (f"&cursor={cursor}" if cursor else ""))
        assert len(page["detections"]) <= 7
        seen += page["detections"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == every and len(every) > 7


def test_lists_as_csv_keep_the_columns_and_the_next_cursor(api):
    status, kind, body = api("GET", f"{S}/laps?driver=VER&format=csv")
    lines = body.splitlines()
    assert status == 200 and kind.startswith("text/csv")
    assert lines[0].split(",")[:3] == ["driver", "lap_number", "lap_start"] and len(lines) == 4
    response = load("api").handler(api_event("GET", f"{S}/drivers?limit=2&format=csv"), LambdaContext("api"))
    assert response["headers"]["X-Next-Cursor"] and len(response["body"].splitlines()) == 3
    status, _, empty = api("GET", f"{S}/pit_stops?driver=VER&lap_number>100&format=csv")
    assert empty.splitlines() == ["driver,lap_number,pit_in_time,pit_out_time,lane_seconds,compound_before,"
                                  "compound_after"]


def test_compare_gives_deltas_to_the_first_driver(api):
    body = get(api, f"{S}/compare?drivers=VER,HAM")
    by = {(row["lap_number"], row["driver"]): row for row in body["laps"]}
    for lap in (1, 2):
        ver, ham = by[lap, "VER"], by[lap, "HAM"]
        assert ver["delta"] == 0 and ham["delta"] == pytest.approx(ham["lap_time"] - ver["lap_time"])
    assert {s["driver"] for s in body["stints"]} == {"VER", "HAM"}


def test_telemetry_is_the_raw_chunks_thinned_to_the_budget(api):
    lap = get(api, f"{S}/laps?driver=VER&lap_number=1")["laps"][0]
    full = get(api, f"{S}/telemetry?driver=VER&lap=1&channels=Speed,nGear&points=10000")
    assert full["t"][0] >= lap["lap_start"] and full["t"][-1] <= lap["lap_start"] + lap["lap_time"]
    assert len(full["t"]) == full["samples"] > 200 and set(full["values"]) == {"Speed", "nGear"}
    thin = get(api, f"{S}/telemetry?driver=VER&lap=1&channels=Speed&points=50")
    assert len(thin["t"]) == 50 and thin["t"][0] == full["t"][0] and thin["t"][-1] == full["t"][-1]
    assert set(thin["t"]) <= set(full["t"])
    _, kind, csv = api("GET", f"{S}/telemetry?driver=VER&t_from=10&t_to=20&channels=Speed&format=csv")
    assert csv.splitlines()[0] == "t,Speed" and all(10 <= float(r.split(",")[0]) <= 20 for r in csv.splitlines()[1:])


@pytest.mark.parametrize("method, target, status, parameter, says", [
    ("GET", "/sessions/nope", 404, "session_id", "session 'nope' not found"),
    ("GET", "/sessions/nope/laps", 404, "session_id", "session 'nope' not found"),
    ("GET", f"{S}/drivers/XYZ/insight", 404, "driver", "no driver 'XYZ'"),
    ("GET", f"{S}/telemetry?driver=VER&lap=99", 404, "lap", "VER has no timed lap 99"),
    ("GET", f"{S}/compare?drivers=VER,XYZ", 404, "driver", "no driver 'XYZ'"),
    ("GET", "/nowhere", 404, None, "no route GET /nowhere"),
    ("GET", "/sessions?limit=0", 422, "limit", "greater than or equal to 1"),
    ("GET", "/sessions?limit=ten", 422, "limit", "valid integer"),
    ("GET", f"{S}/detections?driver=bad%20id!", 422, "driver", "should match pattern"),
    ("GET", f"{S}/detections?severity=bad", 422, "severity", "'info', 'warning' or 'critical'"),
    ("GET", f"{S}/telemetry?lap=1", 422, "driver", "Field required"),
    ("GET", f"{S}/laps?foo>3", 400, "foo", "'foo' cannot be compared here"),
    ("GET", f"{S}/laps?lap_time<=fast", 400, "lap_time", "must be a finite number"),
    ("GET", f"{S}/laps?lap_time<=nan", 400, "lap_time", "must be a finite number"),
    ("GET", f"{S}/laps?lap_from=5&lap_to=2", 400, "lap_to", "lap_to=2 is before lap_from=5"),
    ("GET", f"{S}/detections?cursor=eyJ4Ijog", 400, "cursor", "cursor is not one this list gave"),
    ("GET", f"{S}/detections?cursor=WyJ4IiwgIngiXQ", 400, "cursor", "cursor is not one this list gave"),
    ("GET", f"{S}/telemetry?driver=VER&channels=Speed,Boost", 400, "channels", "no channel Boost"),
    ("GET", f"{S}/telemetry?driver=VER&lap=1&t_from=3", 400, "lap", "not both"),
    ("GET", f"{S}/compare?drivers=VER,VER", 400, "drivers", "2 to 5 different drivers"),
    ("POST", "/sessions", 422, "event", "Field required"),
    ("GET", f"{S}/laps?drivr=VER", 400, "drivr", ("unknown parameter 'drivr' (did you mean 'driver'?); GET "
                                                  "/sessions/{session_id}/laps takes: driver, lap_from")),
    ("GET", f"{S}/laps?driver=VER&lap_tme<90", 400, "lap_tme", ("'lap_tme' cannot be compared here (did you mean "
                                                              "'lap_time'?); comparable fields: lap_number")),
    ("GET", f"{S}/drivers?limit>3", 400, "limit", "'limit' cannot be compared here; comparable fields: none"),
    ("GET", f"/iam{S}/results?points=25&position_x=1", 400, "position_x", "comparisons on: position, grid_position"),
    ("GET", "/health?verbose", 400, "verbose", "GET /health takes: no parameters"),
    ("GET", f"{S}/telemetry?driver=VER&t_from=NaN", 422, "t_from", "Input should be a finite number"),
    ("GET", f"{S}/detections?t_to=inf", 422, "t_to", "Input should be a finite number"),
    ("DELETE", "/sessions", 405, None, "DELETE is not allowed on /sessions; it takes GET, HEAD, POST"),
    ("PATCH", f"{S}/insights", 405, None, "it takes GET, HEAD, POST"),
])
def test_errors_are_problems_naming_the_parameter(api, method, target, status, parameter, says):
    got, kind, body = api(method, target, {"year": 2025} if target == "/sessions" else None)
    assert (got, kind) == (status, "application/problem+json"), body
    problem = Problem.model_validate(body)
    assert problem.status == status and says in problem.detail
    assert [e.parameter for e in problem.errors][:1] == ([parameter] if parameter else [])


def test_filters_the_route_takes_still_pass_the_check_for_unknown_parameters(api):
    assert get(api, f"{S}/laps?driver=VER&lap_number=2&lap_time>1&format=json&limit=5")["laps"][0]["lap_number"] == 2
    assert get(api, "/docs?format=json")["openapi"]  # Powertools' own page takes its own parameters


def _raw_call(method, target, headers=(), body=b""):
    return load("api").handler(api_event(method, target, list(headers), body), LambdaContext("apexflow-api-local"))


@pytest.mark.parametrize("kind", ["text/plain", "application/xml", "application/x-www-form-urlencoded",
                                  "multipart/form-data; boundary=x"])
def test_a_body_that_is_not_json_is_415_naming_what_the_route_takes(api, kind):
    response = _raw_call("POST", "/sessions", [("Content-Type", kind)], b"year=2025&event=Miami&session=S")
    problem = Problem.model_validate_json(response["body"])
    assert (response["statusCode"], response["headers"]["Content-Type"]) == (415, "application/problem+json")
    assert response["headers"]["Accept-Post"] == "application/json"
    media = kind.split(";")[0]
    assert problem.detail == f"POST /sessions takes a JSON body (Content-Type: application/json), not {media}"
    loose = _raw_call("POST", "/sessions", [("Content-Type", "Application/JSON; charset=UTF-8")], b'{"year": 2025}')
    assert loose["statusCode"] == 422 and "event: Field required" in loose["body"]  # media types ignore case


def test_head_is_get_without_the_body_and_a_method_no_route_takes_is_405_with_allow(api):
    head, got = _raw_call("HEAD", f"{S}/laps?driver=VER"), _raw_call("GET", f"{S}/laps?driver=VER")
    assert (head["statusCode"], head["headers"], head["body"]) == (200, got["headers"], "") and got["body"]
    assert _raw_call("HEAD", "/nowhere")["statusCode"] == 404
    refused = _raw_call("PUT", "/health")
    assert (refused["statusCode"], refused["headers"]["Allow"]) == (405, "GET, HEAD")


def test_services_reach_the_same_routes_under_the_iam_prefix(api):
    assert get(api, f"/iam{S}/drivers?limit=3") == get(api, f"{S}/drivers?limit=3")


def test_openapi_document_lists_every_route_with_its_errors(api):
    doc = get(api, "/openapi.json")
    routes = {f"{method.upper()} {path}" for path, item in doc["paths"].items() for method in item}
    assert {"GET /health", "GET /sessions", "POST /sessions", "GET /sessions/{session_id}/telemetry",
            "GET /sessions/{session_id}/drivers/{driver}/insight", "POST /sessions/{session_id}/insights",
            "GET /sessions/{session_id}/compare", "GET /sessions/{session_id}/report",
            "GET /sessions/{session_id}/predictions", "GET /sessions/{session_id}/feeds"} <= routes
    assert len(routes) == 20
    laps_get = doc["paths"]["/sessions/{session_id}/laps"]["get"]
    assert set(laps_get["responses"]) == {"200", "400", "404", "422", "500"}
    assert "text/csv" in laps_get["responses"]["200"]["content"]
    assert "lap_time" in laps_get["description"]
    status, kind, page = api("GET", "/docs")
    assert status == 200 and kind == "text/html" and "swagger" in page.lower()


def test_an_unexpected_fault_is_a_500_problem_logged_with_the_correlation_id(api, monkeypatch):
    from apexflow_aws.api.app import logger

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(sessions, "drivers", broken)
    event = api_event("GET", f"{S}/drivers")
    response = load("api").handler(event, LambdaContext("apexflow-api-local"))
    assert response["statusCode"] == 500 and "boom" not in response["body"]
    assert logger.get_correlation_id() == event["requestContext"]["requestId"]
