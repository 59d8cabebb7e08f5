"""``apexflow reprocess``: a session's database state rebuilt from its raw run alone, identical to the first
processing; an unknown session changes nothing; locally the raw data outlives the command that wrote it."""
from __future__ import annotations

import json

import psycopg2
import pytest

from apexflow.storage import repository
from apexflow.storage.db import transaction
from apexflow_aws.config import client
from apexflow_local.cli import main
from apexflow_local.esm import EventSourceMapping, LambdaContext
from apexflow_local.handlers import load
from apexflow_local.stack import STREAM

# the session's state, and what does legitimately differ between two processings (when, not what)
TABLES = ("sessions", "entities", "laps", "track_status", "session_facts", "telemetry_chunks", "detections",
          "processing_checkpoints", "field_profile", "samples")
WHEN = {"registered_at", "processed_at", "arrived_at", "created_at", "updated_at"}


def snapshot(dsn: str, session_id: str) -> dict[str, list[str]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            out = {}
            for table in TABLES:
                cur.execute(f"SELECT to_jsonb(snap.*) FROM {table} snap WHERE session_id = %s", (session_id,))
                out[table] = sorted(json.dumps({k: v for k, v in row.items() if k not in WHEN}, sort_keys=True)
                                    for (row,) in cur.fetchall())
            return out
    finally:
        conn.close()


def invoke(event: dict) -> dict:
    result = load("ingest").handler(event, LambdaContext("apexflow-ingest-test"))
    EventSourceMapping(client("kinesis"), STREAM, load("analyze").handler).drain()
    return result


def damage(dsn: str, session_id: str, how: str) -> None:
    conn = psycopg2.connect(dsn)
    with transaction(conn) as cur:
        if how == "forgotten":  # the database lost the session altogether
            repository.delete_session(cur, session_id)
        else:  # half its chunks and samples gone, a detection too many, a lap changed
            cur.execute("DELETE FROM telemetry_chunks WHERE session_id = %s AND seq %% 2 = 0", (session_id,))
            cur.execute("SELECT samples_reset(%s)", (session_id,))
            cur.execute("INSERT INTO detections (detection_id, session_id, entity_id, kind, severity, score, t_start, "
                        "t_end, detector, detector_version) SELECT 'bogus', session_id, entity_id, kind, severity, "
                        "score, t_start, t_end, detector, detector_version FROM detections WHERE session_id = %s "
                        "LIMIT 1", (session_id,))
            cur.execute("UPDATE laps SET lap_time = 1 WHERE session_id = %s", (session_id,))
    conn.close()


@pytest.mark.parametrize("how", ["damaged", "forgotten"])
def test_reprocess_rebuilds_the_database_state_identical_to_the_first_processing(local, how):
    first = invoke({"source": "synthetic", "seed": 3, "laps": 3})
    sid = first["session_id"]
    before = snapshot(local, sid)
    assert all(before[t] for t in TABLES if t not in ("session_facts",)), "a table the comparison would not test"
    damage(local, sid, how)
    assert snapshot(local, sid) != before
    again = invoke({"action": "reprocess", "session_id": sid})
    assert (again["run_id"], again["chunks"], again["samples"]) == (first["run_id"], first["chunks"], first["samples"])
    after = snapshot(local, sid)
    assert {t: len(rows) for t, rows in after.items()} == {t: len(rows) for t, rows in before.items()}
    assert after == before


def test_reprocess_of_an_unknown_session_says_what_to_do_and_changes_nothing(dsn, local_s3_dir, monkeypatch, capsys):
    from tests.conftest import register_race

    monkeypatch.setenv("DATABASE_URL", dsn)
    sid = register_race(dsn, seed=2, laps=2)
    before = snapshot(dsn, sid)
    assert main(["reprocess", "sim-s99-l1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("apexflow: error: no single raw run of session 'sim-s99-l1'") and err.count("\n") == 1
    assert "nothing was changed. Ingest the session first" in err and str(local_s3_dir) in err
    assert snapshot(dsn, sid) == before


def test_a_local_reprocess_finds_what_an_earlier_command_ingested(dsn, local_s3_dir, monkeypatch, capsys):
    """Two local stacks, one after the other, as two commands: moto's memory is gone, the folder is not."""
    from apexflow_local import ingest_cli

    monkeypatch.setenv("DATABASE_URL", dsn)
    result, _ = ingest_cli.run({"source": "synthetic", "seed": 4, "laps": 2})
    sid = result["session_id"]
    assert (local_s3_dir / "apexflow-raw-local" / "raw" / "synthetic" / sid / "manifest.json").is_file()
    before = snapshot(dsn, sid)
    damage(dsn, sid, "forgotten")
    assert main(["reprocess", sid]) == 0
    assert capsys.readouterr().out.startswith(f"reprocessed {sid} (run {result['run_id']}) from its raw run: 20 "
                                              f"entities, {result['chunks']} chunks")
    assert snapshot(dsn, sid) == before


def test_the_kept_session_and_facts_of_a_real_f1_session_register_as_the_source_did(shared_cache, tmp_path,
                                                                                      new_database):
    """What reprocess registers comes from ``session.json``: on FastF1's real timing (race control, results, NaNs,
    dates) it must register the rows the source itself registered."""
    from apexflow.pipeline.ingest import from_record, record, register
    from apexflow.sources import fastf1 as f1

    f1.configure_cache(tmp_path, shared_cache)
    src = f1.FastF1Source(2025, "Miami", "S", cache_dir=tmp_path, http_cache=shared_cache)
    session, facts = src.session(), src.facts()
    kept = from_record(json.loads(json.dumps(record(session, facts), default=str)))
    states = []
    for s, f in ((session, facts), kept):
        dsn = new_database()
        conn = psycopg2.connect(dsn)
        with transaction(conn) as cur:
            register(cur, s, f, "run-1")
        conn.close()
        states.append(snapshot(dsn, session.session_id))
    assert len(states[0]["laps"]) == 331 and len(states[0]["session_facts"]) >= 2 and states[0]["detections"]
    assert states[1] == states[0]
