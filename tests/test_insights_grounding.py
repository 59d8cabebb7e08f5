"""The grounding check, claim by claim: the false statements of a summary an engineer would catch, each
rejected (a wrong winner or role, a wrong sign, a penalty nobody received, a lap that is not the fact's), and
the true ones accepted; a statement without claims may state no number, driver or compound."""
from __future__ import annotations

import pytest

from apexflow.insights.grounding import check, resolve
from apexflow.insights.schema import say

# A sprint as its facts hold it: NOR won from P3, PIA had pole, VER was P4; ALO retired on lap 10 after
# contact with LAW; VER's 10 s penalty exists only where a test adds it.
SPRINT = {
    "session": {"event": "Miami Grand Prix", "session": "Sprint", "year": 2025},
    "results": [{"driver": "NOR", "position": 1, "grid": 3}, {"driver": "PIA", "position": 2, "grid": 1},
                {"driver": "HAM", "position": 3, "grid": 7}, {"driver": "VER", "position": 4, "grid": 2}],
    "story": {"podium": [{"driver": "NOR", "grid": 3}, {"driver": "PIA", "grid": 1}, {"driver": "HAM", "grid": 7}],
              "retirements": [{"driver": "ALO", "lap": 10, "cause": "Collision", "status": "Retired"}],
              "contacts": [{"lap": 10, "cars": ["ALO", "LAW"], "first_lap": False}],
              "fastest_lap": [{"driver": "NOR", "lap": 12, "lap_time_s": 96.5}]},
    "neutralisations": [{"kind": "safety_car", "from_lap": 10, "to_lap": 13, "seconds": 580.4}],
    "race_control": {"penalties": []},
    "drivers": {"NOR": {"driver": "NOR", "gap_to_field_s": -2.07, "pit_stops": [{"lap": 11, "pit_lane_s": 21.3}],
                        "stints": [{"compound": "INTERMEDIATE", "from_lap": 1, "to_lap": 11},
                                   {"compound": "SOFT", "from_lap": 12, "to_lap": 18}]}},
}
PENALISED = {**SPRINT, "race_control": {"penalties": [
    {"driver": "VER", "kind": "penalty", "penalty": "time", "seconds": 10, "lap": 6, "reason": "unsafe release",
     "status": "applied"}]}}


def problems(text, *claims, facts=SPRINT):
    return check(say(text, *claims), facts)


@pytest.mark.parametrize("claims", [
    [],  # no claims: a driver code and a number with nothing behind them
    [{"subject": "VER", "kind": "winner", "fact": "story.podium[0]"}],  # the winner is NOR
    [{"subject": "VER", "kind": "winner", "fact": "results[3]"}],  # VER's own row: P4, not a win
    [{"subject": "VER", "kind": "pole", "fact": "results[3]"}, {"subject": "NOR", "kind": "winner",
                                                                "fact": "results[0]"}],  # PIA had pole
    [{"subject": "NOR", "kind": "retirement", "lap": 3, "fact": "story.retirements[0]"}],  # ALO retired, lap 10
    [{"subject": "NOR", "kind": "winner", "fact": "story.podium[0]"},
     {"subject": "NOR", "kind": "fastest_lap", "lap": 12, "fact": "story.fastest_lap[0]"}],  # true, but not this
])
def test_a_wrong_winner_pole_or_crash_is_rejected_whatever_it_claims(claims):
    assert problems("VER won the sprint from pole after NOR crashed on lap 3", *claims)


def test_a_win_a_pole_a_penalty_or_a_crash_needs_a_claim_of_its_kind():
    ver = {"subject": "VER", "kind": "result", "value": 4, "unit": "position", "fact": "results[3]"}
    assert problems("VER was P4.", ver) == []  # true claims, true words
    for text in ("VER won the sprint, P4.", "VER, P4, started from pole.", "VER, P4, took a penalty.",
                 "VER crashed, P4."):
        (said,) = problems(text, ver)  # true claims, words they do not back
        assert said.endswith("which no held claim of that kind backs"), text


def test_the_role_and_the_lap_are_each_held_against_the_fact():
    role, _ = problems("VER won the sprint.", {"subject": "VER", "kind": "winner", "fact": "story.podium[0]"})
    assert "the fact is about NOR, not VER" in role
    lap, _ = problems("ALO retired on lap 3.", {"subject": "ALO", "kind": "retirement", "lap": 3,
                                                "fact": "story.retirements[0]"})
    assert "the fact's lap is 10, not 3" in lap
    kind, _ = problems("ALO retired.", {"subject": "ALO", "kind": "retirement", "fact": "story.contacts[0]"})
    assert "not retirement" in kind


@pytest.mark.parametrize("text, value", [
    ("NOR was 2.070 s slower than the field median.", 2.07),   # the claim has the wrong sign
    ("NOR was 2.070 s slower than the field median.", -2.07),  # the claim is right, the text says the opposite
    ("NOR was +2.070 s to the field median.", -2.07),
    ("NOR was 2.070 s faster than the field median.", -2.7),   # another number
])
def test_a_gap_with_the_wrong_sign_is_rejected(text, value):
    assert problems(text, {"subject": "NOR", "kind": "pace", "value": value, "unit": "s",
                           "fact": "drivers.NOR.gap_to_field_s"})


@pytest.mark.parametrize("text, value, unit", [
    ("NOR was 2.070 s faster than the field median.", -2.07, "s"),
    ("NOR was -2.07 s to the field median.", -2.070, "s"),
    ("NOR was 2.1 s faster than the field median.", -2.1, "s"),  # rounded as written
])
def test_the_gap_with_its_sign_and_unit_is_accepted(text, value, unit):
    assert problems(text, {"subject": "NOR", "kind": "pace", "value": value, "unit": unit,
                           "fact": "drivers.NOR.gap_to_field_s"}) == []


def test_a_value_in_the_wrong_unit_is_rejected():
    assert problems("NOR's gap to the field was -2.07.", {"subject": "NOR", "kind": "pace", "value": -2.07,
                                                          "unit": "laps", "fact": "drivers.NOR.gap_to_field_s"})


@pytest.mark.parametrize("claims", [
    [],
    [{"subject": "VER", "kind": "penalty", "value": 10, "unit": "s", "fact": "race_control.penalties[0]"}],
    [{"subject": "VER", "kind": "penalty", "fact": "race_control.penalties[0]"}],  # no number: still no fact
    [{"subject": "VER", "kind": "penalty", "value": 10, "unit": "s", "fact": "results[3]"}],  # a fact, not this
    [{"subject": "VER", "kind": "result", "value": 10, "unit": "s", "fact": "results[3]"}],
])
def test_a_penalty_nobody_received_is_rejected(claims):
    assert problems("VER received a 10 s penalty.", *claims)


def test_a_penalty_in_the_facts_is_accepted_for_its_driver_amount_and_lap_only():
    claim = {"subject": "VER", "kind": "penalty", "value": 10, "unit": "s", "lap": 6,
             "fact": "race_control.penalties[0]"}
    assert problems("VER received a 10 s penalty on lap 6 for an unsafe release.", claim, facts=PENALISED) == []
    assert problems("VER received a 5 s penalty.", {**claim, "value": 5}, facts=PENALISED)
    assert problems("NOR received a 10 s penalty.", {**claim, "subject": "NOR"}, facts=PENALISED)
    assert problems("VER received a 10 s penalty on lap 8.", {**claim, "lap": 8}, facts=PENALISED)


def test_a_claim_without_a_number_needs_a_fact_too():
    assert problems("PIA took the lead from NOR.", {"subject": "PIA", "kind": "lead_change",
                                                    "fact": "story.lead_changes[0]"})
    assert problems("PIA had pole.", {"subject": "PIA", "kind": "pole", "fact": "results[9]"})
    assert problems("PIA had pole.", {"subject": "PIA", "kind": "pole", "fact": "results.1"})  # not a path
    assert problems("PIA had pole.", {"subject": "PIA", "kind": "pole", "fact": "results[1]"}) == []


def test_true_statements_of_the_race_are_accepted():
    assert problems("NOR won the sprint from P3, ahead of PIA and HAM.",
                    {"subject": "NOR", "kind": "winner", "value": 3, "unit": "position", "fact": "story.podium[0]"},
                    {"subject": "PIA", "kind": "podium", "fact": "story.podium[1]"},
                    {"subject": "HAM", "kind": "podium", "fact": "story.podium[2]"}) == []
    assert problems("Safety car laps 10-13 (580.4 s) after ALO and LAW touched on lap 10.",
                    {"kind": "safety_car", "lap": 10, "value": 580.4, "unit": "s", "fact": "neutralisations[0]"},
                    {"kind": "safety_car", "lap": 13, "fact": "neutralisations[0]"},
                    {"subject": "ALO", "kind": "contact", "lap": 10, "fact": "story.contacts[0]"}) == []
    assert problems("Fastest lap: NOR, 1:36.500 on lap 12.", {"subject": "NOR", "kind": "fastest_lap", "lap": 12,
                                                              "value": 96.5, "unit": "s",
                                                              "fact": "story.fastest_lap[0]"}) == []
    assert problems("NOR pitted on lap 11 for SOFT tyres.", {"subject": "NOR", "kind": "pit_stop", "lap": 11,
                                                            "fact": "drivers.NOR.pit_stops[0]"},
                    {"subject": "NOR", "kind": "stint", "value": "SOFT", "fact": "drivers.NOR.stints[1]"}) == []
    assert problems("The track dried through the session.") == []  # nothing to hold


def test_what_a_text_states_beyond_its_claims_is_rejected():
    fastest = {"subject": "NOR", "kind": "fastest_lap", "lap": 12, "value": 96.5, "unit": "s",
               "fact": "story.fastest_lap[0]"}
    assert problems("Fastest lap: NOR, 1:36.6.", fastest)  # not the claim's time, within its rounding
    assert problems("Fastest lap: NOR, 1:36.500, ahead of VER.", fastest)  # VER: no claimed fact names him
    assert problems("NOR pitted for HARD tyres on lap 11.", {"subject": "NOR", "kind": "pit_stop", "lap": 11,
                                                             "fact": "drivers.NOR.pit_stops[0]"})
    (bare,) = problems("a SOFT stint")
    assert "names SOFT, which has no claim" in bare


def test_the_kind_of_a_first_place_follows_the_session():
    quali = {**SPRINT, "session": {**SPRINT["session"], "session": "Qualifying"}}
    assert problems("NOR wins.", {"subject": "NOR", "kind": "winner", "fact": "results[0]"}, facts=quali)
    assert problems("NOR took pole.", {"subject": "NOR", "kind": "pole", "fact": "results[0]"}, facts=quali) == []


def test_a_fact_without_a_driver_field_is_about_the_drivers_it_names():
    facts = {**SPRINT, "story": {**SPRINT["story"], "lead_changes": [{"lap": 11, "from": "NOR", "to": "PIA",
                                                                      "how": "pit cycle"}]}}
    claim = {"subject": "PIA", "kind": "lead_change", "lap": 11, "fact": "story.lead_changes[0]"}
    assert problems("PIA took the lead from NOR in the pit cycle on lap 11.", claim, facts=facts) == []
    assert problems("VER took the lead on lap 11.", {**claim, "subject": "VER"}, facts=facts)
    assert problems("PIA took the lead on lap 12.", {**claim, "lap": 12}, facts=facts)


def test_a_nested_fact_is_its_owners():
    stop = resolve(SPRINT, "drivers.NOR.pit_stops[0]")
    assert stop.role == ["NOR"] and "pit_stop" in stop.kinds
    wet = {**SPRINT, "drivers": {"NOR": {"driver": "NOR", "stints": [{"compound": "WET", "from_lap": 1, "to_lap": 4}]}}}
    assert problems("NOR ran WET tyres on laps 1-4.", *({"subject": "NOR", "kind": "stint", "lap": n,
                                                         "fact": "drivers.NOR.stints[0]"} for n in (1, 4)),
                    facts=wet) == []  # a compound is not a driver
    assert resolve(SPRINT, "story.podium[3]") is None and resolve(SPRINT, "nothing") is None


START = {**SPRINT, "story": {**SPRINT["story"], "start": {"kind": "start", "lap": 1, "pole": "PIA", "leader": "PIA"}}}


def test_a_pole_is_backed_by_a_fact_whose_pole_is_the_subject():
    at = {"kind": "start", "lap": 1, "fact": "story.start"}
    assert problems("PIA led lap 1 from pole.", {**at, "subject": "PIA"}, facts=START) == []
    assert problems("NOR led lap 1 from pole.", {**at, "subject": "NOR"}, facts=START)  # not the start's pole
    assert problems("PIA led lap 1 from pole.", {**at, "subject": "PIA"})  # no start fact at all
    won = {"subject": "NOR", "kind": "finish", "lap": 18, "value": 0.672, "unit": "s", "fact": "story.finish"}
    finish = {**SPRINT, "story": {**SPRINT["story"], "finish": {"kind": "finish", "lap": 18, "winner": "NOR",
                                                                "gap_s": 0.672}}}
    assert problems("NOR won by 0.672 s.", won, facts=finish) == []
    assert problems("PIA won by 0.672 s.", {**won, "subject": "PIA"}, facts=finish)


DEGRADATION = {**SPRINT, "strategy": {"degradation": [
    {"kind": "degradation", "compound": "MEDIUM", "stints": 16, "median_s_per_lap": 0.037, "team_mates": [
        {"team": "Haas", "drivers": ["HUL", "MAG"], "deg_s_per_lap": [0.233, -0.081], "difference_s_per_lap": 0.314},
        {"team": "McLaren", "drivers": ["NOR", "PIA"], "deg_s_per_lap": [0.028, 0.089],
         "difference_s_per_lap": -0.061}]}]}}


@pytest.mark.parametrize("text, subject, value, holds", [
    ("HUL wore his MEDIUM tyres by 0.233 s/lap.", "HUL", 0.233, True),
    ("MAG wore his MEDIUM tyres by -0.081 s/lap.", "MAG", -0.081, True),
    ("HUL wore his MEDIUM tyres by -0.081 s/lap.", "HUL", -0.081, False),  # his team-mate's figure
    ("NOR wore his MEDIUM tyres by 0.233 s/lap.", "NOR", 0.233, False),    # another team's figure
    ("VER wore his MEDIUM tyres by 0.233 s/lap.", "VER", 0.233, False),    # not in the fact at all
])
def test_a_per_driver_value_inside_a_compound_fact_is_that_drivers(text, subject, value, holds):
    found = problems(text, {"subject": subject, "kind": "degradation", "value": value, "unit": "s/lap",
                            "fact": "strategy.degradation[0]"}, facts=DEGRADATION)
    assert (found == []) is holds, found


def test_a_number_inside_quoted_race_control_text_is_the_facts():
    facts = {**SPRINT, "story": {**SPRINT["story"], "retirements": [
        {"kind": "retirement", "driver": "ALO", "lap": 13,
         "incident": {"drivers": ["LAW", "ALO"], "lap": 16, "where": "TURN 12", "reason": "CAUSING A COLLISION"}}]}}
    at = {"subject": "ALO", "kind": "retirement", "lap": 13, "fact": "story.retirements[0]"}
    assert problems("ALO retired on lap 13 after an incident at turn 12.", at, {**at, "value": "TURN 12"},
                    facts=facts) == []
    assert problems("ALO retired on lap 13 after an incident at turn 12.", at, facts=facts)  # 12: nothing quoted
    assert problems("ALO retired on lap 13 after an incident at turn 14.", at, {**at, "value": "TURN 14"},
                    facts=facts)  # not what race control said


def test_a_car_named_by_its_number_is_a_driver_not_a_number():
    timesheet = [{"kind": "timesheet", "driver": "44", "lap": 8, "lap_time_s": 85.606}]
    facts = {**SPRINT, "practice": {"timesheet": timesheet}}
    top = {"subject": "44", "kind": "timesheet", "lap": 8, "value": 85.606, "unit": "s",
           "fact": "practice.timesheet[0]"}
    assert problems("car 44 topped the timesheet with 1:25.606 on lap 8.", top, facts=facts) == []
    assert problems("car 77 topped the timesheet with 1:25.606 on lap 8.", top, facts=facts)  # not the fact's car
    assert problems("car 44 topped the timesheet with 1:25.606 on lap 8.")  # no claim
