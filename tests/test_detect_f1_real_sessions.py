"""Lap-level and race detectors on the 14 shared real sessions: against what FastF1 itself says (results
status, pit laps, positions, lap times), and pinned, so that any change of behaviour fails here."""
from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter

import pytest

from apexflow.detect.f1.laps import detect_facts

# (year, event, session) -> (detections per kind/severity, digest of their sorted ids)
PINNED = {
    (2019, "Italy", "Q"): ({"fastest_lap/info": 1, "personal_best/info": 18, "pit_stop/info": 92,
                            "red_flag/critical": 2, "yellow_flag/info": 4}, "99408877f232a412"),
    (2020, "Hungary", "FP2"): ({"fastest_lap/info": 1, "personal_best/info": 12, "pit_stop/info": 45,
                                "tyre_degradation/info": 1}, "e1bf432e4713bdf2"),
    (2020, "70th Anniversary", "FP2"): ({"fastest_lap/info": 1, "personal_best/info": 19, "pit_stop/info": 89,
                                         "red_flag/critical": 1, "tyre_degradation/info": 16,
                                         "tyre_degradation/warning": 7, "virtual_safety_car/warning": 1,
                                         "yellow_flag/info": 2}, "96e3db2125d9c6e5"),
    (2021, "Italy", "FP2"): ({"fastest_lap/info": 1, "lap_time_outlier/warning": 7, "personal_best/info": 19,
                              "pit_stop/info": 90, "red_flag/critical": 1, "tyre_degradation/info": 36,
                              "tyre_degradation/warning": 3, "yellow_flag/info": 1}, "41ff1f3e903db51a"),
    (2021, "Mexico", "Q"): ({"fastest_lap/info": 1, "personal_best/info": 19, "pit_stop/info": 97,
                             "red_flag/critical": 1, "yellow_flag/info": 3}, "a4e3e341fe33d05e"),
    (2022, "Saudi Arabia", "Q"): ({"fastest_lap/info": 1, "personal_best/info": 18, "pit_stop/info": 91,
                                   "red_flag/critical": 2, "yellow_flag/info": 2}, "f27a14ced2e22d20"),
    (2022, "British", "FP1"): ({"fastest_lap/info": 1, "personal_best/info": 9, "pit_stop/info": 41,
                                "red_flag/critical": 1, "yellow_flag/info": 1}, "b72862aa0c31462a"),
    (2023, "Azerbaijan", "Q"): ({"fastest_lap/info": 1, "personal_best/info": 19, "pit_stop/info": 101,
                                 "red_flag/critical": 2, "yellow_flag/info": 9}, "064879d73f44e197"),
    (2023, "Azerbaijan", "S"): ({"did_not_start/warning": 1, "fastest_lap/info": 1, "lap_time_outlier/warning": 2,
                                 "overtake/info": 10, "personal_best/info": 17, "pit_stop/info": 5,
                                 "position_change/info": 12, "retirement/critical": 1, "safety_car/warning": 1,
                                 "sudden_damage/critical": 1,  # LEC's and VER's wear at the flag: no alert
                                 "tyre_degradation/info": 15, "tyre_degradation/warning": 3,
                                 "virtual_safety_car/warning": 1, "yellow_flag/info": 5}, "ddc5f006d9e460a2"),
    (2023, "Azerbaijan", "SS"): ({"fastest_lap/info": 1, "personal_best/info": 19, "pit_stop/info": 41,
                                  "red_flag/critical": 1, "yellow_flag/info": 8}, "a8262911ace5ea80"),
    (2024, "Spain", "Q"): ({"fastest_lap/info": 1, "personal_best/info": 19, "pit_stop/info": 87,
                            "yellow_flag/info": 1}, "f8052af5128fe634"),
    (2024, "British", "FP1"): ({"fastest_lap/info": 1, "lap_time_outlier/info": 3, "personal_best/info": 19,
                                "pit_stop/info": 87, "red_flag/critical": 1, "tyre_degradation/info": 9,
                                "tyre_degradation/warning": 5, "yellow_flag/info": 3}, "e659df3c8f00d34e"),
    (2024, "China", "SQ"): ({"fastest_lap/info": 1, "personal_best/info": 19, "pit_stop/info": 51,
                             "yellow_flag/info": 2}, "908465de9f90fca6"),
    (2025, "Miami", "S"): ({"contact/critical": 2, "did_not_start/warning": 1, "fastest_lap/info": 1,
                            "overtake/info": 24, "personal_best/info": 18, "pit_stop/info": 21,
                            "red_flag/critical": 1, "retirement/critical": 2, "safety_car/warning": 1,
                            "sudden_damage/critical": 1, "tyre_degradation/critical": 1, "tyre_degradation/info": 5,
                            "tyre_degradation/warning": 13, "yellow_flag/info": 12}, "250a313a7f3ab42b"),
}
# what happened in the two sprints, by FastF1's results: driver -> (status, laps completed)
RETIRED = {(2023, "Azerbaijan", "S"): {"TSU": ("Collision damage", 2)},
           (2025, "Miami", "S"): {"ALO": ("Retired", 13), "SAI": ("Retired", 12)}}
DID_NOT_START = {(2023, "Azerbaijan", "S"): {"SAR"}, (2025, "Miami", "S"): {"LEC"}}
_RUNNING = re.compile(r"^(Finished|Lapped|\+\d+ Laps?)$")
_loaded: dict = {}


@pytest.fixture(scope="module")
def parsed_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("fastf1-parsed")


@pytest.fixture
def session(request, shared_cache, parsed_cache):
    """(facts, detections) of one shared session, loaded and detected once per test run."""
    key = request.param
    if key not in _loaded:
        from apexflow.sources.fastf1 import FastF1Source

        logging.getLogger("fastf1").setLevel(logging.ERROR)
        src = FastF1Source(*key, cache_dir=parsed_cache, http_cache=shared_cache, telemetry=False)
        facts, s = src.facts(), src.session()
        _loaded[key] = (facts, detect_facts(s.session_id, facts, s.identity["session"]))
    return _loaded[key]


def ids(keys):
    return [f"{y}-{e}-{s}" for y, e, s in keys]


@pytest.mark.parametrize("session", list(PINNED), ids=ids(PINNED), indirect=True)
def test_detections_are_pinned(session, request):
    _, found = session
    counts, digest = PINNED[request.node.callspec.params["session"]]
    assert dict(sorted(Counter(f"{d.kind}/{d.severity}" for d in found).items())) == counts
    assert hashlib.sha256("".join(sorted(d.detection_id for d in found)).encode()).hexdigest()[:16] == digest


SPRINTS = list(RETIRED)


@pytest.mark.parametrize("session", SPRINTS, ids=ids(SPRINTS), indirect=True)
def test_retirements_are_fastf1s_non_finishers_with_their_cause(session, request):
    facts, found = session
    key = request.node.callspec.params["session"]
    by_results = {r["Driver"]: (r["Status"], r["Laps"]) for r in facts.results if not _RUNNING.match(r["Status"])}
    lapped = {r["Driver"] for r in facts.laps}
    assert {d: v for d, v in by_results.items() if d in lapped} == RETIRED[key]
    got = {d.entity_id: (d.evidence["status"], d.lap) for d in found if d.kind == "retirement"}
    assert got == RETIRED[key]  # each retired in the pit lane, on its last (in-)lap
    assert {d.entity_id for d in found if d.kind == "did_not_start"} == DID_NOT_START[key] == set(by_results) - lapped
    causes = {d.entity_id: d.evidence["cause"] for d in found if d.kind == "retirement"}
    assert causes == {d: (s if s != "Retired" else None) for d, (s, _) in RETIRED[key].items()}


@pytest.mark.parametrize("session", SPRINTS, ids=ids(SPRINTS), indirect=True)
def test_sudden_damage_ends_in_a_pit_stop_found_on_the_same_lap(session):
    facts, found = session
    pits = {(d.entity_id, d.lap) for d in found if d.kind == "pit_stop"}
    damage = [d for d in found if d.kind == "sudden_damage"]
    assert damage and all((d.entity_id, d.evidence["pit_lap"]) in pits for d in damage)
    retired = {d.entity_id for d in found if d.kind == "retirement"}
    assert {d.entity_id for d in damage} <= retired  # both damaged cars went on to retire


@pytest.mark.parametrize("session", [(2025, "Miami", "S")], ids=["2025-Miami-S"], indirect=True)
def test_the_collision_race_control_named_is_tied_to_the_retirement_it_caused(session):
    _, found = session
    contact = {d.entity_id: d.evidence for d in found if d.kind == "contact"}
    assert set(contact) == {"ALO", "LAW"} and contact["ALO"]["retired"]
    assert "CAUSING A COLLISION" in contact["LAW"]["race_control"][0]


@pytest.mark.parametrize("session", SPRINTS, ids=ids(SPRINTS), indirect=True)
def test_overtakes_agree_with_fastf1s_positions_and_never_happen_in_the_pits(session):
    facts, found = session
    lap = {(r["Driver"], r["LapNumber"]): r for r in facts.laps}
    overtakes = [d for d in found if d.kind == "overtake"]
    assert overtakes
    for d in overtakes:
        a, b, n = d.entity_id, d.evidence["passed"], d.lap
        for car in (a, b):
            assert lap[(car, n)]["PitInTime"] is None and lap[(car, n)]["PitOutTime"] is None
        assert lap[(a, n)]["Position"] < lap[(b, n)]["Position"]
        assert lap[(a, n - 1)]["Position"] > lap[(b, n - 1)]["Position"]


@pytest.mark.parametrize("session", list(PINNED), ids=ids(PINNED), indirect=True)
def test_fastest_lap_and_personal_bests_are_the_quickest_valid_laps(session):
    facts, found = session
    valid = [r for r in facts.laps if r["LapTime"] is not None and not r["Deleted"] and r["PitInTime"] is None
             and r["PitOutTime"] is None]
    fastest = [d for d in found if d.kind == "fastest_lap"]
    assert len(fastest) == 1 and fastest[0].evidence["lap_time"] == round(min(r["LapTime"] for r in valid), 3)
    for d in (d for d in found if d.kind == "personal_best"):
        own = min(r["LapTime"] for r in valid if r["Driver"] == d.entity_id)
        assert d.evidence["lap_time"] == round(own, 3) and d.evidence["gap_to_fastest_s"] >= 0
