"""S3 layout, manifests and atomic re-ingest on moto; a session with no telemetry still registers."""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import numpy as np
import psycopg2
import pytest

from apexflow.chunk import decode
from apexflow.contract import SCHEMA_VERSION, Channel, Entity, Session, SessionFacts
from apexflow.pipeline.ingest import ingest

START = datetime(2025, 5, 3, 16, tzinfo=UTC)


class Source:
    def __init__(self, offset=0.0, seconds=30.0, entities=("A", "B"), missing=None):
        self.offset, self.seconds, self.entities, self.missing = offset, seconds, entities, missing or {}

    def session(self):
        return Session("bench-1", "test", START, (Channel("v", "m/s"),), tuple(Entity(e) for e in self.entities))

    def facts(self):
        return SessionFacts(laps=[{"Driver": e, "LapNumber": 1, "LapStartTime": 0.0, "LapTime": 90.0}
                                  for e in self.entities], missing=self.missing)

    def samples(self):
        t = np.arange(0, self.seconds, 0.5)
        for e in self.entities:
            yield e, t, {"v": t * 0 + self.offset}


class Sink:
    def __init__(self):
        self.records = []

    def put(self, records):
        self.records += records


class FailingS3:
    """Passes calls to the real client but fails the n-th upload of a run's object (a crash mid-run)."""

    def __init__(self, real, fail_at):
        self.real, self.fail_at, self.puts = real, fail_at, 0

    def put_object(self, **kw):
        if "/runs/" in kw["Key"]:
            self.puts += 1
            if self.puts == self.fail_at:
                raise ConnectionError("connection reset mid-upload")
        return self.real.put_object(**kw)

    def __getattr__(self, name):
        return getattr(self.real, name)


def _keys(s3):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="raw")
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


def _manifest(s3):
    return json.loads(s3.get_object(Bucket="raw", Key="raw/test/bench-1/manifest.json")["Body"].read())


def test_samples_of_an_entity_the_session_does_not_declare_stop_ingest_before_anything_is_written(s3):
    from apexflow.errors import ContractError
    from apexflow_aws.raw_store import S3RawStore

    class Stray(Source):
        def samples(self):
            yield from super().samples()
            yield "C", np.arange(3.0), {"v": np.zeros(3)}

    with pytest.raises(ContractError, match="samples for entity 'C', which the session does not declare"):
        ingest(Stray(), S3RawStore(s3, "raw"), Sink(), lambda *a: True)
    assert _keys(s3) == []


def test_layout_and_manifest(s3):
    from apexflow_aws.raw_store import S3RawStore

    sink = Sink()
    result = ingest(Source(), S3RawStore(s3, "raw"), sink, lambda *a: True)
    keys = _keys(s3)
    run = f"raw/test/bench-1/runs/{result.run_id}/"
    assert keys == ["raw/test/bench-1/manifest.json", f"{run}A.axfr", f"{run}B.axfr", f"{run}session.json"]
    m = _manifest(s3)
    assert m["chunk_prefix"] == run and m["schema_version"] == SCHEMA_VERSION and m["run_id"] == result.run_id
    assert m["counts"] == {"entities": 2, "chunks": 6, "samples": 120, "laps": 2, "track_status": 0}
    streamed = {decode(data).key: data for _, data in sink.records}
    assert list(m["chunks"]) == list(m["checksums"]) == list(streamed)  # stream order
    for key, (name, offset, length) in m["chunks"].items():
        body = s3.get_object(Bucket="raw", Key=f"{run}{name}")["Body"].read()[offset:offset + length]
        assert body == streamed[key] and hashlib.sha256(body).hexdigest() == m["checksums"][key]
        assert name == f"{key.split('/')[0]}.axfr" and decode(body).run_id == result.run_id


def test_reingest_replaces_the_run_and_leaves_no_mix(s3):
    from apexflow_aws.raw_store import S3RawStore

    first = ingest(Source(offset=1.0), S3RawStore(s3, "raw"), Sink(), lambda *a: True)
    second = ingest(Source(offset=2.0, seconds=20.0), S3RawStore(s3, "raw"), Sink(), lambda *a: True)
    assert first.run_id != second.run_id
    keys = _keys(s3)
    assert not any(first.run_id in k for k in keys)
    assert sum(k.endswith(".axfr") for k in keys) == 2 and second.chunks == 4
    assert _manifest(s3)["run_id"] == second.run_id and len(_manifest(s3)["chunks"]) == 4


def test_a_crash_mid_run_keeps_the_previous_run_whole_and_a_rerun_repairs(s3):
    from apexflow_aws.raw_store import S3RawStore

    good = ingest(Source(offset=1.0), S3RawStore(s3, "raw"), Sink(), lambda *a: True)
    registered, streamed = [], Sink()
    with pytest.raises(ConnectionError):
        ingest(Source(offset=3.0), S3RawStore(FailingS3(s3, fail_at=2), "raw"), streamed,
               lambda *a: registered.append(a) or True)
    assert registered == [] and streamed.records == []  # nothing downstream of a failed write
    m = _manifest(s3)
    assert m["run_id"] == good.run_id  # readers still see the old run, complete
    assert [decode(b).run_id for b in S3RawStore(s3, "raw").read_chunks("test", "bench-1", list(m["checksums"]))] \
        == [good.run_id] * good.chunks
    again = ingest(Source(offset=3.0), S3RawStore(s3, "raw"), Sink(), lambda *a: True)
    keys = _keys(s3)
    assert _manifest(s3)["run_id"] == again.run_id
    assert all(again.run_id in k for k in keys if "/runs/" in k) and len(keys) == 1 + 3  # manifest, A, B, session


def test_session_without_telemetry_registers_laps_and_records_what_is_missing(local):
    """Zero chunks: the manifest is written, the session and laps are registered, nothing is streamed."""
    from apexflow.query import sessions as query_sessions
    from apexflow.storage import registry
    from apexflow.storage.db import connect, transaction
    from apexflow_aws.config import client
    from apexflow_aws.raw_store import S3RawStore
    from apexflow_local.stack import BUCKET

    conn = connect(local)

    def register(session, facts, run_id):
        with transaction(conn) as cur:
            return registry.register_session(cur, session, facts, run_id)

    sink = Sink()
    src = Source(seconds=0.0, missing={"car_data": "not published"})
    result = ingest(src, S3RawStore(client("s3"), BUCKET), sink, register)
    assert result.chunks == 0 and result.samples == 0 and result.registered and sink.records == []
    m = S3RawStore(client("s3"), BUCKET).read_manifest(src.session())
    assert m["missing"] == {"car_data": "not published"} and m["counts"]["laps"] == 2
    with conn.cursor() as cur:
        overview = query_sessions.overview(cur, "bench-1")
        assert registry.registered_sessions(cur, ["bench-1", "other"]) == {"bench-1"}
    conn.close()
    assert overview["missing"] == {"car_data": "not published"}
    assert [e["laps"] for e in overview["entities"]] == [1, 1]


def test_cli_ingests_a_csv_file_end_to_end(dsn, tmp_path, capsys, monkeypatch):
    from apexflow_local import cli

    monkeypatch.setenv("DATABASE_URL", dsn)  # the CLI starts its own local stack on this database
    p = tmp_path / "rig.csv"
    p.write_text("unit,t,temp [C]\n" + "".join(f"u{i % 3},{i // 3 * 0.5},{20 + i * 0.1:.2f}\n" for i in range(300)))
    assert cli.main(["ingest", "csv", str(p), "--entity-col", "unit", "--time-col", "t"]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert out.startswith("wrote csv-rig (run ") and "3 entities" in out and "300 samples" in out
    assert "s3://apexflow-raw-local/raw/csv/csv-rig/" in out
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:  # local mode also runs analyze
        cur.execute("SELECT count(DISTINCT entity_id), sum(n_samples) FROM telemetry_chunks "
                    "WHERE session_id = 'csv-rig'")
        assert cur.fetchone() == (3, 300)
    bad = tmp_path / "bad.csv"
    bad.write_text("unit,t,v\nu1,0,1\nu1,1,x\n")
    assert cli.main(["ingest", "csv", str(bad), "--entity-col", "unit", "--time-col", "t"]) == 2
    assert "bad.csv:3: column 'v'" in capsys.readouterr().err
