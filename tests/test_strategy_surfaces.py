"""Strategy predictions where users read them: the query, `apexflow strategy`, GET /sessions/{id}/predictions.

A real session (the 2023 Baku sprint, timing only) is registered in a real PostgreSQL; truth comes from its laps.
"""
import json

import psycopg2
import pytest
from conftest import SHARED_CACHE

from apexflow.query import strategy
from apexflow_local.cli import main

SID = "f1-2023-azerbaijan-grand-prix-s"


@pytest.fixture(scope="module")
def baku(module_dsn, tmp_path_factory):
    if not SHARED_CACHE.is_dir():
        pytest.skip(f"frozen FastF1 responses not found at {SHARED_CACHE} (the shared data folder is absent)")
    from apexflow.pipeline.ingest import register
    from apexflow.sources.fastf1 import FastF1Source
    from apexflow.storage.db import transaction

    src = FastF1Source(2023, "Azerbaijan", "S", http_cache=SHARED_CACHE, telemetry=False,
                       cache_dir=tmp_path_factory.mktemp("ff1"))
    conn = psycopg2.connect(module_dsn)
    with transaction(conn) as cur:
        register(cur, src.session(), src.facts(), "strategy-test")
    yield conn, src.facts().laps
    conn.close()


def state(conn) -> tuple:
    with conn.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM laps), "
                    "(SELECT count(*) FROM detections), (SELECT md5(string_agg(entity_id || lap_number || "
                    "coalesce(position::text, ''), ',' ORDER BY entity_id, lap_number)) FROM laps)")
        return cur.fetchone()


def test_predictions_after_a_lap_cover_every_running_car_in_its_real_position(baku):
    conn, laps = baku
    with conn.cursor() as cur:
        found = strategy.predictions(cur, SID, lap=10)
    truth = {r["Driver"]: r["Position"] for r in laps if r["LapNumber"] == 10}
    assert {p["driver"]: p["position"] for p in found} == truth
    in_pits = {r["Driver"] for r in laps if r["LapNumber"] == 10 and r["PitInTime"] is not None}
    assert in_pits == {"NOR"}
    for p in found:
        assert p["lap"] == 10 and p["reason"]
        assert p["next_lap_low"] < p["next_lap"] < p["next_lap_high"]
        if p["driver"] in in_pits:  # NOR drove into the pit lane at the end of lap 10
            assert p["reason"] == "stopping: in the pit lane after lap 10" and p["rejoin_position"] is None
        else:
            assert sum(p["rejoin_probabilities"].values()) == pytest.approx(1.0, abs=0.05)
    # NOR stopped at the end of lap 10 and was 18th at the end of lap 11: the prediction after lap 9 says so
    with conn.cursor() as cur:
        nor = strategy.predictions(cur, SID, lap=9, driver="NOR")
    assert [(p["driver"], p["rejoin_position"]) for p in nor] == [("NOR", 18)]


def test_cli_prints_the_pit_wall_table(baku, monkeypatch, capsys):
    conn, laps = baku
    monkeypatch.setenv("DATABASE_URL", conn.dsn)
    before = state(conn)
    assert main(["strategy", SID, "--lap", "12"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{SID} after lap 12 of 17: pit loss")
    header = out.splitlines()[1].split()
    assert header[:3] == ["driver", "position", "compound"] and "rejoin_position" in header and "reason" in header
    running = {r["Driver"] for r in laps if r["LapNumber"] == 12}
    assert {line.split()[0] for line in out.splitlines()[2:]} == running
    assert main(["strategy", SID, "--driver", "ver", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["driver"], r["lap"]) for r in rows] == [("VER", 17)]
    assert state(conn) == before


@pytest.mark.parametrize("argv, message", [
    (["strategy", "f1-1999-nowhere-r"], "session 'f1-1999-nowhere-r' not found"),
    (["strategy", SID, "--lap", "40"], "lap=40 is outside the session: it has laps 1-17"),
    (["strategy", SID, "--lap", "0"], "lap=0 is outside the session"),
    (["strategy", SID, "--driver", "XXX"], "driver 'XXX' is not in session"),
])
def test_cli_bad_input_exits_2_and_changes_nothing(baku, monkeypatch, capsys, argv, message):
    conn, _ = baku
    monkeypatch.setenv("DATABASE_URL", conn.dsn)
    before = state(conn)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert state(conn) == before


@pytest.fixture(scope="module")
def api(baku, module_dsn):
    from apexflow_local.esm import LambdaContext
    from apexflow_local.handlers import load
    from apexflow_local.http_api import api_event
    from apexflow_local.stack import local_stack

    with local_stack(dsn=module_dsn):
        handler = load("api").handler

        def call(target):
            response = handler(api_event("GET", target, [("host", "api.test")], b""), LambdaContext("api"))
            kind = response["headers"]["Content-Type"]
            return response["statusCode"], kind, json.loads(response["body"]) if "json" in kind else response["body"]
        yield call


def test_api_predictions_filtered_as_json_and_csv(api, baku):
    status, _, body = api(f"/sessions/{SID}/predictions?lap_from=9&lap_to=10&driver=NOR")
    assert status == 200, body
    page = strategy.PredictionsPage.model_validate(body)
    assert [(p.driver, p.lap) for p in page.predictions] == [("NOR", 9), ("NOR", 10)]
    assert page.predictions[0].rejoin_position == 18
    status, kind, text = api(f"/sessions/{SID}/predictions?lap=10&format=csv")
    assert status == 200 and kind.startswith("text/csv")
    lines = text.strip().splitlines()
    assert lines[0].startswith("driver,lap,position")
    assert {line.split(",")[0] for line in lines[1:]} == {r["Driver"] for r in baku[1] if r["LapNumber"] == 10}


@pytest.mark.parametrize("target, status, parameter", [
    ("/sessions/f1-1999-nowhere-r/predictions", 404, "session_id"),
    (f"/sessions/{SID}/predictions?driver=XXX", 404, "driver"),
    (f"/sessions/{SID}/predictions?lap=40", 422, "lap"),
    (f"/sessions/{SID}/predictions?lap_from=12&lap_to=3", 400, "lap_to"),
])
def test_api_bad_input_is_a_problem(api, target, status, parameter):
    got, kind, body = api(target)
    assert (got, kind, body["errors"][0]["parameter"]) == (status, "application/problem+json", parameter), body


def test_api_predictions_are_in_the_openapi_document(api):
    status, _, doc = api("/openapi.json")
    assert status == 200
    route = doc["paths"]["/sessions/{session_id}/predictions"]["get"]
    assert {p["name"] for p in route["parameters"]} >= {"driver", "lap", "lap_from", "lap_to", "format"}
    assert "text/csv" in route["responses"]["200"]["content"]


def test_pit_loss_prior_comes_from_an_earlier_race_at_the_same_track(baku, tmp_path):
    """A later sprint at Baku (the same laps, registered again a year on) starts from Baku's learnt pit loss."""
    from dataclasses import replace

    from apexflow.pipeline.ingest import register
    from apexflow.sources.fastf1 import FastF1Source
    from apexflow.storage.db import transaction
    from apexflow.strategy import StrategyEngine, by_lap, from_fastf1

    conn, laps = baku
    engine = StrategyEngine(17)
    for rows in by_lap(from_fastf1(laps)).values():
        engine.update(rows)
    learnt = engine.pit.losses["green"]
    assert len(learnt) == 2  # NOR and OCO stopped under green
    src = FastF1Source(2023, "Azerbaijan", "S", http_cache=SHARED_CACHE, telemetry=False, cache_dir=tmp_path)
    later = replace(src.session(), session_id=SID + "-later",
                    start_time=src.session().start_time.replace(year=2024))
    with transaction(conn) as cur:
        register(cur, later, src.facts(), "strategy-test-later")
    with conn.cursor() as cur:
        assert strategy.track_pit_loss(cur, later.session_id) == pytest.approx(sum(learnt) / 2)
        assert strategy.track_pit_loss(cur, SID) is None  # nothing earlier at Baku
        first = strategy.predictions(cur, later.session_id, lap=8)
    # a green lap before any green stop of its own (NOR stopped on lap 10): the green loss is the prior itself
    assert first and all(p["pit_loss"] == pytest.approx(sum(learnt) / 2, abs=1e-3) for p in first)
    with transaction(conn) as cur:
        cur.execute("DELETE FROM sessions WHERE session_id = %s", (later.session_id,))
