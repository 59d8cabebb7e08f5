"""The HTTP API handler on API Gateway v2 events, over a session that went through the pipeline."""
import copy
import json
from pathlib import Path

import pytest

from apexflow_aws.config import client
from apexflow_aws.local.esm import EventSourceMapping, LambdaContext
from apexflow_aws.local.handlers import load
from apexflow_aws.local.stack import STREAM, local_stack

EVENT = json.loads((Path(__file__).parents[1] / "functions/api/events/get_detections.json").read_text())


@pytest.fixture(scope="module")
def api(module_dsn):
    with local_stack(dsn=module_dsn):
        yield _client()


def _client():
    load("ingest").handler({"source": "synthetic", "seed": 3, "laps": 2}, LambdaContext())
    EventSourceMapping(client("kinesis"), STREAM, load("analyze").handler).drain()
    handler = load("api").handler

    def get(path, query=None):
        event = copy.deepcopy(EVENT)
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
        response = handler(event, LambdaContext("api"))
        return response["statusCode"], json.loads(response["body"])
    return get


def test_the_fixture_event_lists_dropouts(api):
    status, body = api("/sessions/sim-s3-l2/detections", {"kind": "dropout"})
    assert status == 200
    assert body["detections"] and {d["kind"] for d in body["detections"]} == {"dropout"}


def test_sessions_laps_and_filters(api):
    status, body = api("/sessions")
    assert status == 200 and [s["session_id"] for s in body["sessions"]] == ["sim-s3-l2"]
    status, body = api("/sessions/sim-s3-l2")
    assert status == 200 and len(body["entities"]) == 20 and body["source"] == "synthetic"
    status, body = api("/sessions/sim-s3-l2/laps", {"entity": "VER"})
    assert status == 200 and [lap["lap_number"] for lap in body["laps"]] == [1, 2]


@pytest.mark.parametrize("path, query, status, message", [
    ("/sessions/nope", None, 404, "session 'nope' not found"),
    ("/sessions/sim-s3-l2/detections", {"entity": "bad id!"}, 400, "entity 'bad id!' is not a valid id"),
    ("/sessions", {"limit": "0"}, 400, "limit='0' must be an integer from 1 to 500"),
    ("/sessions", {"limit": "ten"}, 400, "must be an integer"),
    ("/nowhere", None, 404, "Not found"),
])
def test_bad_requests_get_a_status_and_a_message(api, path, query, status, message):
    got, body = api(path, query)
    assert got == status and message in body["message"]
