"""The offline session summary leads with the race story, not with routine trends."""
from __future__ import annotations

from apexflow.insights.summary import OfflineProvider, facts_for, summarize


def det(kind, entity="", severity="info", lap=None, t=0.0, t_end=None, **evidence):
    return {"detection_id": f"{kind}-{entity}-{t}", "kind": kind, "entity_id": entity, "severity": severity,
            "lap": lap, "t_start": t, "t_end": t if t_end is None else t_end, "channel": None, "evidence": evidence}


def overview(detections, results=()):
    return {"session_id": "s", "identity": {"event": "Test Grand Prix", "session": "Race"}, "source": "fastf1",
            "start_time": "2025-01-01T00:00:00+00:00", "samples": 0, "missing": {}, "results": list(results),
            "entities": [{"entity_id": e, "team": "T", "laps": 18, "best_lap_time": 90.0, "pit_stops": 1,
                          "compounds": ["SOFT"]} for e in ("NOR", "PIA", "HAM", "ALO", "LAW", "SAI")],
            "detections": detections}


RACE = overview(
    [*(det("tyre_degradation", e, "info", 10, t=100.0 + k) for k, e in enumerate(("NOR", "PIA", "HAM"))),
     det("tyre_degradation", "HAM", "critical", 12, t=150.0, fall_off_s=1.1),
     det("pit_stop", "NOR", "info", 14, t=5850.0), det("pit_stop", "PIA", "info", 11, t=5000.0),
     det("safety_car", "", "warning", None, t=5848.1, t_end=6428.6, seconds=580.4),
     det("retirement", "ALO", "critical", 13, t=5762.6, cause=None, status="Retired"),
     det("did_not_start", "LEC", "warning", 0, status="Retired"),
     det("contact", "ALO", "critical", 13, t=5762.6, cars=["ALO", "LAW"], first_lap=False),
     det("contact", "LAW", "critical", 13, t=5762.6, cars=["ALO", "LAW"], first_lap=False),
     det("sudden_damage", "SAI", "critical", 12, t=5614.6, seconds_lost=9.1, then="pit_stop"),
     det("fastest_lap", "NOR", "info", 12, t=5500.0, lap_time=96.5),
     det("power_loss", "HAM", "critical", 9, t=4900.0)],
    results=[{"Driver": "PIA", "Position": 2, "GridPosition": 2}, {"Driver": "NOR", "Position": 1, "GridPosition": 3},
             {"Driver": "HAM", "Position": 3, "GridPosition": 7}, {"Driver": "ALO", "Position": None}])


def test_session_summary_leads_with_the_race_story():
    text = OfflineProvider().write("session", facts_for(RACE))
    lines = text.splitlines()
    assert lines[1] == "Winner: NOR from P3, ahead of PIA and HAM."
    assert lines[2] == "Neutralised: safety car at 97:28.100 for 9:40.400."
    assert lines[3] == "Retirements: ALO (lap 13), LEC (did not start, Retired)."
    assert lines[4] == ("Incidents: contact ALO-LAW (lap 13); sudden damage SAI (lap 12, 9.1 s lost, then pit_stop); "
                        "power loss HAM (lap 9).")
    assert lines[5] == "Pitted under a safety car or VSC: NOR."
    assert lines[6] == "Fastest lap: NOR, lap 12, 1:36.500."
    assert text.index("Winner") < text.index("Detections:") < text.index("Critical tyre_degradation for HAM")


def test_routine_wear_is_never_called_critical_and_the_story_is_not_repeated():
    facts = facts_for(RACE)
    assert [(d["kind"], d["entity_id"]) for d in facts["critical"]] == [("tyre_degradation", "HAM")]
    assert facts["most_affected"][0] == ("HAM", 2) and "NOR" not in dict(facts["most_affected"])  # info only


def test_entity_summary_puts_the_most_severe_first():
    text = summarize(RACE, "HAM", OfflineProvider())["content"]
    assert text.endswith("3 detection(s): tyre_degradation (critical) lap 12; power_loss (critical) lap 9; "
                         "tyre_degradation (info) lap 10.")


def test_a_session_without_results_or_race_events_still_summarises():
    text = OfflineProvider().write("session", facts_for(overview([det("pit_stop", "NOR", t=1.0)])))
    assert text.splitlines()[1] == "Detections: 1 pit_stop." and "Winner" not in text
