"""F1 live timing: every message kind the adapter consumes, and a recorded stream followed end to end."""
import json
from pathlib import Path

import psycopg2
import pytest

from apexflow.simulator.live_stream import read
from apexflow.sources.live import events as ev
from apexflow.sources.live.f1 import IGNORED, TOPICS, F1LiveTiming, deflate, inflate, parse_line, utc_seconds
from apexflow_local import live_cli

DATA = Path(__file__).parent / "data" / "live"
T0 = "2025-05-04T20:00:00.000Z"  # the session's scheduled start in UTC (16:00 local, GMT-4)


def kinds(events):
    return [type(e).__name__ for e in events if not isinstance(e, ev.Tick)]


def started(token=True):
    a = F1LiveTiming(token=token)
    a.handle("SessionInfo", {"Meeting": {"Name": "Miami Grand Prix", "Location": "Miami", "Key": 1},
                             "Name": "Race", "StartDate": "2025-05-04T16:00:00", "GmtOffset": "-04:00:00", "Key": 2},
             "2025-05-04T19:00:00.000Z")
    a.handle("DriverList", {"1": {"Tla": "VER", "FullName": "Max Verstappen", "TeamName": "Red Bull Racing"}}, "")
    a.handle("SessionStatus", {"Status": "Started"}, T0)
    return a


def test_session_info_names_the_session_as_the_fastf1_source_and_starts_it_in_utc():
    [tick, known] = F1LiveTiming().handle("SessionInfo", {
        "Meeting": {"Name": "Miami Grand Prix"}, "Name": "Sprint", "StartDate": "2025-05-03T12:00:00",
        "GmtOffset": "-04:00:00"}, "2025-05-03T15:00:00.000Z")
    assert known.session_id == "f1-2025-miami-grand-prix-s"
    assert known.start_time.isoformat() == "2025-05-03T16:00:00+00:00"
    assert tick.utc == utc_seconds("2025-05-03T15:00:00Z")


def test_every_consumed_topic_maps_and_ignored_ones_only_move_the_clock():
    a = started()
    t = "2025-05-04T20:01:00.000Z"
    car = deflate({"Entries": [{"Utc": "2025-05-04T20:00:59.1234567Z", "Cars": {"1": {"Channels": {
        "0": 11000, "2": 301, "3": 8, "4": 104, "5": 100, "45": 12}}}}]})
    [sample] = [e for e in a.handle("CarData.z", car, t) if isinstance(e, ev.CarSample)]
    assert sample.entity_id == "VER" and sample.utc == pytest.approx(utc_seconds("2025-05-04T20:00:59.1234567Z"))
    assert sample.values == {"RPM": 11000, "Speed": 301, "nGear": 8, "Throttle": 100, "Brake": 1, "DRS": 1}
    pos = deflate({"Position": [{"Timestamp": "2025-05-04T20:00:59.2Z",
                                 "Entries": {"1": {"Status": "OnTrack", "X": -1234, "Y": 50, "Z": 7}}}]})
    [p] = [e for e in a.handle("Position.z", pos, t) if isinstance(e, ev.Position)]
    assert (p.entity_id, p.x, p.y, p.z) == ("VER", -123.4, 5.0, 0.7)
    a.handle("TimingAppData", {"Lines": {"1": {"Stints": [{"Compound": "MEDIUM", "New": "true", "TotalLaps": 1}]}}}, t)
    a.handle("TimingData", {"Lines": {"1": {"Sectors": {"0": {"Value": "30.100"}}}}}, t)
    a.handle("TimingData", {"Lines": {"1": {"InPit": True}}}, "2025-05-04T20:01:20.000Z")
    [lap] = [e for e in a.handle("TimingData", {"Lines": {"1": {
        "NumberOfLaps": 1, "LastLapTime": {"Value": "1:32.500"}, "Sectors": {"2": {"Value": "31.000"}},
        "Speeds": {"ST": {"Value": "320"}}}}}, "2025-05-04T20:01:32.500Z") if isinstance(e, ev.LapDone)]
    assert (lap.entity_id, lap.lap_number) == ("VER", 1)
    assert lap.values == {"Sector1Time": 30.1, "Sector3Time": 31.0, "SpeedST": 320.0, "LapTime": 92.5, "Stint": 1,
                          "Compound": "MEDIUM", "TyreLife": 1, "FreshTyre": True}
    assert lap.times["LapStartTime"] == utc_seconds(T0)  # lap 1 starts when the session does
    assert lap.times["PitInTime"] == utc_seconds("2025-05-04T20:01:20Z")
    assert lap.times["Time"] == utc_seconds("2025-05-04T20:01:32.5Z")
    [status] = [e for e in a.handle("TrackStatus", {"Status": "4", "Message": "SCDeployed"}, t)
                if isinstance(e, ev.TrackStatus)]
    assert (status.status, status.message) == ("4", "SCDeployed")
    for messages in ([{"Utc": "2025-05-04T20:01:00", "Category": "Flag", "Message": "YELLOW IN TRACK SECTOR 3",
                       "Flag": "YELLOW", "Scope": "Sector", "Sector": 3, "Lap": 1}],
                     {"7": {"Utc": "2025-05-04T20:01:00", "Category": "Flag", "Message": "YELLOW IN TRACK SECTOR 3",
                            "Flag": "YELLOW", "Scope": "Sector", "Sector": 3, "Lap": 1}}):
        [rc] = [e for e in a.handle("RaceControlMessages", {"Messages": messages}, t) if isinstance(e, ev.RaceControl)]
        assert rc.row["Message"] == "YELLOW IN TRACK SECTOR 3" and rc.row["Sector"] == 3 and rc.row["Status"] is None
    assert kinds(a.handle("SessionStatus", {"Status": "Finished"}, t)) == []
    assert kinds(a.handle("SessionStatus", {"Status": "Finalised"}, t)) == ["Ended"]
    for topic in IGNORED:
        assert kinds(a.handle(topic, {"Utc": t}, t)) == []
    assert kinds(a.handle("SomethingNew", {}, t)) == [] and a.unknown == {"SomethingNew"}
    assert set(TOPICS) == {"SessionInfo", "SessionStatus", "DriverList", "CarData.z", "Position.z", "TimingData",
                           "TimingAppData", "TrackStatus", "RaceControlMessages"}


def test_the_snapshot_sent_on_subscribing_is_read_like_the_stream():
    a = started()
    snapshot = json.dumps({"Lines": {"1": {"NumberOfLaps": 0}}})  # JSON text, no time
    assert kinds(a.handle("TimingData", snapshot, "")) == []
    assert kinds(a.handle("DriverList", json.dumps({"1": {"Tla": "VER"}}), "")) == []  # already known


def test_without_a_token_the_missing_car_data_is_said():
    a = F1LiveTiming(token=False)
    out = a.handle("SessionInfo", {"Meeting": {"Name": "Miami Grand Prix"}, "Name": "Race",
                                   "StartDate": "2025-05-04T16:00:00", "GmtOffset": "-04:00:00"}, "")
    missing = {e.stream: e.reason for e in out if isinstance(e, ev.Missing)}
    assert set(missing) == {"car_data", "position_data"} and "F1 TV" in missing["car_data"]


def test_recorded_lines_read_back_exactly():
    doc = {"Entries": [{"Utc": "2024-07-07T14:00:00.1Z", "Cars": {"1": {"Channels": {"0": 1}}}}]}
    assert inflate(deflate(doc)) == doc
    line = str(["TrackStatus", {"Status": "1", "Message": "AllClear", "_kf": True}, "2024-07-07T14:00:00.000Z"])
    assert parse_line(line) == ["TrackStatus", {"Status": "1", "Message": "AllClear", "_kf": True},
                                "2024-07-07T14:00:00.000Z"]


def rows(dsn, sql, *args):
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute(sql, args)
        out = cur.fetchall()
    conn.close()
    return out


def stream_samples(path):
    """Car samples in a recorded stream, per car."""
    a, n = F1LiveTiming(), {}
    for line in read(path):
        for e in a.handle(*parse_line(line)):
            if isinstance(e, ev.CarSample):
                n[e.entity_id] = n.get(e.entity_id, 0) + 1
    return n


def test_a_recorded_session_followed_end_to_end(dsn):
    printed = []
    result = live_cli.run({"source": "f1", "replay": str(DATA / "f1.jsonl.gz")}, out=printed.append, dsn=dsn)
    sid = "f1-2024-synthetic-grand-prix-r"
    assert result["session_id"] == sid and result["reason"] == "session status Finalised"
    expected = stream_samples(DATA / "f1.jsonl.gz")
    per_car = dict(rows(dsn, "SELECT entity_id, sum(n_samples) FROM telemetry_chunks GROUP BY 1"))
    assert per_car == expected  # every sample analyzed, once
    assert rows(dsn, "SELECT count(*) FROM laps WHERE session_id = %s AND lap_time IS NOT NULL "
                     "AND lap_start IS NOT NULL AND stint IS NOT NULL", sid) == [(16,)]
    assert rows(dsn, "SELECT count(*) FROM laps WHERE pit_in_time IS NOT NULL") == [(4,)]
    assert [s for (s,) in rows(dsn, "SELECT status FROM track_status ORDER BY t")] == ["1", "4", "1"]
    [(messages,)] = rows(dsn, "SELECT rows FROM session_facts WHERE kind = 'race_control_messages'")
    assert "CHEQUERED FLAG" in [m["Message"] for m in messages]
    found = {k for (k,) in rows(dsn, "SELECT kind FROM detections")}
    assert {"frozen_sensor", "dropout", "throttle_brake_overlap", "safety_car", "pit_stop"} <= found
    assert "retirement" not in found  # a car a lap behind mid-race was provisional, not final
    assert any("frozen_sensor" in line for line in printed)
    [(meta,)] = rows(dsn, "SELECT meta FROM sessions")
    assert meta["live"]["state"] == "closed" and meta["live"]["chunks"] == result["chunks"]
    assert result["location"] == f"s3://apexflow-raw-local/raw/f1live/{sid}/"
    assert meta["chunks"] == result["chunks"]  # complete once analyzed: the insights workflow ran
    assert rows(dsn, "SELECT count(*) FROM insight_runs WHERE session_id = %s AND finished_at IS NOT NULL",
                sid) == [(1,)]
