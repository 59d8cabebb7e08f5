"""Recordings and bad messages: FastF1's recorder format read and written, damaged lines and malformed messages
skipped and counted by kind, the session still closed (its manifest written, so reprocess takes it)."""
import base64
import gzip
import json
import zlib
from pathlib import Path

import psycopg2
import pytest

from apexflow.errors import BadMessage, ContractError
from apexflow.simulator.live_stream import read as read_ours
from apexflow.sources.live import recording
from apexflow.sources.live.f1 import F1LiveTiming, deflate, parse_line
from apexflow.sources.live.openf1 import OpenF1
from apexflow_local.cli import main

DATA = Path(__file__).parent / "data" / "live"
LINES = read_ours(DATA / "f1.jsonl.gz")  # the simulator's race as FastF1's recorder writes it, one line each
SID = "f1-2024-synthetic-grand-prix-r"


def kind_of(call) -> str:
    with pytest.raises(BadMessage) as caught:
        call()
    return caught.value.kind


def started():
    a = F1LiveTiming()
    a.take(parse_line(next(line for line in LINES if "SessionInfo" in line)))
    a.take(["DriverList", {"1": {"Tla": "VER"}}, "2024-07-07T13:59:00.000Z"])
    return a


def test_each_malformed_f1_message_is_a_bad_message_of_its_kind_and_the_adapter_goes_on():
    a = started()
    t = "2024-07-07T14:01:00.000Z"
    good = deflate({"Entries": [{"Utc": t, "Cars": {"1": {"Channels": {"0": 1, "2": 2, "3": 3, "4": 4, "5": 0}}}}]})
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    cut = base64.b64encode((raw.compress(json.dumps({"Entries": []}).encode()) + raw.flush())[:-3]).decode()
    assert kind_of(lambda: a.take(["CarData.z", "not*base64!", t])) == "undecodable_payload"
    assert kind_of(lambda: a.take(["CarData.z", cut, t])) == "undecodable_payload"  # deflate cut short
    assert kind_of(lambda: a.take(["CarData.z", good[: len(good) // 2], t])) == "undecodable_payload"
    assert kind_of(lambda: a.take(["TimingData", {"Lines": {"1": {"LastLapTime": {"Value": "1:3x.5"}}}}, t])) \
        == "bad_value"
    assert kind_of(lambda: a.take(["TrackStatus", {"Status": "1"}, "2024-13-45T99:00:00Z"])) == "bad_time"
    assert kind_of(lambda: a.take(["RaceControlMessages", {"Messages": [{"Utc": "yesterday"}]}, t])) == "bad_time"
    assert kind_of(lambda: a.take(None)) == "unparseable"  # a ``null`` line
    assert kind_of(lambda: a.take(["TimingData", None, t])) == "malformed"
    assert kind_of(lambda: a.take(["DriverList", "{not json", ""])) == "undecodable_payload"
    [sample] = [e for e in a.take(["CarData.z", good, t]) if type(e).__name__ == "CarSample"]
    assert sample.entity_id == "VER" and sample.values["Speed"] == 2.0  # and the next good message is read


def test_each_malformed_openf1_message_is_a_bad_message_of_its_kind():
    a = OpenF1()
    keys = {"session_key": 9, "meeting_key": 1}
    a.take(("v1/sessions", json.dumps({**keys, "session_name": "Race", "year": 2025, "_key": "9", "_id": 1,
                                       "date_start": "2025-05-03T16:00:00+00:00"}).encode()))  # as MQTT sends it
    assert kind_of(lambda: a.take(("v1/car_data", b"\x00garbage"))) == "undecodable_payload"
    assert kind_of(lambda: a.take(("v1/car_data", {**keys, "date": "soon", "driver_number": 1}))) == "bad_time"
    assert kind_of(lambda: a.take(("v1/car_data", {**keys, "date": "2025-05-03T16:00:01+00:00",
                                                   "driver_number": 1, "speed": "fast", "rpm": 1, "n_gear": 1,
                                                   "throttle": 1, "brake": 0}))) == "malformed"
    assert kind_of(lambda: a.take(None)) == "unparseable"
    assert a.session["session_key"] == 9


def write_plain(path: Path, lines) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_fastf1s_format_plain_or_gzip_is_told_by_content_and_reads_as_ours(tmp_path):
    ours = recording.read(DATA / "f1.jsonl.gz", "f1")
    plain = recording.read(write_plain(tmp_path / "race.txt", LINES), "f1")
    zipped = tmp_path / "no-suffix"
    zipped.write_bytes(gzip.compress("\n".join(LINES).encode()))
    for r in (plain, recording.read(zipped, "f1")):
        assert r.bad == {} and r.first_bad_line is None and r.lines == len(LINES)
        assert r.messages == ours.messages
    car = next(m for m in plain.messages if m[0] == "CarData.z")
    assert isinstance(car[1], dict) and car[1]["Entries"]  # decoded once, on reading


def test_a_gzip_recording_cut_short_keeps_every_whole_line_before_the_cut(tmp_path):
    whole = gzip.compress("\n".join(LINES).encode())
    cut = tmp_path / "cut.txt.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    r = recording.read(cut, "f1")
    assert r.bad == {"truncated_file": 1} and r.first_bad_line == r.lines + 1
    assert 0 < len(r.messages) < len(LINES)
    assert r.messages == recording.read(DATA / "f1.jsonl.gz", "f1").messages[: len(r.messages)]


def test_a_file_without_messages_is_refused_saying_what_it_holds(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\x02 not a recording\n" * 3)
    with pytest.raises(ContractError, match="holds no f1 live messages.*unparseable"):
        recording.read(junk, "f1")


def damaged(tmp_path) -> tuple[Path, dict, dict, int]:
    """The simulator's race in FastF1's format with each kind of damage: (file, samples lost per car number,
    damaged lines by kind, first damaged line number). Truth from the lines themselves (inflated here)."""
    lines = list(LINES)
    car = [i for i, line in enumerate(lines) if line.startswith("['CarData.z'")]
    pos = [i for i, line in enumerate(lines) if line.startswith("['Position.z'")]
    lost: dict[str, int] = {}

    def drop(i):
        topic, data, _ = parse_line(lines[i])
        payload = zlib.decompress(base64.b64decode(data), -zlib.MAX_WBITS)
        for entry in json.loads(payload)["Entries"]:
            for number in entry["Cars"]:
                lost[number] = lost.get(number, 0) + 1

    cut, truncated = car[40], car[120]
    drop(cut)
    drop(truncated)
    lines[cut] = lines[cut][: len(lines[cut]) // 2]  # cut line
    topic, data, utc = parse_line(lines[truncated])
    lines[truncated] = str([topic, data[: len(data) // 2], utc])  # payload cut short
    topic, data, utc = parse_line(lines[pos[80]])
    lines[pos[80]] = str([topic, data])  # no time stamp
    topic, data, utc = parse_line(lines[pos[81]])
    lines[pos[81]] = str([topic, data, "half past two"])  # a time stamp that does not parse
    lines.insert(car[200], "null")
    lines.insert(car[200], "\x00\x9f\x92 binary junk")
    kinds = {"unparseable": 3, "undecodable_payload": 1, "no_timestamp": 2}
    sector = next(i for i, line in enumerate(lines) if "'Sectors': {'0'" in line)  # a sector time not a number
    lines[sector] = lines[sector].replace("'Value': '", "'Value': 'x", 1)
    rc = next(i for i, line in enumerate(lines) if line.startswith("['RaceControlMessages'"))
    lines[rc] = lines[rc].replace("'Utc': '", "'Utc': 'not-a-date", 1)
    first = min(cut, truncated, pos[80], car[200]) + 1
    return write_plain(tmp_path / "damaged.txt", lines), lost, kinds, first


def per_car(dsn) -> dict[str, int]:
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT e.meta->>'driver_number', sum(c.n_samples) FROM telemetry_chunks c "
                    "JOIN entities e USING (session_id, entity_id) GROUP BY 1")
        out = {k: int(v) for k, v in cur.fetchall()}
    conn.close()
    return out


def clean_samples() -> dict[str, int]:
    n: dict[str, int] = {}
    for line in LINES:
        if line.startswith("['CarData.z'"):
            for entry in json.loads(zlib.decompress(base64.b64decode(parse_line(line)[1]), -zlib.MAX_WBITS))["Entries"]:
                for number in entry["Cars"]:
                    n[number] = n.get(number, 0) + 1
    return n


def test_a_damaged_recording_replays_into_the_database_with_counts_and_the_session_closed(local, tmp_path):
    from dataclasses import replace

    from apexflow.pipeline.ingest import reprocess
    from apexflow.storage.db import transaction
    from apexflow_aws import live_runner
    from apexflow_aws.config import client, connection
    from apexflow_aws.mapping import ANALYZE
    from apexflow_aws.raw_store import S3RawStore
    from apexflow_aws.stream import KinesisStream
    from apexflow_local.esm import EventSourceMapping
    from apexflow_local.handlers import load
    from apexflow_local.stack import BUCKET, STREAM

    path, lost, kinds, first = damaged(tmp_path)
    result = live_runner.run({"source": "f1", "replay": str(path)}, KinesisStream(client("kinesis"), STREAM))
    assert result["session_id"] == SID and result["reason"] == "session status Finalised"
    assert result["recording"]["bad"] == kinds and result["recording"]["first_bad_line"] == first
    assert result["bad_messages"] == {"bad_value": 1, "bad_time": 1}
    drain = EventSourceMapping(client("kinesis"), STREAM, load("analyze").handler, replace(ANALYZE, batch_size=500))
    drain.drain()
    expected = {k: v - lost.get(k, 0) for k, v in clean_samples().items()}
    assert per_car(local) == expected  # nothing after a bad line lost, nothing doubled
    conn = psycopg2.connect(local)
    with conn.cursor() as cur:
        cur.execute("SELECT meta->'live'->>'state', meta->'live'->'bad_messages' FROM sessions")
        assert cur.fetchone() == ("closed", {"bad_value": 1, "bad_time": 1})
    conn.close()
    again = reprocess(S3RawStore(client("s3"), BUCKET), KinesisStream(client("kinesis"), STREAM),
                      lambda: transaction(connection()), SID)  # the manifest is there: reprocess takes it
    assert again.chunks == result["chunks"]
    drain.drain()
    assert per_car(local) == expected


def test_record_writes_what_fastf1s_reader_reads_and_replay_reads_it_back(local_s3_dir, tmp_path, capsys):
    from fastf1.livetiming.data import LiveTimingData

    out = tmp_path / "recorded.txt"
    assert main(["record", "--source", "f1", "--replay", str(DATA / "f1.jsonl.gz"), str(out)]) == 0
    assert f"recorded {len(LINES):,} messages" in capsys.readouterr().out
    ours = LiveTimingData(str(out))
    ours.load()
    assert ours.errorcount == 0
    assert len(ours.get("CarData.z")) == sum(1 for line in LINES if line.startswith("['CarData.z'"))
    assert recording.read(out, "f1").messages == recording.read(DATA / "f1.jsonl.gz", "f1").messages
