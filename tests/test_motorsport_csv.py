"""Car telemetry from a file through ``--profile motorsport``: columns found by name or ``--map``, FastF1's
quirks absorbed, the car detectors run, nothing reported on clean laps, planted faults found and graded.

The laps come from the simulator exported like a FastF1 car/position export (``simulator.car_csv``):
~4 Hz, whole-number speeds, True/False brake sometimes a sample late, DRS codes, throttle 104, holes."""
from __future__ import annotations

import numpy as np
import psycopg2
import pytest

from apexflow.errors import ContractError
from apexflow.simulator import SyntheticRace, car_csv
from apexflow.sources.csv_source import FileSource
from apexflow_local.cli import main

CARS = ("SAI", "PIA", "GAS", "RIC")  # clean cars of seed 4: 5 racing laps each, 20 laps


@pytest.fixture(scope="module")
def laps() -> dict:
    race = SyntheticRace(seed=4, laps=8)
    chosen = {car: laps for car, laps in car_csv.clean_laps(race).items() if car in CARS}
    assert sum(map(len, chosen.values())) == 20
    return car_csv.frames(race, chosen)


def ingest(path, dsn, monkeypatch, *options, session="laps") -> tuple[str, list[tuple]]:
    """``apexflow ingest csv`` in local mode; (the session's profile, its detections)."""
    monkeypatch.setenv("DATABASE_URL", dsn)
    assert main(["ingest", "csv", str(path), "--entity-col", "Driver", "--time-col", "SessionTime",
                 "--session-id", session, *options]) == 0
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT profile FROM sessions WHERE session_id = %s", (session,))
        [(profile,)] = cur.fetchall()
        cur.execute("SELECT entity_id, kind, severity, score, t_start, detector, evidence FROM detections "
                    "WHERE session_id = %s ORDER BY t_start", (session,))
        return profile, cur.fetchall()


def test_twenty_clean_laps_report_nothing_and_the_session_says_its_profile(laps, tmp_path, dsn, monkeypatch, capsys):
    path = car_csv.write(tmp_path / "laps.csv", laps)
    profile, found = ingest(path, dsn, monkeypatch, "--profile", "motorsport")
    assert profile == "motorsport" and found == []
    assert "motorsport profile" in capsys.readouterr().out


def test_without_distance_and_laps_and_under_other_names_still_nothing(laps, tmp_path):
    names = {"Speed": "vCar", "RPM": "nEngine", "Throttle": "aps", "nGear": "gear"}
    path = car_csv.write(tmp_path / "raw.csv", laps, names=names, columns=("SessionTime", *car_csv.CAR))
    src = FileSource(path, "Driver", "SessionTime", profile="motorsport")
    assert [c.name for c in src.session().channels] == ["Speed", "RPM", "nGear", "Throttle", "Brake", "DRS"]
    assert _detections(src) == []


def test_a_sticking_pedal_and_an_unbraked_120_kmh_loss_are_found_and_graded(laps, tmp_path, dsn, monkeypatch):
    planted = {car: {k: v.copy() for k, v in cols.items()} for car, cols in laps.items()}
    sticking_at = _stick_brake(planted["SAI"], seconds=3.0)
    loss_at = _lose_speed(planted["GAS"], kmh=120.0, seconds=1.5)
    path = car_csv.write(tmp_path / "planted.csv", planted)
    _, found = ingest(path, dsn, monkeypatch, "--profile", "motorsport")
    assert sorted((car, kind) for car, kind, *_ in found) == [("GAS", "incident"), ("SAI", "throttle_brake_overlap")]
    by_kind = {kind: (severity, score, t, evidence) for _, kind, severity, score, t, _, evidence in found}
    severity, score, t, evidence = by_kind["incident"]
    assert severity == "warning" and abs(t - loss_at) < 0.5
    assert 100 <= evidence["loss"] <= 135 and evidence["kept_share"] > 0.5
    severity, score, t, evidence = by_kind["throttle_brake_overlap"]
    assert evidence["why"] == "sticking pedal" and abs(t - sticking_at) < 0.5


def test_auto_picks_the_car_set_for_car_columns_and_the_generic_set_otherwise(laps, tmp_path, dsn, monkeypatch,
                                                                             capsys):
    path = car_csv.write(tmp_path / "car.csv", {"SAI": laps["SAI"]}, columns=("SessionTime", "Speed", "RPM"))
    rows = path.read_text().splitlines()
    path.write_text("\n".join([rows[0], *(r for r in rows[1:] if ",," not in r and not r.endswith(","))]) + "\n")
    profile, found = ingest(path, dsn, monkeypatch)  # a speed and an engine speed: not enough to call it a car
    assert profile == "generic" and {d[5] for d in found} <= {"novelty", "stuck", "gaps", "out_of_range"}
    assert "generic profile (auto: no car telemetry recognised" in capsys.readouterr().out
    path = car_csv.write(tmp_path / "laps.csv", laps)
    profile, found = ingest(path, dsn, monkeypatch, session="car")  # no --profile: the columns are a car's
    assert profile == "motorsport" and found == []
    assert "motorsport profile (auto: the columns carry a car's" in capsys.readouterr().out


def _detections(src: FileSource) -> list:
    from apexflow.chunk import split
    from apexflow.pipeline.analyze import detect

    session = src.session()
    channels = session.channel_map()
    found = {}
    for entity, t, values in src.samples():
        chunks = split(session.session_id, entity, t, values, {k: channels[k].unit for k in values})
        rows, _ = detect({(session.session_id, entity): chunks}, {}, {session.session_id: (session.profile, channels)},
                         {})
        found.update(rows)
    return list(found.values())


def _straight(cols: dict, seconds: float) -> float:
    """The start of the first stretch of car rows at full throttle for ``seconds`` plus 4 s, after 60 s."""
    car = np.isfinite(cols["Speed"])
    t, full = cols["SessionTime"][car], cols["Throttle"][car] >= 100
    since = np.maximum.accumulate(np.where(~full, t, -np.inf))
    k = np.flatnonzero(full & (t - since >= seconds + 4.0) & (t > t[0] + 60.0))[0]
    return float(since[k] + 2.0)


def _stick_brake(cols: dict, seconds: float) -> float:
    t0 = _straight(cols, seconds)
    on = np.isfinite(cols["Brake"]) & (cols["SessionTime"] >= t0) & (cols["SessionTime"] < t0 + seconds)
    cols["Brake"][on] = 1.0
    return float(cols["SessionTime"][on][0])


def _lose_speed(cols: dict, kmh: float, seconds: float) -> float:
    """``kmh`` lost in ``seconds`` on a straight, brake and throttle off, then 30 km/h per second back."""
    t0 = _straight(cols, seconds)
    t, car = cols["SessionTime"], np.isfinite(cols["Speed"])
    v0 = float(np.interp(t0, t[car], cols["Speed"][car]))
    dt = t - t0
    target = np.where(dt <= seconds, v0 - kmh * dt / seconds, v0 - kmh + 30.0 * (dt - seconds))
    hit = car & (dt >= 0) & (target < cols["Speed"])
    cols["Speed"][hit] = np.round(target[hit])
    cols["Throttle"][hit & (dt <= seconds)] = 0.0
    cols["Brake"][hit] = 0.0
    return float(t[car & (dt < 0)][-1])


def test_columns_by_recognised_name_or_map_and_clear_errors(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("car,time,speed_kph,Engine RPM,pBrake [bar],DRS,lap,note\n"
                    "A,0.0,300,11000,0,12,1,x\nA,0.25,301,11010,80,8,1,y\nA,0.5,290,11020,2,0,2,z\n")
    src = FileSource(path, "car", "time", profile="motorsport", mapping={"Engine RPM": "rpm"})
    assert [c.name for c in src.session().channels] == ["Speed", "RPM", "Brake", "DRS", "Distance", "LapNumber"]
    [(_, t, v)] = list(src.samples())
    assert v["Brake"].tolist() == [0, 1, 0] and v["DRS"].tolist() == [1, 0, 0]  # pressure and codes
    assert v["Distance"][2] == 0 and v["Distance"][1] == pytest.approx(301 / 3.6 * 0.25)
    assert src.session().meta["ignored_columns"] == ["note"]
    for mapping, message in [({"vcar": "Speed"}, "--map vcar=Speed: there is no column 'vcar'"),
                             ({"note": "Velocity"}, "'Velocity' is not a motorsport channel; use one of Speed"),
                             ({"note": "Speed", "Engine RPM": "Speed"}, "--map gives Speed twice"),
                             ({"time": "Speed"}, "'time' is the entity or time column")]:
        with pytest.raises(ContractError, match=message):
            FileSource(path, "car", "time", profile="motorsport", mapping=mapping).session()
    with pytest.raises(ContractError, match="needs --profile motorsport"):
        FileSource(path, "car", "time", profile="generic", mapping={"speed_kph": "Speed"})
    assert FileSource(path, "car", "time", mapping={"speed_kph": "Speed"}).session().profile == "motorsport"
    both = tmp_path / "two.csv"
    both.write_text("car,t,Speed,vCar\nA,0,1,1\n")
    with pytest.raises(ContractError, match="columns 'Speed' and 'vCar' both look like Speed; pick one"):
        FileSource(both, "car", "t", profile="motorsport").session()
    metric = tmp_path / "metric.csv"
    metric.write_text("car,t,speed [m/s]\nA,0,50\nA,0.2,\nA,0.4,70\nA,1.2,\nA,2,80\n")
    [(_, t, v)] = list(FileSource(metric, "car", "t", profile="motorsport").samples())
    assert t.tolist() == [0, 0.2, 0.4, 2] and v["Speed"].tolist() == pytest.approx([180, 216, 252, 288])  # km/h
    # the empty cell between readings 0.4 s apart is interpolated; the one inside a 1.6 s hole is dropped
    none = tmp_path / "none.csv"
    none.write_text("car,t,rpm\nA,0,1\n")
    with pytest.raises(ContractError, match="needs the car's speed: name a column with --map COLUMN=Speed"):
        FileSource(none, "car", "t", profile="motorsport").session()


def test_map_options_on_the_command_line_are_checked(tmp_path, capsys):
    path = tmp_path / "x.csv"
    path.write_text("car,t,v\nA,0,1\n")
    for options, message in [(["--map", "v"], "--map takes COLUMN=CHANNEL, got 'v'"),
                             (["--map", "v=Speed,v=RPM"], "--map: 'v' is given twice"),
                             (["--map", "v=Speed", "--profile", "generic"],
                              "--map names car channels: it needs --profile motorsport")]:
        assert main(["ingest", "csv", str(path), "--entity-col", "car", "--time-col", "t", *options]) == 2
        assert message in capsys.readouterr().err
