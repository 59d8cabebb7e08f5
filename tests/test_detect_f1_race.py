"""Race events from timing on hand-made races: one field of cars, one kind of trouble at a time."""
from __future__ import annotations

from itertools import accumulate

from apexflow.contract import SessionFacts
from apexflow.detect.f1.lap_table import LapTable
from apexflow.detect.f1.laps import detect_facts
from apexflow.detect.f1.race.fastest import fastest_laps

SECTORS = (30.0, 40.0, 25.0)
PIT_LANE_S = 20.0


def race(n_cars=8, laps=10, loss=None, stop=None, pit=None, lapped=None, status=None):
    """A race of ``n_cars`` in grid order, 0.3 s a lap apart in pace, standing start at t=0.

    ``loss``: {(car, lap, sector): seconds lost}; ``stop``: {car: lap} the car stops on track during that
    lap, after its first sector; ``pit``: {car: lap} pit stop at the end of that lap; ``lapped``: cars a lap
    down at the flag (they run 40 s a lap slower); ``status``: results status by car.
    """
    loss, stop, pit, lapped = loss or {}, stop or {}, pit or {}, lapped or set()
    cars = [f"C{c:02d}" for c in range(n_cars)]
    rows, results = [], []
    for c, car in enumerate(cars):
        t, stint = 0.0, 1
        for n in range(1, laps + 1):
            if car in lapped and n == laps:
                break  # a lap down: one lap fewer, finishing after the winner
            times = [s + 0.1 * c + (1.0 if n == 1 and k == 0 else 0.0) + (13.3 if car in lapped else 0.0)
                     + loss.get((car, n, k + 1), 0.0) for k, s in enumerate(SECTORS)]
            if pit.get(car) == n:
                times[2] += PIT_LANE_S / 2
            if pit.get(car) == n - 1:
                times[0] += PIT_LANE_S / 2
                stint = 2
            ends = [t + x for x in accumulate(times)]
            row = {"Driver": car, "LapNumber": n, "LapStartTime": t, "Stint": stint, "TrackStatus": "1",
                   "Compound": "MEDIUM" if stint == 1 else "HARD", "TyreLife": float(n),
                   "PitInTime": ends[2] - 5.0 if pit.get(car) == n else None,
                   "PitOutTime": t + 5.0 if pit.get(car) == n - 1 else None,
                   **{f"Sector{k + 1}Time": None if n == 1 and k == 0 else times[k] for k in range(3)},
                   **{f"Sector{k + 1}SessionTime": None if n == 1 and k == 0 else ends[k] for k in range(3)}}
            if stop.get(car) == n:  # the lap it stopped on: only its first sector was timed
                rows.append({**row, "Sector2Time": None, "Sector3Time": None, "Sector2SessionTime": None,
                             "Sector3SessionTime": None, "LapTime": None, "Time": None})
                break
            row.update(LapTime=None if n == 1 else ends[2] - t, Time=ends[2])
            rows.append(row)
            t = ends[2]
        done = [r for r in rows if r["Driver"] == car and r["Time"] is not None]
        results.append({"Driver": car, "GridPosition": c + 1, "Laps": len(done),
                        "Status": (status or {}).get(car, "+1 Lap" if car in lapped else "Finished")})
    for n in range(1, laps + 1):  # positions in the order the cars completed the lap
        done = sorted((r for r in rows if r["LapNumber"] == n and r["Time"] is not None), key=lambda r: r["Time"])
        for k, r in enumerate(done, start=1):
            r["Position"] = k
    return SessionFacts(laps=rows, results=results)


def found(facts, kind=None):
    out = detect_facts("s", facts, "Race")
    return [d for d in out if kind is None or d.kind == kind]


def test_a_car_that_stops_retires_but_a_lapped_car_finishes():
    facts = race(stop={"C03": 6}, lapped={"C07"}, status={"C03": "Accident"})
    ret = found(facts, "retirement")
    assert [(d.entity_id, d.lap, d.severity) for d in ret] == [("C03", 6, "critical")]
    assert ret[0].evidence["cause"] == "Accident" and ret[0].evidence["position"] == 4
    assert not ret[0].evidence["in_pits"]
    assert found(race(lapped={"C07"}), "retirement") == []


def test_a_car_retiring_in_the_pits_has_its_in_lap_and_no_cause_beyond_retired():
    rows = race(pit={"C02": 4}, status={"C02": "Retired"})
    rows.laps = [r for r in rows.laps if not (r["Driver"] == "C02" and r["LapNumber"] > 4)]
    ret = found(rows, "retirement")
    assert [(d.entity_id, d.lap, d.evidence["in_pits"], d.evidence["cause"]) for d in ret] == [("C02", 4, True, None)]


def test_a_car_listed_without_a_lap_did_not_start():
    facts = race()
    facts.results.append({"Driver": "DNS", "GridPosition": None, "Laps": 0, "Status": "Withdrew"})
    facts.results.append({"Driver": "LAP", "GridPosition": 9, "Laps": 0, "Status": "+1 Lap"})
    assert [(d.entity_id, d.lap) for d in found(facts, "did_not_start")] == [("DNS", 0)]


def test_first_lap_collision_of_two_cars_is_contact_a_lone_loss_elsewhere_is_not():
    facts = race(loss={("C04", 1, 1): 12.0, ("C05", 1, 1): 15.0, ("C01", 1, 3): 9.0})
    contact = found(facts, "contact")
    assert sorted((d.entity_id, d.lap) for d in contact) == [("C04", 1), ("C05", 1)]
    assert all(d.evidence["first_lap"] and d.evidence["cars"] == ["C04", "C05"] for d in contact)
    assert {d.severity for d in contact} == {"critical"}
    assert len({d.detection_id for d in contact}) == 2
    assert found(race(loss={("C04", 1, 1): 12.0}), "contact") == []


def test_a_car_stopping_where_another_loses_time_is_a_collision_a_lone_crash_is_not():
    facts = race(stop={"C02": 7}, loss={("C03", 7, 2): 10.0}, status={"C02": "Collision"})
    contact = found(facts, "contact")
    assert sorted((d.entity_id, d.lap, d.evidence["retired"]) for d in contact) == [("C02", 7, True),
                                                                                   ("C03", 7, False)]
    assert not contact[0].evidence["first_lap"]
    lone = race(stop={"C02": 7}, status={"C02": "Accident"})
    assert found(lone, "contact") == [] and len(found(lone, "retirement")) == 1


def test_race_control_naming_a_collision_ties_a_stop_to_the_other_car():
    facts = race(stop={"C02": 7}, status={"C02": "Retired"})
    facts.race_control_messages = [{"Lap": 8, "Message": "TURN 4 INCIDENT INVOLVING CARS 3 (C03) AND 2 (C02) "
                                                         "NOTED - CAUSING A COLLISION"}]
    contact = found(facts, "contact")
    assert sorted((d.entity_id, d.evidence["seen_in_timing"]) for d in contact) == [("C02", True), ("C03", False)]
    assert "CAUSING A COLLISION" in contact[0].evidence["race_control"][0]
    facts.race_control_messages[0]["Lap"] = 12  # too long after the stop: not this incident
    assert found(facts, "contact") == []


def test_a_puncture_lap_followed_by_a_pit_stop_is_sudden_damage_not_a_slow_puncture():
    facts = race(loss={("C00", 6, 2): 25.0}, pit={"C00": 6})
    dmg = found(facts, "sudden_damage")
    assert [(d.entity_id, d.lap, d.evidence["then"], d.evidence["sector"]) for d in dmg] == [("C00", 6, "pit_stop", 2)]
    assert dmg[0].evidence["leading"] and dmg[0].severity == "critical"
    assert found(facts, "slow_puncture") == []
    assert found(race(loss={("C00", 6, 2): 25.0}), "sudden_damage") == []  # lost time, carried on: no damage


def test_an_overtake_on_track_counts_a_place_won_in_the_pits_does_not():
    facts = race(loss={("C01", 4, 2): 2.0}, pit={"C04": 5})  # C02 was 0.9 s behind C01 after lap 3
    over = found(facts, "overtake")
    assert [(d.entity_id, d.lap, d.evidence["passed"]) for d in over] == [("C02", 4, "C01"), ("C01", 7, "C02")]
    assert over[0].severity == "info" and over[0].evidence["gap_after_s"] > 0
    assert all(d.evidence["passed"] != "C04" for d in over)


def test_start_positions_against_the_grid():
    facts = race(loss={("C00", 1, 2): 0.8})  # C01 and C02 are 0.3 and 0.6 s behind it after lap 1
    starts = {d.entity_id: d.evidence["gained"] for d in found(facts, "position_change")}
    assert starts == {"C00": -2, "C01": 1, "C02": 1}


def test_fastest_lap_and_personal_bests_skip_deleted_laps():
    facts = race()
    quickest = next(r for r in facts.laps if r["Driver"] == "C05" and r["LapNumber"] == 3)
    quickest.update(LapTime=80.0, Deleted=True)
    got = fastest_laps("s", LapTable.of(facts.laps))
    assert [(d.entity_id, d.kind) for d in got][:2] == [("C00", "fastest_lap"), ("C01", "personal_best")]
    assert len(got) == 8 and got[0].evidence["margin_s"] == 0.3
    assert got[1].evidence["gap_to_fastest_s"] == 0.3


def test_outside_races_no_race_events():
    facts = race(stop={"C03": 6}, loss={("C04", 1, 1): 12.0, ("C05", 1, 1): 15.0})
    kinds = {d.kind for d in detect_facts("s", facts, "Qualifying")}
    assert "fastest_lap" in kinds and not kinds & {"retirement", "contact", "overtake", "sudden_damage"}


def test_losses_under_five_seconds_are_no_incident():
    assert found(race(loss={("C04", 3, 2): 4.5, ("C05", 3, 2): 4.5}), "contact") == []
    assert len(found(race(loss={("C04", 3, 2): 5.5, ("C05", 3, 2): 5.5}), "contact")) == 2


def test_a_sector_the_whole_field_runs_far_slower_judges_no_one():
    from apexflow.detect.f1.race.incidents import incidents
    from apexflow.detect.f1.race.losses import sector_losses

    # the grid before a standing start: everyone 16 s or more slower, the back of the field more, one car 30 s more
    slow = {(f"C{c:02d}", 5, 1): 16.0 + 2 * c for c in range(8)}
    slow[("C07", 5, 1)] += 30
    table = LapTable.of(race(loss=slow).laps)
    assert incidents(sector_losses(table)) == []
    assert [(x.driver, x.lap) for x in incidents(sector_losses(LapTable.of(race(loss={("C07", 5, 1): 30}).laps)))] \
        == [("C07", 5)]


def test_same_lap_and_sector_but_far_apart_on_track_is_no_contact():
    near = found(race(loss={("C00", 9, 2): 10.0, ("C03", 9, 2): 10.0}), "contact")  # 7 s apart
    assert sorted(d.entity_id for d in near) == ["C00", "C03"]
    assert found(race(loss={("C00", 9, 2): 10.0, ("C07", 9, 2): 10.0}), "contact") == []  # 17 s apart


def generated_stop(facts, car, lap):
    """FastF1's stand-in for the lap a car stopped on track: started at its last lap's end, ended 150 s later."""
    facts.laps = [r for r in facts.laps if not (r["Driver"] == car and r["LapNumber"] >= lap)]
    start = max(r["Time"] for r in facts.laps if r["Driver"] == car) if lap > 1 else 0.0
    facts.laps.append({"Driver": car, "LapNumber": lap, "LapStartTime": start, "Time": start + 150.0,
                       "LapTime": None, "FastF1Generated": True, "Stint": 1, "TrackStatus": "1"})
    return facts


def test_a_lap_fastf1_generated_for_a_car_stopped_on_track_is_the_retirement_lap():
    facts = generated_stop(race(status={"C05": "Engine"}), "C05", 8)
    ret = found(facts, "retirement")
    assert [(d.entity_id, d.lap, d.evidence["cause"], d.evidence["in_pits"]) for d in ret] == [("C05", 8, "Engine",
                                                                                                False)]
    assert ret[0].t_start == next(r["LapStartTime"] for r in facts.laps if r.get("FastF1Generated"))


def test_two_cars_out_on_the_first_lap_are_a_first_lap_collision_a_non_starter_is_not():
    facts = race(status={"C03": "Collision", "C04": "Collision", "C06": "Did not start"})
    for car in ("C03", "C04", "C06"):
        generated_stop(facts, car, 1)  # FastF1 adds a lap 1 for a non-starter too
    contact = found(facts, "contact")
    assert sorted((d.entity_id, d.lap, d.evidence["first_lap"], d.evidence["retired"]) for d in contact) == [
        ("C03", 1, True, True), ("C04", 1, True, True)]
    assert [d.entity_id for d in found(facts, "did_not_start")] == ["C06"]
    assert sorted(d.entity_id for d in found(facts, "retirement")) == ["C03", "C04"]


def test_a_first_lap_loss_is_measured_against_the_grid_slots_behind_it():
    from apexflow.detect.f1.race.incidents import incidents
    from apexflow.detect.f1.race.losses import sector_losses
    from apexflow.detect.f1.race.positions import grid_slots

    start = {(f"C{c:02d}", 1, 1): 0.8 * c for c in range(8)}  # each slot back reaches the first sector later
    start[("C05", 1, 1)] += 6.0
    facts = race(loss=start)
    table = LapTable.of(facts.laps)
    assert [(x.driver, x.lap) for x in incidents(sector_losses(table, grid_slots(facts.results)))] == [("C05", 1)]
    assert incidents(sector_losses(table)) == []  # against one median, the grid's spread hides it
