"""OpenF1: every message kind the adapter consumes, and a recorded session through a real Mosquitto broker,
restarted mid-session with the machine loaded: nothing lost, nothing doubled (``-m stress``: 20 times over)."""
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest

from apexflow.simulator.live_stream import read
from apexflow.sources.live import events as ev
from apexflow.sources.live.openf1 import IGNORED, TOPICS, OpenF1, utc_seconds
from apexflow_local import live_cli
from apexflow_local.mosquitto import BINARY, Broker

MESSAGES = read(Path(__file__).parent / "data" / "live" / "openf1.jsonl.gz")
KEYS = {"session_key": 9, "meeting_key": 1}


def kinds(events):
    return [type(e).__name__ for e in events if not isinstance(e, ev.Tick)]


def opened():
    a = OpenF1()
    a.handle("v1/meetings", {"meeting_key": 1, "meeting_name": "Miami Grand Prix"})
    a.handle("v1/sessions", {**KEYS, "session_name": "Sprint", "year": 2025, "_key": "9", "_id": 1,
                             "date_start": "2025-05-03T16:00:00+00:00", "date_end": "2025-05-03T17:00:00+00:00"})
    a.handle("v1/drivers", {**KEYS, "driver_number": 1, "name_acronym": "VER", "full_name": "Max VERSTAPPEN",
                            "team_name": "Red Bull Racing", "_key": "1", "_id": 2})
    return a


def test_the_session_is_named_as_the_fastf1_source_names_it():
    a = OpenF1()
    a.handle("v1/meetings", {"meeting_key": 1, "meeting_name": "Miami Grand Prix"})
    [known] = a.handle("v1/sessions", {**KEYS, "session_name": "Sprint", "year": 2025,
                                       "date_start": "2025-05-03T16:00:00+00:00"})
    assert known.session_id == "f1-2025-miami-grand-prix-s" and known.start_time.hour == 16
    [driver] = opened().handle("v1/drivers", {**KEYS, "driver_number": 4, "name_acronym": "NOR"})
    assert driver.entity.entity_id == "NOR" and driver.entity.meta == {"driver_number": "4"}


def test_every_consumed_topic_maps():
    a = opened()
    date = "2025-05-03T16:10:00.250000+00:00"
    [sample] = [e for e in a.handle("v1/car_data", {**KEYS, "date": date, "driver_number": 1, "speed": 301,
                                                    "rpm": 11000, "n_gear": 8, "throttle": 104, "brake": 100,
                                                    "drs": 12, "_key": "a", "_id": 3}) if isinstance(e, ev.CarSample)]
    assert sample.entity_id == "VER" and sample.utc == utc_seconds(date)
    assert sample.values == {"Speed": 301, "RPM": 11000, "nGear": 8, "Throttle": 100, "Brake": 1, "DRS": 1}
    [p] = [e for e in a.handle("v1/location", {**KEYS, "date": date, "driver_number": 1, "x": -1234, "y": 50,
                                               "z": 7, "_key": "b", "_id": 4}) if isinstance(e, ev.Position)]
    assert (p.x, p.y, p.z) == (-123.4, 5.0, 0.7)
    a.handle("v1/stints", {**KEYS, "driver_number": 1, "stint_number": 1, "compound": "SOFT", "lap_start": 1,
                           "lap_end": None, "tyre_age_at_start": 2, "_key": "s1", "_id": 5})
    lap = {**KEYS, "driver_number": 1, "lap_number": 3, "date_start": "2025-05-03T16:08:00+00:00",
           "is_pit_out_lap": False, "lap_duration": None, "_key": "1_3", "_id": 6}
    assert kinds(a.handle("v1/laps", lap)) == []  # the lap has begun, not completed
    [done] = a.handle("v1/laps", {**lap, "lap_duration": 92.5, "duration_sector_1": 30.0, "st_speed": 320, "_id": 7})
    assert done.values == {"LapTime": 92.5, "Sector1Time": 30.0, "SpeedST": 320, "Stint": 1, "Compound": "SOFT",
                           "TyreLife": 5}
    assert done.times == {"LapStartTime": utc_seconds(lap["date_start"]),
                          "Time": utc_seconds(lap["date_start"]) + 92.5}
    [again] = a.handle("v1/pit", {**KEYS, "date": date, "driver_number": 1, "lap_number": 3, "pit_duration": 22.1,
                                  "_key": "p", "_id": 8})[1:]
    assert again.lap_number == 3 and again.times["PitInTime"] == utc_seconds(date)
    for message, flag, scope, status in (("SAFETY CAR DEPLOYED", None, "Track", "4"),
                                         ("VIRTUAL SAFETY CAR DEPLOYED", None, "Track", "6"),
                                         ("VIRTUAL SAFETY CAR ENDING", None, "Track", "7"),
                                         ("RED FLAG", "RED", "Track", "5"), ("TRACK CLEAR", "CLEAR", "Track", "1"),
                                         ("YELLOW IN TRACK SECTOR 3", "YELLOW", "Sector", None)):
        category = "SafetyCar" if "SAFETY" in message else "Flag"
        out = a.handle("v1/race_control", {**KEYS, "date": date, "category": category, "flag": flag, "scope": scope,
                                           "sector": None, "lap_number": 3, "message": message,
                                           "driver_number": None, "_key": message, "_id": 9})
        [rc] = [e for e in out if isinstance(e, ev.RaceControl)]
        assert rc.row["Message"] == message and rc.row["Lap"] == 3
        assert [e.status for e in out if isinstance(e, ev.TrackStatus)] == ([status] if status else [])
    for topic in IGNORED:
        assert kinds(a.handle(topic, {**KEYS, "date": date})) == []
    assert kinds(a.handle("v1/new_thing", {**KEYS})) == [] and a.unknown == {"v1/new_thing"}
    assert set(TOPICS) >= {"v1/car_data", "v1/location", "v1/laps", "v1/race_control"}


def test_duplicates_by_key_and_other_sessions_are_dropped_and_the_session_ends_after_the_flag():
    a = opened()
    doc = {**KEYS, "date": "2025-05-03T16:10:00+00:00", "driver_number": 1, "x": 1, "y": 2, "z": 3,
           "_key": "k", "_id": 10}
    assert kinds(a.handle("v1/location", doc)) == ["Position"]
    assert kinds(a.handle("v1/location", doc)) == []  # delivered twice
    assert kinds(a.handle("v1/location", {**doc, "session_key": 8})) == []
    assert a.dropped == {"duplicate": 1, "other_session": 1}
    late = {**doc, "date": "2025-05-03T17:00:01+00:00", "_key": "l", "_id": 11}
    assert kinds(a.handle("v1/location", late)) == ["Position"]  # past the end but no chequered flag yet
    a.handle("v1/race_control", {**KEYS, "date": "2025-05-03T16:59:00+00:00", "category": "Flag",
                                 "flag": "CHEQUERED", "message": "CHEQUERED FLAG", "_key": "c", "_id": 12})
    assert kinds(a.handle("v1/location", {**late, "_key": "m", "_id": 13})) == ["Position", "Ended"]


needs_broker = pytest.mark.skipif(BINARY is None, reason="Debian's mosquitto is not installed "
                                                         "(apt-get install mosquitto)")


def publish(broker, messages, restart_after=None, following=lambda: None):
    """Publish the recorded messages with QoS 1 as OpenF1's broker would, optionally restarting the broker
    after ``restart_after`` of them, once ``following()`` says the follower is at work (and publishing on
    while the broker is down)."""
    import json

    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="recorded-openf1", clean_session=False)
    client.reconnect_delay_set(min_delay=0.05, max_delay=0.5)
    acked = set()
    client.on_publish = lambda client, userdata, mid, reason, properties: acked.add(mid)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        sent = []
        for i, (topic, doc) in enumerate(messages):
            if i == restart_after:
                acknowledged(sent, acked)
                following()
                broker.stop()
            elif restart_after is not None and i == restart_after + 300:
                broker.start()
            sent.append(client.publish(topic, json.dumps(doc), qos=1))
        acknowledged(sent, acked)
    finally:
        client.disconnect()
        client.loop_stop()


def acknowledged(sent, acked, timeout=60.0):
    """Wait until the broker has acknowledged every message (those published while it was down included:
    paho sends them on reconnecting)."""
    import time

    deadline = time.monotonic() + timeout
    while not all(info.mid in acked for info in sent):
        assert time.monotonic() < deadline, "the broker never acknowledged some messages"
        time.sleep(0.05)


def stored(dsn):
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT entity_id, seq, t_start, t_end, n_samples FROM telemetry_chunks ORDER BY 1, 2")
        chunks = cur.fetchall()
        cur.execute("SELECT count(*) FROM laps WHERE lap_time IS NOT NULL")
        laps = cur.fetchone()[0]
        cur.execute("SELECT jsonb_array_length(rows) FROM session_facts WHERE kind = 'race_control_messages'")
        messages = cur.fetchone()[0]
        cur.execute("SELECT DISTINCT kind FROM detections")
        found = {k for (k,) in cur.fetchall()}
    conn.close()
    return chunks, laps, messages, found


def analyzing(dsn, timeout=60.0):
    """Wait until the follower has chunks analyzed in the database."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = psycopg2.connect(dsn)
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM telemetry_chunks")
            n = cur.fetchone()[0]
        conn.close()
        if n:
            return
        time.sleep(0.1)
    raise AssertionError("the follower analyzed nothing")


def follow_through(broker, dsn, restart_after=None):
    broker.start()
    broker.subscribe_ahead("apexflow-test", [*TOPICS, *IGNORED])
    spec = {"source": "openf1", "mqtt": f"127.0.0.1:{broker.port}", "client_id": "apexflow-test", "idle": 60}
    result = {}
    follower = threading.Thread(target=lambda: result.update(live_cli.run(spec, out=lambda line: None, dsn=dsn)))
    follower.start()
    try:
        publish(broker, MESSAGES, restart_after, lambda: analyzing(dsn))
        follower.join(120)
    finally:
        broker.stop()
    assert not follower.is_alive()
    return result, stored(dsn)


def expected_samples():
    n = {}
    for topic, doc in MESSAGES:
        if topic == "v1/car_data":
            n[doc["driver_number"]] = n.get(doc["driver_number"], 0) + 1
    return sorted(n.values())


@contextmanager
def cpu_burners(n: int = 2):
    """``n`` processes spinning on the CPU while the block runs (the load under which a restart lost data: the
    publisher's backlog from the outage reaches the follower after newer messages)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


@needs_broker
def test_a_recorded_session_through_the_broker_restarted_mid_session(dsn, tmp_path):
    with cpu_burners(2):
        restarted_under_load(dsn, tmp_path)


@needs_broker
@pytest.mark.stress
@pytest.mark.parametrize("run", range(20))
def test_the_broker_restart_under_load_over_and_over(dsn, tmp_path, run):
    with cpu_burners(2):
        restarted_under_load(dsn, tmp_path)


def restarted_under_load(dsn, tmp_path):
    result, (chunks, laps, messages, found) = follow_through(Broker(tmp_path), dsn, restart_after=len(MESSAGES) // 3)
    assert result["reason"] == "past the session's end after the chequered flag"
    assert result["connects"] >= 2  # it lost the broker and came back
    per_car = {}
    for entity, seq, t0, t1, n in chunks:
        per_car.setdefault(entity, []).append((seq, t0, t1, n))
    assert sorted(sum(c[3] for c in v) for v in per_car.values()) == expected_samples()  # nothing lost
    assert result["samples"] == sum(expected_samples()) and result["late_samples"] == 0
    print(f"restart: {result['reordered_samples']} samples came out of order, {result['duplicate_samples']} twice, "
          f"{result['dropped']['duplicate']} messages redelivered; none lost, none doubled")
    for parts in per_car.values():
        assert [p[0] for p in parts] == list(range(len(parts)))
        assert all(a[2] < b[1] for a, b in zip(parts, parts[1:]))  # nothing doubled
    assert laps == 16 and messages == sum(1 for t, _ in MESSAGES if t == "v1/race_control")
    assert {"frozen_sensor", "dropout", "throttle_brake_overlap", "safety_car", "pit_stop"} <= found
