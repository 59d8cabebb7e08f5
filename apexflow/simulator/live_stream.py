"""A synthetic race as the live sources send it: F1 live-timing lines and OpenF1 MQTT messages.

``f1_lines(race)`` gives the lines FastF1's live-timing client records (``str([topic, data, utc])``:
``CarData.z`` / ``Position.z`` compressed once a second, ``TimingData``, ``TimingAppData``, ``TrackStatus``,
``RaceControlMessages``, ``SessionInfo``, ``DriverList``, ``SessionStatus``, ``SessionData`` (whose status series
FastF1's reader takes the start from), ``Heartbeat``, ``LapCount``);
``openf1_messages(race)`` the ``(topic, document)`` pairs OpenF1's broker publishes (``v1/car_data``,
``v1/location``, ``v1/laps``, ``v1/stints``, ``v1/pit``, ``v1/race_control``, ``v1/sessions``, ``v1/meetings``,
``v1/drivers``, ``v1/weather``), each with ``_key`` and ``_id``. Both are in time order, values rounded as
the sources round them (whole km/h and rpm, positions in 1/10 m). ``write``/``read`` keep them as gzip
JSON Lines: ``python -m apexflow.simulator.live_stream OUT_DIR [--seed 5 --laps 4 --cars 4]``.
"""
from __future__ import annotations

import argparse
import gzip
import json
from datetime import timedelta
from itertools import groupby
from pathlib import Path

from apexflow.simulator.race import START_TIME, SyntheticRace
from apexflow.sources.live.f1 import deflate

SESSION_KEY, MEETING_KEY = 9999, 1999
PRE_S = 60.0  # session info and drivers this long before the start
BATCH_S = 1.0  # the F1 stream sends car data and positions about once a second


def _iso(t: float, digits: int = 3) -> str:
    """The stream's time stamps: ``2024-07-07T14:00:01.123Z`` (entries carry 7 decimals)."""
    text = (START_TIME + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text[: 20 + digits] if digits <= 6 else text + "0" * (digits - 6)) + "Z"


def _car_rows(race: SyntheticRace):
    """(t, car number, {channel: rounded value}) of every sample, in time order."""
    numbers = {c.code: c.number for c in race.plan.cars}
    rows = []
    for code, t, v in race.samples():
        for i in range(len(t)):
            rows.append((float(t[i]), numbers[code], {k: float(v[k][i]) for k in v}))
    return sorted(rows, key=lambda r: (r[0], r[1]))


def _end(race: SyntheticRace, rows) -> float:
    return max(rows[-1][0], max(lap["Time"] for lap in race.facts().laps))


def f1_lines(race: SyntheticRace) -> list[str]:
    facts, rows = race.facts(), _car_rows(race)
    number = {c.code: c.number for c in race.plan.cars}
    msgs: list[tuple[float, str, object]] = []
    local = START_TIME + timedelta(hours=2)
    msgs.append((-PRE_S, "SessionInfo", {
        "Meeting": {"Key": MEETING_KEY, "Name": "Synthetic Grand Prix", "Location": "Simulator",
                    "Country": {"Name": "Nowhere"}},
        "Key": SESSION_KEY, "Type": "Race", "Name": "Race", "StartDate": local.strftime("%Y-%m-%dT%H:%M:%S"),
        "GmtOffset": "02:00:00", "Path": f"{START_TIME.year}/synthetic/race/"}))
    msgs.append((-PRE_S + 1, "DriverList", {c.number: {"RacingNumber": c.number, "Tla": c.code, "FullName": c.name,
                                                       "TeamName": c.team} for c in race.plan.cars}))
    msgs.append((0.0, "SessionData", {"StatusSeries": {"0": {"Utc": _iso(0.0), "SessionStatus": "Started"}}}))
    msgs.append((0.0, "SessionStatus", {"Status": "Started"}))
    for r in facts.track_status:
        msgs.append((r["Time"], "TrackStatus", {"Status": r["Status"], "Message": r["Message"]}))
    for m in facts.race_control_messages:
        msg = {k: v for k, v in m.items() if k != "Time" and v is not None}
        msgs.append((m["Time"], "RaceControlMessages", {"Messages": [{"Utc": _iso(m["Time"]), **msg}]}))
    previous: dict[str, dict] = {}
    for lap in facts.laps:
        num, n = number[lap["Driver"]], lap["LapNumber"]
        start, end = lap["LapStartTime"], lap["Time"]
        prev = previous.get(num)
        if prev is None or prev["Stint"] != lap["Stint"]:
            msgs.append((start if prev is None else prev["Time"], "TimingAppData", {"Lines": {num: {"Stints": {
                str(lap["Stint"] - 1): {"Compound": lap["Compound"], "New": "true", "TotalLaps": 0}}}}}))
        msgs.append((end - 0.001, "TimingAppData", {"Lines": {num: {"Stints": {
            str(lap["Stint"] - 1): {"TotalLaps": lap["TyreLife"]}}}}}))
        s1 = start + lap["Sector1Time"]
        s2 = s1 + lap["Sector2Time"]
        msgs.append((s1, "TimingData", {"Lines": {num: {"Sectors": {"0": {"Value": f"{lap['Sector1Time']:.3f}"}}}}}))
        msgs.append((s2, "TimingData", {"Lines": {num: {"Sectors": {"1": {"Value": f"{lap['Sector2Time']:.3f}"}}}}}))
        minutes, seconds = divmod(lap["LapTime"], 60)
        msgs.append((end, "TimingData", {"Lines": {num: {
            "NumberOfLaps": n, "LastLapTime": {"Value": f"{int(minutes)}:{seconds:06.3f}"},
            "Sectors": {"2": {"Value": f"{lap['Sector3Time']:.3f}"}}}}}))
        if lap["PitInTime"] is not None:
            msgs.append((lap["PitInTime"], "TimingData", {"Lines": {num: {"InPit": True}}}))
        if lap["PitOutTime"] is not None:
            msgs.append((lap["PitOutTime"], "TimingData", {"Lines": {num: {"InPit": False, "PitOut": True}}}))
        previous[num] = lap
    leader = sorted({lap["Time"] for lap in facts.laps if lap["Position"] == 1})
    for i, t in enumerate(leader[:-1]):
        msgs.append((t, "LapCount", {"CurrentLap": i + 2, "TotalLaps": race.laps}))
    end = _end(race, rows)
    for t in range(0, int(end), 10):
        msgs.append((float(t), "Heartbeat", {"Utc": _iso(t, 7)}))
    msgs += [(end + 1.0, "SessionStatus", {"Status": "Finished"}),
             (end + 5.0, "SessionStatus", {"Status": "Finalised"})]
    for w, group in groupby(rows, key=lambda r: r[0] // BATCH_S):
        batch = list(group)
        sent = (w + 1) * BATCH_S
        msgs.append((sent, "CarData.z", deflate({"Entries": [{"Utc": _iso(t, 7), "Cars": {num: {"Channels": {
            "0": round(v["RPM"]), "2": round(v["Speed"]), "3": round(v["nGear"]), "4": round(v["Throttle"]),
            "5": 100 if v["Brake"] else 0, "45": 12 if v["DRS"] else 0}}}} for t, num, v in batch]})))
        msgs.append((sent, "Position.z", deflate({"Position": [{"Timestamp": _iso(t, 7), "Entries": {num: {
            "Status": "OnTrack", "X": round(v["X"] * 10), "Y": round(v["Y"] * 10), "Z": round(v["Z"] * 10)}}}
            for t, num, v in batch]})))
    msgs.sort(key=lambda m: m[0])
    return [str([topic, data, _iso(t)]) for t, topic, data in msgs]


def openf1_messages(race: SyntheticRace) -> list[tuple[str, dict]]:
    facts, rows = race.facts(), _car_rows(race)
    number = {c.code: int(c.number) for c in race.plan.cars}
    keys = {"session_key": SESSION_KEY, "meeting_key": MEETING_KEY}
    end = _end(race, rows)

    def date(t: float) -> str:
        return (START_TIME + timedelta(seconds=t)).isoformat(timespec="microseconds")

    msgs: list[tuple[float, str, dict]] = [
        (-PRE_S, "v1/meetings", {"meeting_key": MEETING_KEY, "meeting_name": "Synthetic Grand Prix",
                                 "year": START_TIME.year, "_key": str(MEETING_KEY)}),
        (-PRE_S, "v1/sessions", {**keys, "session_name": "Race", "session_type": "Race", "year": START_TIME.year,
                                 "date_start": date(0.0), "date_end": date(end + 2.0), "gmt_offset": "02:00:00",
                                 "location": "Simulator", "country_name": "Nowhere", "_key": str(SESSION_KEY)}),
    ]
    for c in race.plan.cars:
        msgs.append((-PRE_S + 1, "v1/drivers", {**keys, "driver_number": int(c.number), "name_acronym": c.code,
                                                "full_name": c.name, "team_name": c.team,
                                                "_key": f"{c.number}"}))
    for t, num, v in rows:
        ms = int(round((START_TIME.timestamp() + t) * 1000))
        msgs.append((t, "v1/car_data", {**keys, "date": date(t), "driver_number": int(num), "speed": round(v["Speed"]),
                                        "rpm": round(v["RPM"]), "n_gear": round(v["nGear"]),
                                        "throttle": round(v["Throttle"]), "brake": 100 if v["Brake"] else 0,
                                        "drs": 12 if v["DRS"] else 0, "_key": f"{ms}_{num}"}))
        msgs.append((t, "v1/location", {**keys, "date": date(t), "driver_number": int(num), "x": round(v["X"] * 10),
                                        "y": round(v["Y"] * 10), "z": round(v["Z"] * 10), "_key": f"{ms}_{num}"}))
    stints: dict[tuple[int, int], dict] = {}
    for lap in facts.laps:
        num, n = number[lap["Driver"]], lap["LapNumber"]
        base = {**keys, "driver_number": num, "lap_number": n, "date_start": date(lap["LapStartTime"]),
                "is_pit_out_lap": lap["PitOutTime"] is not None, "_key": f"{num}_{n}"}
        msgs.append((lap["LapStartTime"], "v1/laps", {**base, "lap_duration": None}))
        msgs.append((lap["Time"], "v1/laps", {**base, "lap_duration": round(lap["LapTime"], 3),
                                              "duration_sector_1": round(lap["Sector1Time"], 3),
                                              "duration_sector_2": round(lap["Sector2Time"], 3),
                                              "duration_sector_3": round(lap["Sector3Time"], 3)}))
        s = stints.setdefault((num, lap["Stint"]), {**keys, "driver_number": num, "stint_number": lap["Stint"],
                                                    "compound": lap["Compound"], "lap_start": n,
                                                    "tyre_age_at_start": lap["TyreLife"] - 1,
                                                    "_key": f"{num}_{lap['Stint']}"})
        msgs.append((lap["LapStartTime"] - 0.001, "v1/stints", {**s, "lap_end": n}))
        if lap["PitInTime"] is not None:
            msgs.append((lap["PitInTime"], "v1/pit", {**keys, "date": date(lap["PitInTime"]), "driver_number": num,
                                                      "lap_number": n, "pit_duration": 22.0, "_key": f"{num}_{n}"}))
    for m in facts.race_control_messages:
        msgs.append((m["Time"], "v1/race_control", {
            **keys, "date": date(m["Time"]), "category": m["Category"], "flag": m["Flag"], "scope": m["Scope"],
            "sector": m["Sector"], "lap_number": m["Lap"], "message": m["Message"],
            "driver_number": int(m["RacingNumber"]) if m["RacingNumber"] else None, "_key": f"rc_{m['Time']:.3f}"}))
    msgs.append((end + 3.0, "v1/weather", {**keys, "date": date(end + 3.0), "air_temperature": 25.0,
                                           "_key": f"w_{end:.0f}"}))
    msgs.sort(key=lambda m: m[0])
    first_id = int(START_TIME.timestamp() * 1000)
    return [(topic, {**doc, "_id": first_id + i}) for i, (_, topic, doc) in enumerate(msgs)]


def write(path: Path, items) -> None:
    with gzip.open(path, "wt") as fh:
        for item in items:
            fh.write(json.dumps(item, separators=(",", ":")) + "\n")


def read(path: Path) -> list:
    with gzip.open(path, "rt") as fh:
        return [json.loads(line) for line in fh]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--laps", type=int, default=4)
    p.add_argument("--cars", type=int, default=4)
    a = p.parse_args(argv)
    race = SyntheticRace(seed=a.seed, laps=a.laps, cars=a.cars)
    a.out.mkdir(parents=True, exist_ok=True)
    write(a.out / "f1.jsonl.gz", f1_lines(race))
    write(a.out / "openf1.jsonl.gz", openf1_messages(race))


if __name__ == "__main__":
    main()
