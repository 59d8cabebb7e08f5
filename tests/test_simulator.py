"""The synthetic race: deterministic, physically plausible, contract-clean, anomalies where it says."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apexflow.chunk import split
from apexflow.contract import F1_CHANNELS, Session, SessionFacts
from apexflow.simulator import SyntheticRace
from apexflow.simulator.sensors import RPM_SD, SPEED_SD

KINDS = {"incident", "power_loss", "frozen_sensor", "dropout", "slow_puncture", "throttle_brake_overlap"}
SPEED_KINDS = {"incident", "power_loss", "slow_puncture"}


class Race:
    """A generated race with everything materialised once."""

    def __init__(self, **kw):
        self.race = SyntheticRace(**kw)
        self.session = self.race.session()
        self.facts = self.race.facts()
        self.truth = self.race.ground_truth()
        self.samples = {e: (t, v) for e, t, v in self.race.samples()}
        self.laps = {}
        for row in self.facts.laps:
            self.laps.setdefault(row["Driver"], {})[row["LapNumber"]] = row

    def lap_samples(self, car: str, lap: int):
        t, v = self.samples[car]
        sel = v["LapNumber"] == lap
        return t[sel], {k: c[sel] for k, c in v.items()}

    def window(self, car: str, t0: float, t1: float):
        t, v = self.samples[car]
        sel = (t >= t0) & (t <= t1)
        return t[sel], {k: c[sel] for k, c in v.items()}

    def of(self, kind: str) -> list[dict]:
        return [a for a in self.truth if a["kind"] == kind]


@pytest.fixture(scope="module")
def short() -> Race:
    return Race()


@pytest.fixture(scope="module")
def full() -> Race:
    return Race(seed=11, laps=57)


@pytest.fixture(scope="module", params=["short", "full"])
def race(request) -> Race:
    return request.getfixturevalue(request.param)


def test_same_seed_is_byte_identical_and_another_seed_differs():
    a, b, c = SyntheticRace(seed=3), SyntheticRace(seed=3), SyntheticRace(seed=4)
    for (ea, ta, va), (eb, tb, vb) in zip(a.samples(), b.samples()):
        assert ea == eb and ta.tobytes() == tb.tobytes()
        assert all(va[k].tobytes() == vb[k].tobytes() for k in va)
    assert a.facts() == b.facts() and a.ground_truth() == b.ground_truth()
    assert a.session() == b.session()
    assert a.ground_truth() != c.ground_truth()
    assert any(ta.tobytes() != tc.tobytes() for (_, ta, _), (_, tc, _) in zip(a.samples(), c.samples()))


def test_session_describes_the_race(short):
    s = short.session
    assert isinstance(s, Session) and s.source == "synthetic" and s.session_id == "sim-s7-l6"
    assert s.channels == F1_CHANNELS and s.start_time.utcoffset().total_seconds() == 0
    assert len(s.entities) == 20 and len({e.entity_id for e in s.entities}) == 20
    assert all(len(e.entity_id) == 3 and e.entity_id.isupper() and e.name and e.team for e in s.entities)
    assert s.identity == {"year": 2024, "event": "Synthetic Grand Prix", "session": "Race", "seed": 7}
    assert s.meta["laps"] == 6 and s.meta["hz"] == 4.0 and 4500 < s.meta["track_length_m"] < 5500
    assert isinstance(short.facts, SessionFacts)
    assert short.facts.missing == {"weather": "synthetic session has no weather"}
    assert set(short.samples) == {e.entity_id for e in s.entities}


def test_channels_are_exact_finite_and_in_range(race):
    channels = race.session.channel_map()
    for car, (t, values) in race.samples.items():
        assert t.dtype == np.float64 and t[0] >= 0 and np.all(np.diff(t) > 0), car
        assert set(values) == set(channels)
        for name, col in values.items():
            assert col.dtype == np.float32 and len(col) == len(t)
            assert np.all(np.isfinite(col)), (car, name)
            assert col.min() >= channels[name].min and col.max() <= channels[name].max, (car, name)
        for name in ("nGear", "Brake", "DRS", "LapNumber"):
            assert np.all(values[name] == np.round(values[name]))
        assert set(np.unique(values["Brake"])) <= {0, 1} and set(np.unique(values["DRS"])) <= {0, 1}


def test_every_chunk_passes_the_contract(short):
    channels = short.session.channel_map()
    units = {c.name: c.unit for c in short.session.channels}
    for car, (t, values) in short.samples.items():
        chunks = split(short.session.session_id, car, t, values, units)
        assert sum(c.n for c in chunks) == len(t)
        for chunk in chunks:
            chunk.validate(channels)


def test_driving_is_physical(full):
    frozen = {a["entity_id"] for a in full.of("frozen_sensor") + full.of("throttle_brake_overlap")}  # pedals faulty
    for car, (t, v) in full.samples.items():
        speed, rpm = v["Speed"], v["RPM"]
        assert 300 < speed.max() < 350, car
        assert 10000 < rpm.max() <= 12500, car
        moving = speed > 1
        assert np.all(np.diff(v["nGear"][moving][v["Speed"][moving] > 150]) <= 1)  # no gear skipping upwards
        both = (v["Brake"] == 1) & (v["Throttle"] > 0)  # trail and left-foot braking: light throttle, briefly
        assert both.sum() > 50 and (car in frozen or 15 < v["Throttle"][both].min() < v["Throttle"][both].max() < 45)
        edges = np.diff(np.concatenate([[0], both.astype(int), [0]]))
        assert car in frozen or (t[np.flatnonzero(edges == -1) - 1] - t[edges[:-1] == 1]).max() < 1.7
        assert 0.05 < v["Brake"].mean() < 0.3 and 0.3 < (v["Throttle"] == 100).mean() < 0.8
        accel = np.diff(speed / 3.6) / np.diff(t)
        assert accel.max() < 15 and accel.min() > -60  # ~1.5 g forward; 6 g braking, harder only in a spin
        step, dt = np.hypot(np.diff(v["X"]), np.diff(v["Y"])), np.diff(t)
        assert np.all((step <= speed[1:] / 3.6 * dt * 1.2 + 10) | (dt > 1))  # no teleporting
        lap = v["LapNumber"]
        assert lap[0] == 1 and lap[-1] == 57 and np.all(np.diff(lap) >= 0)
    drs = np.concatenate([v["DRS"][v["LapNumber"] < 3] for _, v in full.samples.values()])
    assert drs.max() == 0
    assert max(v["DRS"].max() for _, v in full.samples.values()) == 1


def test_lap_timing_agrees_with_samples(race):
    hz = race.session.meta["hz"]
    gaps = {a["entity_id"]: (a["t_start"], a["t_end"]) for a in race.of("dropout")}
    for car, laps in race.laps.items():
        t, v = race.samples[car]
        assert laps[1]["LapStartTime"] == 0
        for n, row in laps.items():
            assert row["LapTime"] == pytest.approx(row["Time"] - row["LapStartTime"])
            assert row["Sector1Time"] + row["Sector2Time"] + row["Sector3Time"] == pytest.approx(row["LapTime"])
            assert min(row["Sector1Time"], row["Sector2Time"], row["Sector3Time"]) > 15
            if n > 1:
                assert row["LapStartTime"] == laps[n - 1]["Time"]
                first = int(np.argmax(v["LapNumber"] == n))
                lo, hi = gaps.get(car, (np.inf, np.inf))
                if not lo - 1 < row["LapStartTime"] < hi + 1:
                    dt = t[first] - row["LapStartTime"]
                    assert 0 <= dt < 1.5 / hz, (car, n)
                    assert v["Distance"][first] == pytest.approx(v["Speed"][first] / 3.6 * dt, abs=3.0)
        assert t[-1] <= laps[len(laps)]["Time"] < t[-1] + 1.5 / hz
    by_lap = {}
    for row in race.facts.laps:
        by_lap.setdefault(row["LapNumber"], []).append((row["Time"], row["Position"]))
    for rows in by_lap.values():
        assert [p for _, p in sorted(rows)] == list(range(1, len(rows) + 1))
    results = race.facts.results
    assert [r["Position"] for r in results] == list(range(1, 21)) and results[0]["Points"] == 25


def test_pit_stops_stop_the_car_and_change_tyres(race):
    for car, laps in race.laps.items():
        ins = [n for n, row in laps.items() if row["PitInTime"] is not None]
        assert len(ins) == 1, car
        n = ins[0]
        inlap, outlap = laps[n], laps[n + 1]
        assert outlap["PitOutTime"] is not None and inlap["PitInTime"] < outlap["PitOutTime"]
        assert outlap["Stint"] == inlap["Stint"] + 1 and outlap["Compound"] != inlap["Compound"]
        assert outlap["TyreLife"] == 1 and inlap["TyreLife"] == n
        assert not inlap["IsAccurate"] and not outlap["IsAccurate"]
        t, v = race.window(car, inlap["PitInTime"], outlap["PitOutTime"])
        assert v["Speed"].max() <= 80 + 6 * SPEED_SD  # the limiter, plus sensor noise
        stopped = t[v["Speed"] == 0]
        assert 1.5 <= stopped[-1] - stopped[0] <= 3.0
        assert np.all(v["nGear"][v["Speed"] == 0] == 0) and np.all(v["Brake"][v["Speed"] == 0] == 1)
        pit_lane = outlap["PitOutTime"] - inlap["PitInTime"]
        assert 20 < pit_lane < 40


def test_safety_car_slows_everyone_and_flags_the_laps(race):
    status = race.facts.track_status
    assert [s["Status"] for s in status] == ["1", "4", "1"]
    assert [s["Message"] for s in status] == ["AllClear", "SCDeployed", "AllClear"]
    t4, t1 = status[1]["Time"], status[2]["Time"]
    messages = [m["Message"] for m in race.facts.race_control_messages]
    assert "SAFETY CAR DEPLOYED" in messages
    for car, laps in race.laps.items():
        under = [row for row in laps.values() if t4 <= row["LapStartTime"] and row["Time"] <= t1 + 60]
        assert 2 <= len(under) <= 3, car
        racing = [row["LapTime"] for rows in race.laps.values() for row in rows.values()
                  if row["TrackStatus"] == "1" and row["IsAccurate"]]
        for row in under:
            assert "4" in row["TrackStatus"]
            assert row["LapTime"] > 1.25 * np.median(racing), (car, row["LapNumber"])
            _, v = race.lap_samples(car, row["LapNumber"])
            assert v["DRS"].max() == 0 and v["Speed"].max() < 0.7 * race.samples[car][1]["Speed"].max()


def test_every_kind_is_present_with_a_complete_record(race):
    truth = race.truth
    assert {a["kind"] for a in truth} == KINDS
    assert len(race.of("incident")) == 3 and len(race.of("power_loss")) == 1 and len(race.of("dropout")) == 1
    assert len(race.of("throttle_brake_overlap")) == 1
    assert 1 <= len(race.of("frozen_sensor")) <= 2 and len(race.of("slow_puncture")) == 1
    assert len({a["entity_id"] for a in truth}) == len(truth)  # one anomaly per car
    for a in truth:
        assert set(a) == {"kind", "entity_id", "t_start", "t_end", "lap", "channel", "details"}
        assert a["t_start"] < a["t_end"] and a["entity_id"] in race.samples
        row = race.laps[a["entity_id"]][a["lap"]]
        assert row["LapStartTime"] <= a["t_start"] < row["Time"]
        if a["kind"] in SPEED_KINDS:
            assert a["lap"] > 1 and row["TrackStatus"] == "1" and row["IsAccurate"], a


def test_dropout_is_a_gap_in_time(race):
    hz = race.session.meta["hz"]
    for a in race.of("dropout"):
        t, _ = race.samples[a["entity_id"]]
        assert not np.any((t >= a["t_start"]) & (t <= a["t_end"]))
        gaps = np.diff(t)
        big = np.flatnonzero(gaps > 3 / hz)
        assert len(big) == 1 and 5 <= gaps[big[0]] <= 15 + 2 / hz
        assert t[big[0]] < a["t_start"] and t[big[0] + 1] > a["t_end"]
    others = [np.diff(t).max() for car, (t, _) in race.samples.items()
              if car not in {a["entity_id"] for a in race.of("dropout")}]
    assert max(others) < 1.5 / hz


def test_frozen_channel_holds_while_the_car_moves(race):
    hz = race.session.meta["hz"]
    for a in race.of("frozen_sensor"):
        assert a["channel"] in {"RPM", "Throttle"} and 20 <= a["t_end"] - a["t_start"] <= 40
        t, v = race.window(a["entity_id"], a["t_start"], a["t_end"])
        assert len(t) >= 0.8 * hz * (a["t_end"] - a["t_start"])
        assert np.unique(v[a["channel"]]).size == 1
        assert v["Speed"].max() - v["Speed"].min() > 50
        _, before = race.window(a["entity_id"], a["t_start"] - 25, a["t_start"] - 0.01)
        assert np.unique(before[a["channel"]]).size > 3


def spins(race) -> list[dict]:
    return [a for a in race.of("incident") if a["details"]["min_speed_kmh"] < 30]


def test_one_incident_is_contact_the_car_keeps_over_half_its_speed_unbraked(race):
    [a] = [a for a in race.of("incident") if a not in spins(race)]
    d = a["details"]
    assert 0.5 < d["min_speed_kmh"] / d["speed_before_kmh"] < 0.75 and d["speed_before_kmh"] > 200
    t, v = race.window(a["entity_id"], a["t_start"], a["t_end"])
    low = int(np.argmin(v["Speed"]))
    drop = (v["Speed"][0] - v["Speed"][low]) / (t[low] - t[0])
    assert 60 < drop < 110 and np.all(v["Brake"][: low + 1] == 0)  # km/h per second, no brake
    assert 0 < d["time_lost_s"] < 3


def test_the_sticking_pedal_is_the_brake_on_at_full_throttle_down_the_straight(race):
    [a] = race.of("throttle_brake_overlap")
    t, v = race.window(a["entity_id"], a["t_start"], a["t_end"])
    assert 3 <= a["t_end"] - a["t_start"] <= 5 and np.all(v["Brake"] == 1) and np.all(v["Throttle"] == 100)
    row = race.laps[a["entity_id"]][a["lap"]]
    assert row["LapStartTime"] <= a["t_start"] and a["t_end"] < row["LapStartTime"] + 6.5


def test_incident_is_a_sudden_stop_where_nobody_brakes(race):
    assert len(spins(race)) == 2
    for a in spins(race):
        car, lap, d = a["entity_id"], a["lap"], a["details"]["distance_m"]
        t, v = race.window(car, a["t_start"] - 0.3, a["t_end"])
        v0 = v["Speed"][0]
        assert v0 > 150
        within_2s = v["Speed"][t <= t[0] + 2.3]
        assert within_2s.min() < 0.3 * v0
        assert v["Speed"].min() < 30 and v["Speed"].min() > 0
        pt, pv = race.lap_samples(car, lap - 1)
        near = np.argsort(np.abs(pv["Distance"] - d))[:2]
        assert np.all(pv["Brake"][near] == 0)
        if lap > 2:  # the lap before was a racing lap too: same place, same speed
            assert pv["Speed"][near].min() > 0.9 * v0
        laps = race.laps[car]
        assert laps[lap]["LapTime"] > laps[lap - 1]["LapTime"] + 5 or laps[lap - 1]["LapNumber"] == 1
        assert a["details"]["time_lost_s"] > 5


def test_power_loss_caps_top_speed_and_rpm(race):
    for a in race.of("power_loss"):
        car, lap = a["entity_id"], a["lap"]
        t, v = race.samples[car]
        before = v["Speed"][(v["LapNumber"] >= 2) & (v["LapNumber"] < lap)].max()
        after = v["Speed"][v["LapNumber"] >= lap]
        assert after.max() < 0.96 * before
        assert v["RPM"][v["LapNumber"] >= lap].max() <= a["details"]["rpm_cap"] + 6 * RPM_SD
        assert t[-1] <= a["t_end"] + 1 and a["t_end"] - a["t_start"] > 2 * 60  # lasts to the end, 3+ laps or more
        for other, (_, w) in race.samples.items():
            if other != car and other not in {x["entity_id"] for x in race.of("incident")}:
                late = w["Speed"][w["LapNumber"] >= lap].max()
                early = w["Speed"][(w["LapNumber"] >= 2) & (w["LapNumber"] < lap)].max()
                assert late > 0.97 * early, other


def test_slow_puncture_lap_times_drift_up_into_a_stop(race):
    for a in race.of("slow_puncture"):
        car, laps = a["entity_id"], race.laps[a["entity_id"]]
        pit = a["details"]["pit_lap"]
        assert laps[pit]["PitInTime"] == pytest.approx(a["t_end"])
        deltas = []
        for n in range(a["lap"], pit):
            field = [r["LapTime"] for d, rs in race.laps.items() if d != car
                     for r in [rs[n]] if r["IsAccurate"] and r["TrackStatus"] == "1"]
            deltas.append(laps[n]["LapTime"] - np.median(field))
        assert len(deltas) >= 2 and np.all(np.diff(deltas) > 0.2), deltas


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), laps=st.integers(6, 12))
def test_any_seed_makes_a_complete_valid_race(seed, laps):
    race = SyntheticRace(seed=seed, laps=laps)
    assert {a["kind"] for a in race.ground_truth()} == KINDS
    channels = race.session().channel_map()
    for _, t, values in race.samples():
        assert np.all(np.diff(t) > 0)
        for name, col in values.items():
            assert np.all(np.isfinite(col)) and channels[name].min <= col.min() and col.max() <= channels[name].max


@pytest.mark.parametrize("laps", [1, 2, 3, 4, 5])
def test_short_races_still_generate(laps):
    race = SyntheticRace(laps=laps, cars=5)
    samples = list(race.samples())
    assert len(samples) == 5 and all(v["LapNumber"][-1] == laps for _, _, v in samples)
    assert race.ground_truth()


def test_moving_channels_carry_sensor_noise_and_incidents_start_without_pedals(race):
    for a in race.truth:
        t, v = race.window(a["entity_id"], a["t_start"] - 20, a["t_start"] - 5)
        if a["kind"] == "dropout" or not len(t):
            continue
        moving = v["Speed"] > 1
        assert np.all(np.diff(v["Speed"][moving]) != 0) and np.all(np.diff(v["RPM"]) != 0)
    for a in (a for a in race.truth if a["kind"] == "incident"):
        t, v = race.window(a["entity_id"], a["t_start"], a["t_start"] + 0.7)
        assert len(t) >= 2 and np.all(v["Brake"] == 0) and np.all(v["Throttle"] == 0)
        assert v["Speed"][-1] < v["Speed"][0] - 20
