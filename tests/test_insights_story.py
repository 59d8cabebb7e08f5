"""The story a session summary tells, against truth built from FastF1's own data (``benchmarks/story_truth.py``:
results, race-control messages, laps) for each of the 14 shared real sessions: every leader change, penalty,
neutralisation and its cause, retirement, pole and elimination is stated, and nothing contradicts the data (the
winner, pole, who retired, who led when; no "wins" outside a race; drivers by code; nobody "at risk" after the flag)."""
from __future__ import annotations

import logging
import re

import psycopg2
import pytest

from apexflow.insights import phases
from apexflow.insights.facts import build, for_scope
from apexflow.insights.offline import OfflineProvider
from apexflow.insights.race_control import causes, parse
from apexflow.insights.story import tell
from benchmarks.story_truth import FINISHED, SESSIONS, stated, truth

_loaded: dict = {}


def msg(t, text, lap=None, category="Other"):
    return {"Time": t, "Message": text, "Lap": lap, "Category": category}


def test_race_control_tells_penalties_investigations_deleted_laps_and_the_start():
    rc = parse([
        msg(10, "FORMATION LAP WILL BE STARTED BEHIND THE SAFETY CAR", 1),
        msg(20, "CAR 5 (BOR) WILL START FROM THE PIT LANE", 1),
        msg(30, "START OF F2 RACE IS DELAYED BY 15 MINUTES"),  # another series: not this session's start
        msg(100, "PIT LANE INCIDENT INVOLVING CARS 1 (VER) AND 12 (ANT) NOTED - UNSAFE RELEASE", 14),
        msg(150, "FIA STEWARDS: PIT LANE INCIDENT INVOLVING CARS 1 (VER) AND 12 (ANT) UNDER INVESTIGATION - "
                 "UNSAFE RELEASE", 15),
        msg(200, "FIA STEWARDS: 10 SECOND TIME PENALTY FOR CAR 1 (VER) - UNSAFE RELEASE", 15),
        msg(210, "FIA STEWARDS: DRIVE THROUGH PENALTY FOR CAR 44 - SPEEDING IN THE PIT LANE", 15),
        msg(300, "CAR 44 (HAM) HAS SERVED A DRIVE THROUGH PENALTY SERVED", 17),
        msg(320, "FIA STEWARDS: 5 PLACE GRID PENALTY FOR CAR 16 (LEC) - CAUSING A COLLISION", 18),
        msg(400, "CAR 7 (DOO) TIME 2:13.457 DELETED - TRACK LIMITS AT TURN 11 LAP 3 12:35:26", 8),
        msg(410, "CAR 4 (NOR) TIME 1:57.940 DELETED - TRACK LIMITS AT TURN 16 (NEXT LAP)", 9),
        msg(420, "CAR 4 (NOR) TIME 1:57.940 WILL BE REINSTATED", 9),
        msg(500, "TURN 12 INCIDENT INVOLVING CARS 30 (LAW) AND 14 (ALO) NOTED - CAUSING A COLLISION", 16),
        msg(560, "FIA STEWARDS: TURN 12 INCIDENT INVOLVING CARS 30 (LAW) AND 14 (ALO) REVIEWED NO FURTHER "
                 "INVESTIGATION - CAUSING A COLLISION", 16),
        msg(600, "CAR 11 (PER) STOPPED AT TURN 3", 17, "CarEvent"),
    ], [{"DriverNumber": "44", "Driver": "HAM"}])
    assert [(p["driver"], p["penalty"], p["seconds"], p["places"], p["reason"], p["status"]) for p in
            rc["penalties"]] == [("VER", "time", 10, None, "UNSAFE RELEASE", "added to race time"),
                                 ("HAM", "drive_through", None, None, "SPEEDING IN THE PIT LANE", "served"),
                                 ("LEC", "grid", None, 5, "CAUSING A COLLISION", "at the next race")]
    assert [(i["drivers"], i["where"], i["outcome"]) for i in rc["investigations"]] == [
        (["VER", "ANT"], "PIT LANE", "penalty"), (["LAW", "ALO"], "TURN 12", "no further investigation")]
    assert [(d["driver"], d["lap"], d["lap_time_s"], d["turn"]) for d in rc["deleted_laps"]] == [
        ("DOO", 3, 133.457, 11)]  # NOR's was reinstated
    assert [s.get("what") or s["drivers"] for s in rc["start"]] == ["the formation lap behind the safety car",
                                                                     ["BOR"]]
    assert [(c["drivers"], c["what"]) for c in causes(rc, 520.0)] == [(["LAW", "ALO"], "incident"),
                                                                      (["PER"], "stopped")]
    assert causes(rc, 100.0) == []  # a pit-lane matter never caused a safety car


def car_laps(car, positions, pits=(), start=0.0):
    out = []
    for n, pos in enumerate(positions, 1):
        t = start + 90.0 * n + pos
        out.append({"entity_id": car, "lap_number": n, "lap_start": t - 90.0, "lap_time": 90.0, "lap_end": t,
                    "position": pos, "pit_in_time": t - 5 if n in pits else None,
                    "pit_out_time": t - 70 if n - 1 in pits else None, "track_status": "1", "stint": 1,
                    "compound": "MEDIUM", "tyre_life": n})
    return out


def test_lead_changes_say_how_each_happened():
    by_car = {"AAA": car_laps("AAA", [1, 1, 2, 2, 1, 1, 2], pits=(3,)),
              "BBB": car_laps("BBB", [2, 2, 1, 1, 2, 2, 1], pits=(4,)),  # back in front on lap 7, on track
              "CCC": car_laps("CCC", [3, 3, 3, 3, 3, 3, 3])}
    results = {"AAA": {"driver": "AAA", "grid": 2, "position": 2}, "BBB": {"driver": "BBB", "grid": 1, "position": 1},
               "CCC": {"driver": "CCC", "grid": 3, "position": 3}}
    changes = phases.lead_changes(by_car, results, [], {"penalties": []})
    assert [(c["lap"], c["driver"], c["from_driver"], c["how"]) for c in changes] == [
        (1, "AAA", "BBB", "start"), (3, "BBB", "AAA", "pit_stop"), (5, "AAA", "BBB", "pit_stop"),
        (7, "BBB", "AAA", "on_track")]
    results["CCC"]["position"], results["BBB"]["position"] = 1, 3  # the road leader penalised after the flag
    last = phases.lead_changes(by_car, results, [], {"penalties": [{"driver": "BBB"}]})[-1]
    assert (last["driver"], last["from_driver"], last["how"]) == ("CCC", "BBB", "penalty")
    behind = {c: [{**lap, "track_status": "4" if lap["lap_number"] < 3 else "1"} for lap in laps]
              for c, laps in by_car.items()}
    assert phases.start(behind, results, {})["lap"] == 3  # started behind the safety car: racing from lap 3
    late = {c: [{**lap, "track_status": "124" if lap["lap_number"] == 1 else "1"} for lap in laps]
            for c, laps in by_car.items()}
    assert phases.start(late, results, {})["lap"] == 1  # a safety car for an incident on lap 1: the start was lap 1
    gaps = phases.gaps(by_car)
    assert gaps["CCC"][0] == {"lap": 1, "gap_s": 2.0, "interval_s": 1.0}


def story_of(key, shared_cache, tmp_path_factory, pg_server):
    """(FastF1 session, facts, summary sentences, rendered session record) of one shared session, once per run."""
    if key not in _loaded:
        from conftest import fresh_database

        from apexflow.pipeline.ingest import register
        from apexflow.query import insight_runs
        from apexflow.sources.fastf1 import FastF1Source
        from apexflow.storage.db import transaction

        logging.getLogger("fastf1").setLevel(logging.ERROR)
        src = FastF1Source(*key, cache_dir=tmp_path_factory.mktemp("ff1"), http_cache=shared_cache, telemetry=False)
        with fresh_database(pg_server) as dsn, psycopg2.connect(dsn) as conn:
            with transaction(conn) as cur:
                register(cur, src.session(), src.facts(), "story")
            with conn.cursor() as cur:
                facts = build(insight_runs.insight_inputs(cur, src.session().session_id))
        body = OfflineProvider().write("session", for_scope(facts, "session")).body
        _loaded[key] = (src.load(), facts, tell(facts), body)
    return _loaded[key]


def ids(keys):
    return [f"{y}-{e}-{s}" for y, e, s in keys]


@pytest.mark.parametrize("key", SESSIONS, ids=ids(SESSIONS))
def test_the_summary_states_every_story_item_of_the_session(key, shared_cache, tmp_path_factory, pg_server):
    ff1, _facts, _sentences, body = story_of(key, shared_cache, tmp_path_factory, pg_server)
    lines = [str(s) for s in (body.headline, *body.race_story)]
    items = truth(ff1)
    assert items
    missing = [item for item in items if not stated(item, lines)]
    assert not missing, (missing, lines)


@pytest.mark.parametrize("key", SESSIONS, ids=ids(SESSIONS))
def test_the_summary_states_nothing_the_data_contradicts(key, shared_cache, tmp_path_factory, pg_server):
    ff1, facts, sentences, body = story_of(key, shared_cache, tmp_path_factory, pg_server)
    res = ff1.results
    text = "\n".join(str(s) for s in (body.headline, *body.race_story, *body.strategy))
    codes = {r["Abbreviation"] or r["DriverNumber"] for _, r in res.iterrows()}  # no codes at all: car numbers
    if not any(res["Abbreviation"]):
        assert re.search(r"\bcar \d+ (fastest|topped)", text) and not re.search(r"(^|: )\d+ (fastest|topped)\b", text)
        assert not re.search(r"^\s*\d+ stint", text, re.MULTILINE)
    race = ff1.name in ("Race", "Sprint")
    if not race:
        assert not re.search(r"\bwins?\b|\bwon\b|Winner", text)  # qualifying and practice have no winner
    else:
        winner = res[res["Position"] == 1]["Abbreviation"].iloc[0]
        named = {a or b for a, b in re.findall(r"(\w{3}) (?:wins|won)\b|Winner: (\w{3})", text)}
        assert named == {winner}
        assert f"Winner: {winner}" in text
        retired = {r["Abbreviation"] for _, r in res.iterrows() if not FINISHED.match(str(r["Status"]))}
        assert set(re.findall(r"(\w{3}) retired\b", text)) <= retired
        leaders = {(r["Driver"], int(r["LapNumber"])) for _, r in ff1.laps[ff1.laps["Position"] == 1].iterrows()}
        for code, lap in re.findall(r"(\w{3}) (?:took|inherited) the lead(?: from \w{3})? on lap (\d+)", text):
            assert (code, int(lap)) in leaders
        assert "ran to the flag" not in text
        for code, place in re.findall(r"(\w{3}), on pole, finished P(\d+)", text):  # the pole-sitter's fall
            row = res[res["Abbreviation"] == code].iloc[0]
            assert row["GridPosition"] == 1 and row["Position"] == int(place)
        for code in retired:  # a car that retired did not keep its tyres "to the end"
            assert not re.search(rf"^\s*{code} stint .*still on that set at the end", text, re.MULTILINE)
    assert "None" not in text and not re.search(r"Fastest lap: \d", text)
    if ff1.name in ("Qualifying", "Sprint Shootout", "Sprint Qualifying"):
        pole = res[res["Position"] == 1]["Abbreviation"].iloc[0]
        assert set(re.findall(r"(\w{3}) took pole", text)) == {pole}
    assert body.cars_at_risk == [] and facts["strategy"]["at_risk"] == []  # the session is over
    for s in sentences:  # every sentence claims what it says, about a driver of the session, from a real fact
        assert s["claims"], s["text"]
        for c in s["claims"]:
            assert c["subject"] is None or c["subject"] in codes
            fact = resolve(facts, c["fact"])
            who = {fact.get("driver"), fact.get("winner"), fact.get("pole"), *(fact.get("drivers") or [])} \
                if isinstance(fact, dict) else set()
            assert c["subject"] is None or c["subject"] in who or c["kind"] == "cause", (c, fact)
            laps = {v for k, v in fact.items() if k == "lap" or k.endswith("_lap")} if isinstance(fact, dict) else set()
            assert c["lap"] is None or not laps or c["lap"] in laps, (c, fact)  # the fact's lap, or its restart's


def resolve(facts: dict, path: str):
    node = facts
    for part in re.findall(r"[^.\[\]]+", path):
        node = node[int(part)] if part.isdigit() else node[part]
    return node

