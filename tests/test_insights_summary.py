"""Insight facts and the offline provider: the race story first, strategy from the degradation trends, and
every statement of an offline record carrying claims that hold against its facts; the token budget."""
from __future__ import annotations

import psycopg2
import pytest
from conftest import register_race

from apexflow.insights.facts import build, for_scope
from apexflow.insights.grounding import ungrounded
from apexflow.insights.offline import OfflineProvider
from apexflow.insights.pricing import DEFAULT_TOKEN_BUDGET
from apexflow.insights.prompt import estimate_tokens
from apexflow.insights.schema import render, statements
from apexflow.query import insight_runs


def det(kind, entity="", severity="info", lap=None, t=0.0, t_end=None, **evidence):
    return {"detection_id": f"{kind}-{entity}-{t}", "kind": kind, "entity_id": entity, "severity": severity,
            "lap": lap, "t_start": t, "t_end": t if t_end is None else t_end, "channel": None, "evidence": evidence}


CARS = ("NOR", "PIA", "HAM", "ALO", "LAW", "SAI")


def lap(car, n, position, stint=1, compound="MEDIUM", pit_in=None, pit_out=None):
    return {"entity_id": car, "lap_number": n, "lap_start": 5000.0 + 90.0 * n + position,
            "lap_time": 90.0 + position / 10,
            "stint": stint, "compound": compound, "tyre_life": float(n), "pit_in_time": pit_in,
            "pit_out_time": pit_out, "track_status": "1", "position": position, "deleted": False}


def inputs(detections, results=(), laps=()):
    return {"session_id": "s", "identity": {"event": "Test Grand Prix", "session": "Race", "year": 2025},
            "source": "fastf1", "meta": {"missing": {}}, "results": list(results), "laps": list(laps),
            "entities": [{"entity_id": e, "name": e, "team": "T"} for e in CARS], "detections": detections}


RACE = inputs(
    [*(det("tyre_degradation", e, "info", 10, t=100.0 + k, stint=1, slope_s_per_lap=0.05)
       for k, e in enumerate(CARS[:3])),
     det("tyre_degradation", "HAM", "critical", 12, t=150.0, stint=1, fall_off_s=1.1, slope_s_per_lap=0.21,
         cliff_tyre_life=11.0),
     det("pit_stop", "NOR", "info", 14, t=5850.0, lane_seconds=21.3), det("pit_stop", "PIA", "info", 11, t=5000.0),
     det("safety_car", "", "warning", None, t=5848.1, t_end=6428.6, seconds=580.4),
     det("retirement", "ALO", "critical", 13, t=5762.6, cause=None, status="Retired"),
     det("did_not_start", "LEC", "warning", 0, status="Retired"),
     det("contact", "ALO", "critical", 13, t=5762.6, cars=["ALO", "LAW"], first_lap=False),
     det("contact", "LAW", "critical", 13, t=5762.6, cars=["ALO", "LAW"], first_lap=False),
     det("sudden_damage", "SAI", "critical", 12, t=5614.6, seconds_lost=9.1, then="pit_stop"),
     det("fastest_lap", "NOR", "info", 12, t=5500.0, lap_time=96.5),
     det("power_loss", "HAM", "critical", 9, t=4900.0)],
    results=[{"Driver": "PIA", "Position": 2, "GridPosition": 2}, {"Driver": "NOR", "Position": 1, "GridPosition": 3},
             {"Driver": "HAM", "Position": 3, "GridPosition": 7}, {"Driver": "ALO", "Position": None}],
    laps=[lap(car, n, k + 1) for n in range(1, 20) for k, car in enumerate(CARS)])


def write(scope, facts):
    return render(scope, OfflineProvider().write(scope, facts).body)


def test_session_summary_leads_with_the_race_story():
    text = write("session", for_scope(build(RACE), "session"))
    lines = text.splitlines()
    assert lines[0] == "2025 Test Grand Prix Race: NOR wins from P3."
    assert lines[1:7] == [
        "NOR led lap 1.",
        "Did not start: LEC.",
        "The safety car came out on lap 9 (after contact between ALO and LAW); racing resumed on lap 16.",
        "ALO retired on lap 13.",
        "Winner: NOR by 1.100 s from PIA and HAM. Fastest lap: NOR, lap 12, 1:36.500.",
        ("Incidents: contact ALO-LAW (lap 13); sudden damage SAI (lap 12, 9.1 s lost, then pit_stop); "
        "power loss HAM (lap 9).")]
    assert lines[7] == "Pitted under a safety car or VSC: NOR."
    assert text.index("Winner: NOR") < text.index("Strategy:")
    assert "Cars at risk:" not in text  # the session is over
    assert "  HAM stint 1 on MEDIUM: 0.21 s/lap, cliff at lap 11, still on that set at the end." in lines


def test_routine_wear_is_never_at_risk_and_critical_detections_are_the_explained_ones():
    facts = build({**RACE, "source": "f1live"})  # a live feed still running: nothing says the session is over
    assert facts["session"]["running"]
    assert [(r["driver"], [f["kind"] for f in r["flags"]]) for r in facts["strategy"]["at_risk"]] == [
        ("HAM", ["tyre_degradation", "power_loss"]), ("LAW", ["contact"]), ("SAI", ["sudden_damage"])]
    assert {d["kind"] for d in facts["critical"]} == {"tyre_degradation", "retirement", "contact", "sudden_damage",
                                                      "power_loss"}
    over = build({**RACE, "source": "f1live", "race_control": [{"Message": "CHEQUERED FLAG", "Flag": "CHEQUERED",
                                                               "Time": 9000.0}]})
    assert over["strategy"]["at_risk"] == [] and not over["session"]["running"]  # nobody is at risk after the flag


def test_at_risk_is_about_the_current_stint_only():
    laps = [lap("HAM", n, 3, stint=1 if n < 10 else 2) for n in range(1, 15)]
    wear = det("tyre_degradation", "HAM", "warning", 8, t=10.0, stint=1, slope_s_per_lap=0.2)
    live = {**inputs([wear], laps=laps), "source": "f1live"}
    assert build(live)["strategy"]["at_risk"] == []  # that set came off on lap 10
    later = det("tyre_degradation", "HAM", "warning", 13, t=20.0, stint=2, slope_s_per_lap=0.2)
    assert [r["driver"] for r in build({**live, "detections": [wear, later]})["strategy"]["at_risk"]] == ["HAM"]


def test_driver_summary_has_pace_stints_stops_and_flags():
    text = write("driver", for_scope(build(RACE), "driver", "NOR"))
    assert text.splitlines()[0] == "NOR (T): P1 from P3."
    # the synthetic laps never change stint: a stop that changed no tyres (a drive-through), made from the lead
    assert "- Pit stops: lap 14 (21.3 s in the pit lane) from the lead (no tyres changed) under the safety car." in text
    assert "- Positions: 2 gained from the grid, 0 overtakes on track." in text


def test_a_session_without_results_or_race_events_still_summarises():
    text = write("session", for_scope(build(inputs([det("pit_stop", "NOR", t=1.0)])), "session"))
    assert text.splitlines()[:2] == ["2025 Test Grand Prix Race (fastf1): 6 drivers, 0 laps.",
                                     "Detections: 1 pit_stop."]


def test_detection_evidence_carries_its_units_and_a_channel_value_the_channel_unit():
    frozen = {**det("frozen_sensor", "NOR", "critical", 4, t=300.0, value=212.0, seconds=3.5, samples=14),
              "channel": "Speed"}
    facts = build({**inputs([frozen, det("sudden_damage", "SAI", "critical", 12, t=5614.6, seconds_lost=9.1,
                                         then="pit_stop", min_speed=88.0, field_delta_pct=12.5)]),
                   "channels": [{"name": "Speed", "unit": "km/h"}, {"name": "RPM", "unit": "rpm"}]})
    by_kind = {d["kind"]: d for d in facts["critical"]}
    assert by_kind["frozen_sensor"]["units"] == {"value": "km/h", "seconds": "s"}  # a count of samples has none
    assert by_kind["sudden_damage"]["units"] == {"seconds_lost": "s", "min_speed": "km/h", "field_delta_pct": "%"}
    wear = build(inputs([det("tyre_degradation", "HAM", "critical", 12, t=150.0, stint=1, start_pace=92.1,
                             laps_to_cliff=3, slope_s_per_lap=0.21)]))["critical"][0]
    assert wear["units"] == {"start_pace": "s", "laps_to_cliff": "laps", "slope_s_per_lap": "s/lap"}  # a stint: none
    text = write("detection", for_scope(facts, "detection", frozen["detection_id"]))
    assert text.splitlines()[1:5] == ["Evidence:", "  value: 212.0 km/h", "  seconds: 3.5 s", "  samples: 14"]


def grounded(scope, facts) -> list[str]:
    """The grounding check of the offline record of ``scope``: the same check a model's answer passes."""
    body = OfflineProvider().write(scope, facts).body
    assert all(st.claims for st in statements(body) if any(ch.isdigit() for ch in st.text))
    return ungrounded(statements(body), facts)


def test_every_offline_statement_of_a_race_carries_claims_that_hold():
    facts = build(RACE)
    session = OfflineProvider().write("session", for_scope(facts, "session")).body
    winner = next(s for s in session.race_story if s.text.startswith("Winner:"))
    assert {(c.subject, c.kind, c.fact) for c in winner.claims} >= {("NOR", "winner", "story.podium[0]"),
                                                                   ("NOR", "finish", "story.finish"),
                                                                   ("PIA", "podium", "story.podium[1]")}
    assert {(c.subject, c.kind, c.fact, c.value) for c in session.headline.claims} >= {
        (None, "session", "session", 2025), ("NOR", "winner", "story.podium[0]", 3)}  # the year, the win from P3
    for scope, key in every_prompt(facts):
        assert grounded(scope, for_scope(facts, scope, key)) == [], (scope, key)


@pytest.fixture(scope="module")
def full_race(pg_server):
    """A 57-lap synthetic race of 20 cars, registered: its facts."""
    from conftest import fresh_database

    with fresh_database(pg_server) as dsn:
        session_id = register_race(dsn, seed=3, laps=57)
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            yield build(insight_runs.insight_inputs(cur, session_id))


def every_prompt(facts):
    yield "session", None
    yield from (("driver", d) for d in facts["drivers"])
    yield from (("detection", d["detection_id"]) for d in facts["critical"])


def test_offline_records_of_a_full_race_are_grounded_and_its_prompts_fit_the_budget(full_race):
    assert len(full_race["drivers"]) == 20 and full_race["session"]["laps"] == 57
    for scope, key in every_prompt(full_race):
        assert grounded(scope, for_scope(full_race, scope, key)) == [], (scope, key)
    assert sum(estimate_tokens(scope, for_scope(full_race, scope, key)) for scope, key in every_prompt(full_race)) \
        < DEFAULT_TOKEN_BUDGET / 2


def test_real_sprint_facts_tell_its_story_grounded(shared_cache, tmp_path, dsn):
    from apexflow.pipeline.ingest import register
    from apexflow.sources.fastf1.source import FastF1Source
    from apexflow.storage.db import transaction

    source = FastF1Source(2023, "Azerbaijan", "S", cache_dir=tmp_path, http_cache=shared_cache, telemetry=False)
    with psycopg2.connect(dsn) as conn:
        with transaction(conn) as cur:
            register(cur, source.session(), source.facts(), "sprint")
        with conn.cursor() as cur:
            facts = build(insight_runs.insight_inputs(cur, source.session().session_id))
    text = write("session", for_scope(facts, "session"))
    assert text.splitlines()[:10] == [
        "2023 Azerbaijan Grand Prix Sprint: PER wins from P2.",
        "Start: from the pit lane: OCO. LEC led lap 1 from pole.",
        "Did not start: SAR.",
        "The virtual safety car came out on lap 2 (after TSU lost time with damage); racing resumed on lap 4.",
        "TSU retired on lap 2 (collision damage).",
        "The safety car came out on lap 3; racing resumed on lap 6.",
        "PER passed LEC for the lead on lap 8.",
        "Winner: PER by 4.463 s from LEC and VER. Fastest lap: PER, lap 11, 1:43.616.",
        "LEC, on pole, finished P2.",
        "Incidents: sudden damage TSU (lap 1, 22.124 s lost, then pit_stop)."]
    assert "tyre_degradation (critical" not in text  # nothing critical about tyres at the flag
    assert "  HAM stint 1 on MEDIUM: 0.137 s/lap, cliff at lap 17, still on that set at the end." in text
    for scope, key in every_prompt(facts):
        assert grounded(scope, for_scope(facts, scope, key)) == [], (scope, key)
