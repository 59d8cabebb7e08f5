"""Lap-level F1 detectors: on hand-made rows, and on real FastF1 sessions checked against their own data."""
from __future__ import annotations

import logging
from datetime import UTC

import pytest

from apexflow.contract import SessionFacts
from apexflow.detect.f1.lap_table import LapTable
from apexflow.detect.f1.lap_time import lap_time_outliers
from apexflow.detect.f1.laps import detect_facts
from apexflow.detect.f1.pit_stops import pit_stops
from apexflow.detect.f1.punctures import slow_punctures
from apexflow.detect.f1.track_status import track_status_events
from apexflow.detect.f1.tyres import tyre_degradation


def ts(*rows):
    return [{"Time": t, "Status": s, "Message": ""} for t, s in rows]


def test_safety_car_holds_through_a_yellow_and_is_never_a_vsc():
    d = track_status_events("s", ts((0, "1"), (100, "2"), (120, "4"), (150, "2"), (300, "1"), (400, "6"),
                                    (460, "7"), (470, "1"), (500, "5"), (900, "1"), (950, "4")), end_time=1000)
    got = [(x.kind, x.t_start, x.t_end) for x in d]
    assert got == [("yellow_flag", 100, 120), ("safety_car", 120, 300), ("virtual_safety_car", 400, 470),
                   ("red_flag", 500, 900), ("safety_car", 950, 1000)]
    assert d[1].evidence["statuses"] == "42" and d[-1].evidence["open_at_end_of_data"]
    assert all(x.entity_id == "" for x in d)
    assert len({x.detection_id for x in d}) == len(d)


def race_laps(driver="AAA", n=20, base=90.0, deg=0.08, slow=None, pit_after=None):
    rows, t = [], 0.0
    stint, life = 1, 1
    for k in range(1, n + 1):
        lt = base + deg * life - 0.05 * k + (0.1 if k % 2 else -0.1)
        if slow and k == slow:
            lt += 8.0
        row = {"Driver": driver, "LapNumber": k, "LapStartTime": t, "LapTime": lt, "Stint": stint,
               "TyreLife": float(life), "Compound": "SOFT" if stint == 1 else "HARD", "TrackStatus": "1",
               "PitInTime": None, "PitOutTime": None}
        if pit_after and k == pit_after:
            row["PitInTime"] = t + lt - 5
        if pit_after and k == pit_after + 1:
            row.update(PitOutTime=t + 17, Stint=2, Compound="HARD", TyreLife=1.0)
            stint, life = 2, 1
        rows.append(row)
        t += lt
        life += 1
    return rows


def test_lap_time_outlier_slow_lap_found_in_out_and_sc_laps_excluded():
    laps = race_laps(slow=9, pit_after=12)
    laps[4]["TrackStatus"] = "14"  # a safety-car lap: slow, but excluded
    laps[4]["LapTime"] += 20
    d = lap_time_outliers("s", LapTable.of(laps))
    assert [(x.entity_id, x.lap) for x in d] == [("AAA", 9)]
    assert d[0].evidence["direction"] == "slow" and d[0].evidence["delta"] > 7


def test_tyre_degradation_trend_and_cliff_forecast():
    d = tyre_degradation("s", LapTable.of(race_laps(n=25, deg=0.15)))
    assert len(d) == 1
    ev = d[0].evidence
    assert ev["slope_s_per_lap"] == pytest.approx(0.15, abs=0.02)  # fuel corrected: 0.15 - 0.05 + 0.05
    assert ev["cliff_tyre_life"] == pytest.approx(2 + 1.5 / ev["slope_s_per_lap"], abs=0.2)  # lap 1 is not clean
    assert ev["crossed"] is True


def test_pit_stop_lane_time():
    d = pit_stops("s", LapTable.of(race_laps(pit_after=12)))
    assert len(d) == 1 and d[0].lap == 12 and d[0].evidence["compound_after"] == "HARD"
    assert 15 < d[0].evidence["lane_seconds"] < 30 and not d[0].evidence["garage"]


SESSIONS = [(2025, "Miami", "S"), (2023, "Azerbaijan", "S"), (2021, "Italy", "FP2"), (2024, "Spain", "Q"),
            (2020, "Hungary", "FP2")]


@pytest.mark.parametrize("year,event,session", SESSIONS)
def test_real_session_against_its_own_data(shared_cache, tmp_path, year, event, session):
    from apexflow.sources.fastf1 import FastF1Source

    logging.getLogger("fastf1").setLevel(logging.ERROR)
    src = FastF1Source(year, event, session, cache_dir=tmp_path, http_cache=shared_cache, telemetry=False)
    facts: SessionFacts = src.facts()
    name = src.session().identity["session"]
    found = detect_facts(src.session().session_id, facts, name)
    laps = facts.laps
    by_key = {(r["Driver"], int(r["LapNumber"])): r for r in laps}
    typed = {(lap.driver, lap.lap_number): lap for lap in LapTable.of(laps, facts.track_status).laps}

    # pit stops: exactly the laps with a pit-in time, each matched with the next lap's pit-out where there is one
    pits = [d for d in found if d.kind == "pit_stop"]
    assert len(pits) == sum(1 for r in laps if r.get("PitInTime") is not None)
    for d in pits:
        assert by_key[(d.entity_id, d.lap)]["PitInTime"] == d.t_start
        nxt = by_key.get((d.entity_id, d.lap + 1))
        if nxt is not None and nxt.get("PitOutTime") is not None:
            assert d.evidence["lane_seconds"] == pytest.approx(nxt["PitOutTime"] - d.t_start, abs=1e-3)

    # track status: every non-green status change lies in a period of its own kind; SC and VSC never mixed
    periods = [d for d in found if d.entity_id == ""]
    kind_of = {"2": {"yellow_flag", "safety_car"}, "4": {"safety_car"}, "5": {"red_flag"},
               "6": {"virtual_safety_car"}, "7": {"virtual_safety_car"}}
    for row in facts.track_status:
        if row["Status"] in kind_of:
            assert any(p.kind in kind_of[row["Status"]] and p.t_start <= row["Time"] <= p.t_end for p in periods), row
    for p in periods:
        if p.kind == "safety_car":
            assert set(p.evidence["statuses"]) <= {"4", "2"}
        if p.kind == "virtual_safety_car":
            assert set(p.evidence["statuses"]) <= {"6", "7"}

    # lap-time outliers: never an in/out lap, the first lap, or a lap under yellow/SC/VSC/red
    for d in (d for d in found if d.kind == "lap_time_outlier"):
        lap = by_key[(d.entity_id, d.lap)]
        assert typed[(d.entity_id, d.lap)].clean and lap.get("PitInTime") is None and lap.get("PitOutTime") is None
        assert set(str(lap.get("TrackStatus") or "1")) <= {"1"}
        assert not any(p.t_start < d.t_end and p.t_end > d.t_start for p in periods)
        assert d.evidence["deleted"] == bool(lap.get("Deleted") or False)

    # tyre degradation: one per stint with enough clean laps, on that stint's compound
    for d in (d for d in found if d.kind == "tyre_degradation"):
        assert d.evidence["compound"] in {r.get("Compound") for r in laps if r["Driver"] == d.entity_id}
    assert all(0.0 <= d.score <= 1.0 for d in found)
    assert len({d.detection_id for d in found}) == len(found)


def test_facts_detections_are_stored_idempotently(db):
    from datetime import datetime

    from apexflow.contract import F1_CHANNELS, Entity, Session
    from apexflow.query import detections as query_detections
    from apexflow.storage import detection_store, registry

    session = Session("s1", "synthetic", datetime(2024, 1, 1, tzinfo=UTC), F1_CHANNELS, (Entity("AAA"),))
    facts = SessionFacts(laps=race_laps(slow=9, pit_after=12), track_status=ts((0, "1"), (50, "4"), (200, "1")))
    rows = [d.to_row() for d in detect_facts("s1", facts, "Race")]
    with db, db.cursor() as cur:
        registry.register_session(cur, session, facts, "run1")
        detection_store.write_detections(cur, rows)
        detection_store.write_detections(cur, rows)
    with db.cursor() as cur:
        stored = query_detections.stored(cur, "s1")
    assert len(stored) == len(rows)
    assert {d["kind"] for d in stored} >= {"safety_car", "lap_time_outlier", "pit_stop", "tyre_degradation"}
    assert next(d for d in stored if d["kind"] == "safety_car")["entity_id"] is None


@pytest.mark.parametrize("seed,laps", [(1, 6), (3, 10)])
def test_slow_puncture_from_lap_two_found_against_the_field(seed, laps):
    from apexflow.simulator import SyntheticRace
    from apexflow.simulator.evaluate import score

    race = SyntheticRace(seed, laps=laps)
    truth = [t for t in race.ground_truth() if t["kind"] == "slow_puncture"]
    assert truth and truth[0]["lap"] == 2  # too early in the stint for the stint's own pace
    found = [d.to_row() for d in detect_facts(race.session().session_id, race.facts(), "Race")
             if d.kind == "slow_puncture"]
    got = score(truth, found)["slow_puncture"]
    assert (got["found"], got["missed"], got["false_alarms"]) == (1, 0, 0)
    assert found[0]["evidence"]["reference"] == "field" and found[0]["evidence"]["ended_in_pit"]


def field_race(n_cars=8, n=12, step_at=None, step=0.0, grow_from=None, pit_after=9):
    """Eight cars with constant pace offsets and a shared fuel trend; car AAA may lose ``step``
    seconds at once from lap ``step_at`` or build up a puncture from lap ``grow_from``."""
    rows = []
    for c in range(n_cars):
        drv = "AAA" if c == 0 else f"C{c:02d}"
        t = 0.0
        for k in range(1, n + 1):
            lt = 90.0 + 0.3 * c - 0.06 * k + (0.02 if (k + c) % 2 else -0.02) + (5.0 if k == 1 else 0.0)
            if c == 0 and step_at and k >= step_at:
                lt += step
            if c == 0 and grow_from and k >= grow_from:
                m = k - grow_from + 1
                lt += 0.4 * m * (1 + 0.25 * (m - 1))
            row = {"Driver": drv, "LapNumber": k, "LapStartTime": t, "LapTime": lt, "Stint": 1 if k <= pit_after else 2,
                   "TrackStatus": "1", "PitInTime": None, "PitOutTime": None,
                   "Sector1Time": 0.3 * lt, "Sector2Time": 0.4 * lt, "Sector3Time": 0.3 * lt}
            if k == pit_after:
                row["PitInTime"] = t + lt - 3
            if k == pit_after + 1:
                row["PitOutTime"] = t + 5
                row["LapTime"] = lt + 20
            rows.append(row)
            t += row["LapTime"]
    return rows


def test_field_pace_puncture_needs_a_growing_gap_not_a_step():
    def found_in(rows):
        return slow_punctures("s", LapTable.of(rows))

    found = found_in(field_race(grow_from=7))
    assert [(d.entity_id, d.lap, d.evidence["pit_lap"]) for d in found] == [("AAA", 7, 9)]
    assert found_in(field_race(grow_from=7))[0].detection_id == found[0].detection_id
    assert found_in(field_race()) == []
    assert found_in(field_race(step_at=7, step=2.0)) == []   # a power loss: one step, then flat
    assert found_in(field_race(step_at=8, step=1.5)) == []   # ... even right before the stop


def flat_laps(n=20, pit_after=None):
    """One car at a steady 90 s (+-0.01 s), so only what a test adds stands out."""
    laps = race_laps(n=n, deg=0.0, pit_after=pit_after)
    for r in laps:
        if not pit_after or r["LapNumber"] <= pit_after:
            r["LapTime"] = 90.0 + (0.01 if r["LapNumber"] % 2 else -0.01)
    return laps


@pytest.mark.parametrize("extra, found", [(1.4, False), (1.6, True)])
def test_lap_time_outlier_needs_a_second_and_a_half_on_a_steady_car(extra, found):
    laps = flat_laps()
    laps[8]["LapTime"] += extra
    d = lap_time_outliers("s", LapTable.of(laps))
    assert [x.lap for x in d] == ([9] if found else [])
    assert all(x.evidence["limit"] == 1.5 and x.severity == "warning" for x in d)


@pytest.mark.parametrize("first, found", [(0.2, False), (0.28, True)])
def test_slow_puncture_drift_starts_a_quarter_second_off_the_stint_pace(first, found):
    laps = flat_laps(pit_after=14)
    laps[11]["LapTime"] += first
    laps[12]["LapTime"] += first + 0.3
    d = slow_punctures("s", LapTable.of(laps))
    assert [(x.lap, x.evidence["pit_lap"]) for x in d] == ([(12, 14)] if found else [])


def test_tyre_severity_steady_wear_is_info_and_only_falling_off_is_critical():
    steady = tyre_degradation("s", LapTable.of(race_laps(n=25, deg=0.05)))[0]
    heavy = tyre_degradation("s", LapTable.of(race_laps(n=25, deg=0.15)))[0]
    cliff_laps = race_laps(n=25, deg=0.05)
    for r in cliff_laps[-3:]:
        r["LapTime"] += 1.5
    cliff = tyre_degradation("s", LapTable.of(cliff_laps))[0]
    assert (steady.severity, heavy.severity, cliff.severity) == ("info", "warning", "critical")
    assert heavy.evidence["crossed"] and cliff.evidence["fall_off_s"] >= 0.7
    assert steady.evidence["fall_off_s"] < 0.7
