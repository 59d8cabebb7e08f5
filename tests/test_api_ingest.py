"""POST /sessions: an F1 session asked for over the API is ingested asynchronously, once (frozen FastF1 data)."""
import json

from apexflow_local import ingest_cli
from apexflow_local.esm import LambdaContext
from apexflow_local.handlers import load
from apexflow_local.http_api import api_event

MIAMI = "f1-2025-miami-grand-prix-s"


def post(target, body):
    event = api_event("POST", target, [("content-type", "application/json")], json.dumps(body).encode())
    response = load("api").handler(event, LambdaContext("apexflow-api-local"))
    return response["statusCode"], json.loads(response["body"])


def get(target):
    response = load("api").handler(api_event("GET", target), LambdaContext("apexflow-api-local"))
    return response["statusCode"], json.loads(response["body"])


def test_asking_for_a_session_ingests_it_once(local, shared_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("FASTF1_HTTP_CACHE", str(shared_cache))
    monkeypatch.setenv("FASTF1_CACHE", str(tmp_path))
    request = {"year": 2025, "event": "Miami", "session": "Sprint"}
    status, body = post("/sessions", request)
    assert (status, body) == (202, {"session_id": MIAMI, "status": "ingesting", "href": f"/sessions/{MIAMI}"})
    ingest_cli.idle()
    status, body = post("/sessions", {**request, "session": "S"})
    assert (status, body["session_id"], body["status"]) == (202, MIAMI, "registered")
    status, session = get(f"/sessions/{MIAMI}")
    assert status == 200 and session["drivers"] == 20 and "car_data" in session["missing"]
    status, results = get(f"/sessions/{MIAMI}/results")
    assert status == 200 and len(results["results"]) == 20 and results["results"][0]["position"] == 1
    assert get(f"/sessions/{MIAMI}/race_control")[1]["race_control"]
    stops = get(f"/sessions/{MIAMI}/pit_stops?limit=1000")[1]["pit_stops"]
    assert len(stops) == 21  # as the laps say (tests/test_schedule.py)
    status, telemetry = get(f"/sessions/{MIAMI}/telemetry?driver=VER&lap=2")
    assert status == 200 and telemetry["samples"] == 0  # this session has no car data


def test_a_request_naming_no_session_says_which_field(local, shared_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("FASTF1_HTTP_CACHE", str(shared_cache))
    monkeypatch.setenv("FASTF1_CACHE", str(tmp_path))
    status, body = post("/sessions", {"year": 2025, "event": "Atlantis", "session": "R"})
    assert status == 400 and body["errors"][0]["parameter"] == "event" and "Miami Grand Prix" in body["detail"]
    status, body = post("/sessions", {"year": 2025, "event": "Miami", "session": "FP3"})
    assert status == 400 and body["errors"][0]["parameter"] == "session" and "Sprint" in body["detail"]
