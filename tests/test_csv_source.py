"""Generic CSV / JSON Lines telemetry: the same contract as F1, errors with line numbers, no half-ingest."""
from __future__ import annotations

import json

import numpy as np
import pytest

from apexflow import chunk as chunks
from apexflow.errors import ContractError
from apexflow.pipeline.ingest import ingest
from apexflow.sources import from_spec
from apexflow.sources.csv_source import FileSource


class Memory:
    def __init__(self):
        self.runs, self.records, self.registered = {}, [], []

    def write_run(self, session, run_id, objects, manifest, record=None):
        self.runs[session.session_id] = (run_id, objects, manifest)
        return "memory://"

    def put(self, records):
        self.records += records

    def register(self, session, facts, run_id):
        self.registered.append(session.session_id)
        return True


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_with_units_in_headers_and_interleaved_entities(tmp_path):
    p = _write(tmp_path, "Bench Run 3.csv",
               "device,t,temp [C],pressure (bar),rpm\n"
               "pump-1,0.0,20.5,1.0,1000\n"
               "pump-2,0.0,21.0,1.1,900\n"
               "pump-1,0.5,20.7,1.2,1100\n"
               "\n"
               "pump-1,0.25,20.6,1.1,1050\n")
    src = FileSource(p, entity_col="device", time_col="t", units={"rpm": "1/min"})
    s = src.session()
    assert s.session_id == "csv-bench-run-3" and s.source == "csv"
    assert [(c.name, c.unit) for c in s.channels] == [("temp", "C"), ("pressure", "bar"), ("rpm", "1/min")]
    assert [e.entity_id for e in s.entities] == ["pump-1", "pump-2"]
    assert s.start_time.isoformat() == "1970-01-01T00:00:00+00:00" and s.meta["start_time_known"] is False
    samples = {e: (t, v) for e, t, v in src.samples()}
    assert samples["pump-1"][0].tolist() == [0.0, 0.25, 0.5]  # sorted per entity
    assert samples["pump-1"][1]["rpm"].tolist() == [1000, 1050, 1100]
    mem = Memory()
    result = ingest(src, mem, mem, mem.register, chunk_seconds=0.3)
    assert result.entities == 2 and result.samples == 4 and result.chunks == 3
    c = chunks.decode(mem.runs[s.session_id][1]["pump-1/00000001"])
    assert c.t.tolist() == [0.5] and c.units["temp"] == "C"


def test_jsonl_with_iso_timestamps(tmp_path):
    rows = [{"car": "A", "ts": "2024-06-01T12:00:01Z", "speed": 10, "ok": True},
            {"car": "B", "ts": "2024-06-01T12:00:00.500+00:00", "speed": 12.5, "ok": False},
            {"car": "A", "ts": "2024-06-01T12:00:02", "speed": 11, "ok": True}]
    p = _write(tmp_path, "log.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    src = from_spec({"source": "jsonl", "path": str(p), "entity_col": "car", "time_col": "ts",
                     "session_id": "track-day-1"})
    s = src.session()
    assert s.session_id == "track-day-1" and s.source == "jsonl"
    assert s.start_time.isoformat() == "2024-06-01T12:00:00.500000+00:00"
    got = {e: (t.tolist(), v["speed"].tolist(), v["ok"].tolist()) for e, t, v in src.samples()}
    assert got == {"A": ([0.5, 1.5], [10.0, 11.0], [1.0, 1.0]), "B": ([0.0], [12.5], [0.0])}


def test_channels_can_be_picked_and_start_time_given(tmp_path):
    p = _write(tmp_path, "x.csv", "id,time,a,b,note\nm1,1,1,2,hello\nm1,2,3,4,world\n")
    src = FileSource(p, "id", "time", channels=["b"], start_time="2025-01-01T00:00:00+01:00")
    assert [c.name for c in src.session().channels] == ["b"]
    assert src.session().start_time.isoformat() == "2024-12-31T23:00:00+00:00"
    with pytest.raises(ContractError, match="column 'note': 'hello' is not a finite number"):
        FileSource(p, "id", "time").session()


@pytest.mark.parametrize("body, messages", [
    ("car,t,v\nA,0,1\nA,1\nA,2,x\nA,3,\n",
     ["x.csv:3: row has 2 fields, the header has 3", "x.csv:4: column 'v': 'x' is not a finite number",
      "x.csv:5: column 'v': '' is not a finite number"]),
    ("car,t,v\nA,0,1\nA,zero,1\n,2,1\nA,0,3\n",
     ["x.csv:3: column 't': 'zero' is not seconds or an ISO-8601 timestamp",
      "x.csv:4: column 'car'"]),
    ("car,t,v\nA,0,1\nB,0,1\nA,0,2\n", ["x.csv:4: entity 'A' already has a sample at t=0s (line 2)"]),
    ("car,t,v\nA,0,inf\nA,1,nan\n", ["x.csv:2: column 'v': 'inf'", "x.csv:3: column 'v': 'nan'"]),
    ("car,t,v\nA,0,3.4e38\nA,1,1e39\nA,2,-1e39\n",
     ["x.csv:3: column 'v': '1e39' is beyond ±3.4028235e+38, the largest value a channel holds (channels are "
      "float32)", "x.csv:4: column 'v': '-1e39' is beyond"]),
    ("car,t,speed (km/h,v\nA,0,1,2\n", ["column 'speed (km/h': channel name"]),
])
def test_malformed_rows_are_reported_with_line_numbers(tmp_path, body, messages):
    p = _write(tmp_path, "x.csv", body)
    with pytest.raises(ContractError) as e:
        FileSource(p, "car", "t").session()
    for m in messages:
        assert m in str(e.value)


def test_jsonl_errors_have_line_numbers(tmp_path):
    p = _write(tmp_path, "y.jsonl", '{"car": "A", "t": 0, "v": 1}\n\n[1, 2]\n{"car": "A", "t": 1, "v": "fast"}\n{bad\n')
    with pytest.raises(ContractError) as e:
        FileSource(p, "car", "t").session()
    text = str(e.value)
    assert "y.jsonl:3: row is not a JSON object" in text and "y.jsonl:4: column 'v': 'fast'" in text
    assert "y.jsonl:5: row is not valid JSON" in text and "nothing was ingested" in text


def test_missing_columns_and_files_are_clear_errors(tmp_path):
    p = _write(tmp_path, "z.csv", "car,t,v\nA,0,1\n")
    with pytest.raises(ContractError, match=r"no column 'time'; columns are \['car', 't', 'v'\]"):
        FileSource(p, "car", "time").session()
    with pytest.raises(ContractError, match="no such file"):
        FileSource(tmp_path / "nope.csv", "car", "t").session()
    with pytest.raises(ContractError, match="empty"):
        FileSource(_write(tmp_path, "e.csv", ""), "car", "t").session()
    with pytest.raises(ContractError, match="needs 'path'"):
        from_spec({"source": "csv", "entity_col": "car", "time_col": "t"})


def test_bad_file_leaves_nothing_behind(tmp_path):
    """A malformed row anywhere, even the last, means nothing is written, registered or streamed."""
    good = "".join(f"A,{i * 0.25},{i}\n" for i in range(400))
    p = _write(tmp_path, "late.csv", "car,t,v\n" + good + "A,100,oops\n")
    mem = Memory()
    with pytest.raises(ContractError, match="late.csv:402"):
        ingest(FileSource(p, "car", "t"), mem, mem, mem.register)
    assert mem.runs == {} and mem.records == [] and mem.registered == []


def test_large_numeric_file_chunks_into_ordered_chunks(tmp_path):
    t = np.arange(0, 60, 0.1)
    lines = [f"{e},{x:.1f},{np.sin(x):.5f}" for x in t for e in ("e1", "e2")]
    p = _write(tmp_path, "big.csv", "entity,sec,signal\n" + "\n".join(lines) + "\n")
    mem = Memory()
    result = ingest(FileSource(p, "entity", "sec"), mem, mem, mem.register)
    assert result.samples == 2 * len(t) and result.chunks == 12
    seqs = [chunks.decode(d).seq for k, d in mem.records if k.endswith("/e1")]
    assert seqs == list(range(6))


@pytest.mark.parametrize("bad_row", [",{i},1", "A,t{i},1", "A,,1", "A,{i}", "A,{i},x", "A b,{i},1"])
def test_the_error_output_stops_after_20_rows_for_every_kind_of_bad_row(tmp_path, bad_row):
    """Thousands of bad entity, time, short or value cells: 20 lines, as the message says, and reading stops."""
    p = _write(tmp_path, "bad.csv", "car,t,v\n" + "".join(bad_row.format(i=i) + "\n" for i in range(5000)))
    with pytest.raises(ContractError) as e:
        FileSource(p, "car", "t").session()
    lines = str(e.value).splitlines()
    assert "(stopped after the first 20)" in lines[0] and len(lines) == 21
    assert lines[-1].startswith("  bad.csv:21:")


def test_a_huge_bad_cell_is_shown_cut_short(tmp_path):
    p = _write(tmp_path, "big.csv", "car,t,v\n" + "".join(f"A,{'9' * 100_000}x,1\n" for _ in range(50)))
    with pytest.raises(ContractError) as e:
        FileSource(p, "car", "t").session()
    assert len(str(e.value)) < 21 * 260 and "..." in str(e.value)
