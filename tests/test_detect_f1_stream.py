"""F1 detector set on a short synthetic race, plus the smaller pieces on hand-made chunks."""
from __future__ import annotations

import json
from datetime import UTC

import numpy as np
import pytest

from apexflow.chunk import Chunk
from apexflow.contract import F1_CHANNELS
from apexflow.detect import DETECTORS, GENERIC, detectors_for, incident
from apexflow.detect.base import Context
from apexflow.detect.field import MIN_SAMPLES, Profile
from apexflow.detect.field import bins as field_bins


def test_detector_sets_by_profile_and_the_profile_of_f1_sources():
    assert detectors_for("motorsport") is DETECTORS
    assert detectors_for("generic") is GENERIC and detectors_for(None) is GENERIC
    from datetime import datetime

    from apexflow.contract import Session
    from apexflow.errors import ContractError

    def session(source, **kw):
        return Session("s", source, datetime(2024, 1, 1, tzinfo=UTC), (), (), **kw)

    assert session("fastf1").profile == session("synthetic").profile == "motorsport"
    assert session("csv").profile == "generic" and session("csv", profile="motorsport").profile == "motorsport"
    with pytest.raises(ContractError, match="profile 'car' is not one of"):
        session("csv", profile="car")
    assert {"incident", "frozen_sensor", "dropout"} <= set(DETECTORS)  # the demo's kinds stay


@pytest.mark.slow
def test_short_race_every_injected_kind_found_and_no_false_alarm():
    from benchmarks.detection_quality import evaluate, run_race

    result = evaluate([run_race(1, 10)])
    for kind, row in result["kinds"].items():
        assert row["found"] == row["injected"] and row["false_alarms"] == 0, (kind, row)
    assert set(result["kinds"]) == {"dropout", "frozen_sensor", "incident", "power_loss", "slow_puncture",
                                    "throttle_brake_overlap"}
    assert result["false_alarms_on_clean_laps"] == []


def car_chunk(speed, brake=None, entity="car") -> Chunk:
    """A car's chunk at 4 Hz from a speed trace (km/h), distance integrated from it."""
    speed = np.asarray(speed, dtype=np.float32)
    t = np.arange(len(speed)) * 0.25
    distance = np.concatenate([[0.0], np.cumsum(speed[:-1] / 3.6 * 0.25)])
    brake = np.zeros(len(speed)) if brake is None else brake
    values = {"Speed": speed, "Brake": np.asarray(brake, np.float32), "Distance": distance.astype(np.float32)}
    return Chunk("s", entity, 0, t, values, {"Speed": "km/h", "Brake": "bool", "Distance": "m"})


def spin(at: int = 40, n: int = 80) -> Chunk:
    """Flat out at 250 km/h, then 250 -> 40 km/h in two seconds with the brake off, on the car's first pass."""
    speed = np.full(n, 250.0)
    speed[at:at + 8] = np.linspace(250, 40, 8)
    speed[at + 8:] = 40
    return car_chunk(speed)


def field_where(chunk: Chunk, braking: float, speed: float, at: int = 40) -> Profile:
    """A field that passed the bins of the spin 20 times each, braking on a share of them, at this speed."""
    spun = np.unique(field_bins(chunk.values["Distance"][at:at + 9])).tolist()
    return Profile.from_rows([(b, 20.0, 20.0 * braking, 20.0 * speed * 100) for b in spun])  # speeds in 0.01 km/h


def incidents(chunk: Chunk, field: Profile | None) -> list:
    ctx = Context("s", chunk.entity_id, {c.name: c for c in F1_CHANNELS}, field)
    return [d for d in incident.run(chunk, {}, ctx) if d.kind == "incident"]


def test_incident_on_a_first_pass_is_judged_against_the_field():
    c = spin()
    alone = incidents(c, None)  # no history of its own, no field: nobody brakes there
    assert alone and alone[0].evidence["field_speed"] is None
    assert incidents(c, field_where(c, braking=0.9, speed=150.0)) == []  # where the field brakes: a braking zone
    found = incidents(c, field_where(c, braking=0.0, speed=260.0))  # where the field is flat out
    assert found and found[0].evidence["field_speed"] == 260.0
    assert incidents(c, field_where(c, braking=0.0, speed=70.0)) == []  # 40 km/h is not half the field's pace there


def test_profile_sums_add_in_any_order_survive_the_state_and_unknown_bins_say_so():
    a, b = car_chunk(np.full(400, 36.0), brake=np.ones(400), entity="A"), spin()
    one, other, part = Profile(), Profile(), Profile()
    one.add_chunk(a)
    one.add_chunk(b)
    other.add_chunk(b)
    part.add_chunk(a)
    other.merge(part)
    assert np.array_equal(one.sums, other.sums)  # whole 0.01 km/h: exact in any order
    assert Profile.from_rows(one.rows()).rows() == one.rows()
    state: dict = {}
    one.save(state)
    assert np.array_equal(Profile.from_state(json.loads(json.dumps(state))).sums, one.sums)
    first_bin = [c.values["Distance"] < 50 for c in (a, b)]
    speeds = np.concatenate([c.values["Speed"][m] for c, m in zip((a, b), first_bin)])
    brakes = np.concatenate([c.values["Brake"][m] for c, m in zip((a, b), first_bin)])
    assert one.at(0) == pytest.approx((brakes.mean(), speeds.mean()))  # the first 50 m: both cars
    assert one.at(10_000) is None
    assert Profile.from_rows([(3, MIN_SAMPLES - 1.0, 0.0, 10_000.0)]).at(3) is None


def test_incident_is_measured_against_the_cars_own_usual_speed_at_that_distance():
    """A car that arrives at 250 km/h where it usually goes 90, and leaves at 80, has not spun."""
    usual = (np.full(12, 90.0), 1000.0 + 3.0 * np.arange(12))  # twelve samples in one 50 m bin, no brake
    overspeed = (np.r_[np.full(10, 250.0), np.linspace(250, 80, 5), np.full(20, 80.0)],
                 np.r_[780.0 + 20.0 * np.arange(10), 1000.0 + 5.0 * np.arange(25)])

    def incidents_of(*parts):
        speed, distance = (np.concatenate(x).astype(np.float32) for x in zip(*parts))
        values = {"Speed": speed, "Brake": np.zeros(len(speed), np.float32), "Distance": distance}
        c = Chunk("s", "car", 0, np.arange(len(speed)) * 0.25, values,
                  {"Speed": "km/h", "Brake": "bool", "Distance": "m"})
        return incidents(c, None)

    alone = incidents_of(overspeed)
    assert alone and alone[0].evidence["own_speed"] is None  # nothing known of this place: 80 is under half of 250
    assert incidents_of(usual, overspeed) == []  # 80 is not under half of its usual 90 there


def test_an_altitude_that_holds_on_a_flat_straight_is_no_frozen_sensor_a_held_rpm_is():
    from apexflow.detect import frozen

    t = np.arange(0, 60, 0.25)
    rpm = 10000 + 500 * np.sin(t)
    rpm[(t >= 30) & (t < 45)] = rpm[t >= 30][0]
    values = {"Speed": 250 + 20 * np.sin(t / 3), "RPM": rpm, "X": 80 * t, "Z": np.full(len(t), 180.0)}
    c = Chunk("s", "car", 0, t, {k: v.astype(np.float32) for k, v in values.items()},
              {c.name: c.unit for c in F1_CHANNELS if c.name in values})
    found = frozen.run(c, {}, Context("s", "car", {c.name: c for c in F1_CHANNELS}))
    assert {(d.channel, d.detection_id) for d in found} == {("RPM", found[0].detection_id)}  # flagged, then closed
