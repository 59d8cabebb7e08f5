"""One trip through the real handlers: ingest -> S3 + Kinesis (moto) -> analyze -> PostgreSQL."""
import base64
import hashlib
import json
import random
import zlib
from dataclasses import replace

import psycopg2
import pytest

from apexflow_aws.config import client
from apexflow_aws.dead_letter import S3DeadLetters
from apexflow_aws.mapping import ANALYZE
from apexflow_aws.raw_store import S3RawStore
from apexflow_local.esm import EventSourceMapping, LambdaContext, kinesis_event
from apexflow_local.handlers import load
from apexflow_local.stack import BUCKET, FAILED_BUCKET, STREAM, local_stack

SPEC = {"source": "synthetic", "seed": 3, "laps": 2}


def snapshot(dsn):
    """Everything analyze writes, minus wall-clock columns."""
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT session_id, entity_id, seq, t_start, t_end, n_samples, stats FROM telemetry_chunks "
                    "ORDER BY 1, 2, 3")
        chunks = cur.fetchall()
        cur.execute("SELECT detection_id, kind, severity, score, t_start, t_end, evidence FROM detections ORDER BY 1")
        dets = cur.fetchall()
        cur.execute("SELECT session_id, entity_id, state_version, last_seq, state FROM processing_checkpoints "
                    "ORDER BY 1, 2")
        states = cur.fetchall()
        cur.execute("SELECT session_id, bin, samples, braking, speed_cs, minute FROM field_profile ORDER BY 1, 6, 2")
        field = cur.fetchall()
    conn.close()
    return chunks, dets, states, field


def ingest(spec=SPEC):
    return load("ingest").handler(spec, LambdaContext("ingest"))


def test_every_batch_delivered_twice_leaves_the_database_as_after_the_first(local):
    analyze = load("analyze").handler
    second_changed = []

    def twice(event, context):
        first = analyze(event, context)
        after_first = snapshot(local)
        again = analyze(event, context)
        second_changed.append(snapshot(local) != after_first)
        assert again == first
        return first

    result = ingest()
    esm = EventSourceMapping(client("kinesis"), STREAM, twice, replace(ANALYZE, batch_size=25))
    esm.drain()
    assert esm.invocations > 4 and not any(second_changed)
    chunks, dets, states, field = snapshot(local)
    assert len(chunks) == result["chunks"]
    assert sum(c[5] for c in chunks) == result["samples"]
    assert len(states) == result["entities"]
    assert sum(f[2] for f in field) == result["samples"]  # every sample in the field once, re-delivery or not


def recorded_lanes(spec: dict, batch_size: int) -> dict[tuple[str, int], list[dict]]:
    """The analyze events of one ingest, as the mapping cuts them, per shard and lane, in lane order."""
    lanes: dict[tuple[str, int], list[dict]] = {}

    def record(event, context):
        first = event["Records"][0]
        lane = zlib.crc32(first["kinesis"]["partitionKey"].encode()) % ANALYZE.parallelization_factor
        lanes.setdefault((first["eventID"].split(":")[0], lane), []).append(event)
        return {"batchItemFailures": []}

    ingest(spec)
    EventSourceMapping(client("kinesis"), STREAM, record, replace(ANALYZE, batch_size=batch_size)).drain()
    return lanes


def without_field_quotes(end):
    """A snapshot minus what an incident quotes of the field: the field as it stood when its batch ran,
    which depends on how far the other lanes had got (the verdict does not here; see the README)."""
    chunks, dets, states, field = end
    dets = [(*d[:-1], {k: v for k, v in d[-1].items() if k not in FIELD_QUOTES}) if d[1] == "incident" else d
            for d in dets]
    return chunks, dets, states, field


FIELD_QUOTES = {"field_speed", "reference", "loss"}


def test_batches_delivered_twice_and_lanes_interleaved_in_any_order_end_as_one_clean_delivery(new_database):
    """The same batches (the mapping cuts them the same way again), each delivered twice, the shards' lanes
    interleaved at random: chunks, detections (kind, severity, score, times, evidence but the field's
    figures), detector states and field sums end as after one delivery in order."""
    ends = []
    for order in (None, 1, 2, 3):
        with local_stack(dsn=new_database()) as dsn:
            lanes = list(recorded_lanes(SPEC, batch_size=40).values())
            analyze, rng = load("analyze").handler, random.Random(order)
            while any(lanes):
                lane = rng.choice([q for q in lanes if q]) if order else next(q for q in lanes if q)
                event = lane.pop(0)
                for _ in range(1 if order is None else 2):
                    analyze(event, LambdaContext())
            ends.append(without_field_quotes(snapshot(dsn)))
    assert len(ends[0][0]) > 0 and any(d[1] == "incident" for d in ends[0][1])
    assert all(end == ends[0] for end in ends[1:])


def test_the_database_lost_mid_batch_fails_the_batch_which_is_retried_and_completes(local, monkeypatch):
    """The analyze connection is cut in the middle of a batch's transaction: nothing of the batch is
    visible, the whole batch fails and is retried on a new connection, and the data ends complete."""
    from apexflow.storage import field_store

    real, cut = field_store.add_field_profile, []

    def cut_then_write(cur, session_id, rows):
        if not cut:
            cut.append(snapshot(local))  # another reader, mid-transaction
            cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return real(cur, session_id, rows)

    analyze, failures = load("analyze").handler, []

    def watched(event, context):
        before = snapshot(local)
        try:
            return analyze(event, context)
        except psycopg2.OperationalError:
            failures.append(snapshot(local) == before)
            raise

    monkeypatch.setattr(field_store, "add_field_profile", cut_then_write)
    result = ingest()
    registered = snapshot(local)  # the session's lap-level detections, nothing analyzed yet
    esm = EventSourceMapping(client("kinesis"), STREAM, watched, replace(ANALYZE, batch_size=100))
    esm.drain()
    assert cut == [registered] and failures == [True]  # nothing half-written, before or after the cut
    chunks, _, states, field = snapshot(local)
    assert len(chunks) == result["chunks"] and esm.failed_records == 0
    assert len(states) == result["entities"] and sum(f[2] for f in field) == result["samples"]


def test_ingestion_killed_midway_and_run_again_leaves_no_gap_no_duplicate_and_a_true_manifest(local, monkeypatch):
    kinesis = client("kinesis")
    real, calls = kinesis.put_records, []

    def killed_after_four(**kw):
        calls.append(1)
        if len(calls) > 4:
            raise SystemExit("killed")
        return real(**kw)

    monkeypatch.setattr(kinesis, "put_records", killed_after_four)
    with pytest.raises(SystemExit):
        ingest()
    monkeypatch.setattr(kinesis, "put_records", real)
    esm = EventSourceMapping(kinesis, STREAM, load("analyze").handler)
    esm.drain()  # what got out before the kill is analyzed
    partial = len(snapshot(local)[0])
    again = ingest()  # the same run: registered already, every record streamed again
    esm.drain()
    assert not again["registered"] and 0 < partial < again["chunks"]
    chunks, *_ = snapshot(local)
    s3 = client("s3")
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=f"raw/synthetic/{again['session_id']}/manifest.json")
                          ["Body"].read())
    assert manifest["run_id"] == again["run_id"] and manifest["counts"]["chunks"] == again["chunks"]
    assert sorted(f"{c[1]}/{c[2]:08d}" for c in chunks) == sorted(manifest["checksums"])  # no gap, no double
    assert sum(c[5] for c in chunks) == manifest["counts"]["samples"]
    keys = list(manifest["checksums"])
    bodies = S3RawStore(s3, BUCKET).read_chunks("synthetic", again["session_id"], keys)
    assert [hashlib.sha256(b).hexdigest() for b in bodies] == [manifest["checksums"][k] for k in keys]


def test_a_malformed_record_fails_alone_and_is_kept_with_its_payload(local):
    result = ingest()
    kinesis = client("kinesis")
    garbage = b"AXFC" + b"\x01\x00" + b"\xff" * 30
    kinesis.put_record(StreamName=STREAM, PartitionKey=f"{result['session_id']}/VER", Data=garbage)
    dead = S3DeadLetters(client("s3"), FAILED_BUCKET)
    esm = EventSourceMapping(kinesis, STREAM, load("analyze").handler, replace(ANALYZE, batch_size=50),
                             on_failure=dead)
    esm.drain()
    chunks, *_ = snapshot(local)
    assert len(chunks) == result["chunks"]  # every good chunk committed, in its batch or a retry
    assert esm.failed_records == 1
    [letter] = dead.list()
    assert letter["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert base64.b64decode(letter["records"][0]["data"]) == garbage
    conn = psycopg2.connect(local)
    with conn.cursor() as cur:  # what the pipeline-health dashboard shows
        cur.execute("SELECT partition_key, deliveries, error FROM rejected_records")
        [(key, deliveries, error)] = cur.fetchall()
        cur.execute("SELECT count(*) FROM telemetry_chunks WHERE arrived_at IS NULL OR arrived_at > processed_at")
        unstamped = cur.fetchone()[0]
    conn.close()
    assert key == f"{result['session_id']}/VER" and deliveries == esm.settings.retry_attempts + 1
    assert "malformed chunk" in error
    assert unstamped == 0


def test_bad_records_are_reported_as_batch_item_failures(local):
    ingest()
    kinesis = client("kinesis")
    desc = kinesis.describe_stream(StreamName=STREAM)["StreamDescription"]
    shard = desc["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=it["ShardIterator"], Limit=5)["Records"]
    assert len(records) == 5
    records[2] = {**records[2], "Data": b"not a chunk"}
    event = kinesis_event(records, shard, desc["StreamARN"], "us-east-1")
    response = load("analyze").handler(event, LambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": records[2]["SequenceNumber"]}]}
    chunks, *_ = snapshot(local)
    assert len(chunks) == 4


def test_a_batch_of_nothing_but_bad_records_is_a_partial_response_with_its_metric(local, monkeypatch, capsys):
    """Not a function error: every record is listed as failed, and RecordsFailed still reaches CloudWatch."""
    ingest()
    kinesis = client("kinesis")
    desc = kinesis.describe_stream(StreamName=STREAM)["StreamDescription"]
    shard = desc["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = [{**r, "Data": b"AXFC garbage"} for r in
               kinesis.get_records(ShardIterator=it["ShardIterator"], Limit=3)["Records"]]
    from aws_lambda_powertools import Metrics

    Metrics().clear_metrics()  # metrics are shared by every handler loaded; earlier tests ran them disabled
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capsys.readouterr()
    response = load("analyze").handler(kinesis_event(records, shard, desc["StreamARN"], "us-east-1"), LambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": r["SequenceNumber"]} for r in records]}
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [(m["RecordsFailed"], m["ChunksProcessed"]) for m in emf] == [([3.0], [0.0])]


def test_reingesting_the_same_data_is_a_no_op_and_new_data_replaces_the_run(local):
    first = ingest()
    again = ingest()
    assert first["run_id"] == again["run_id"] and first["registered"] and not again["registered"]
    other = ingest({**SPEC, "chunk_seconds": 5.0})
    assert other["run_id"] != first["run_id"] and other["registered"]
    s3 = client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    runs = {k.split("/runs/")[1].split("/")[0] for k in keys if "/runs/" in k}
    assert runs == {other["run_id"]}
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=f"raw/synthetic/{other['session_id']}/manifest.json")
                          ["Body"].read())
    assert manifest["run_id"] == other["run_id"] and len(manifest["checksums"]) == other["chunks"]


def test_a_changed_reingest_replaces_the_old_run_even_with_its_records_still_in_the_stream(dsn):
    """Run A's records lag in the stream behind run B's registration: analyze drops them, so the database
    holds run B alone, exactly as a clean ingest of B leaves it (one shard and A's records in batches of
    their own, so B's batches are the same both times: the field a batch sees depends on its boundaries)."""
    with local_stack(shards=1, dsn=dsn):
        old = ingest()
        new = ingest({**SPEC, "chunk_seconds": 5.0})  # same session, other chunks under the same sequence numbers
        assert new["run_id"] != old["run_id"]
        one_lane = replace(ANALYZE, batch_size=old["chunks"], parallelization_factor=1)
        esm = EventSourceMapping(client("kinesis"), STREAM, load("analyze").handler, one_lane)
        esm.drain()  # A's records first, then B's
        replaced = snapshot(dsn)
        assert len(replaced[0]) == new["chunks"] and sum(c[5] for c in replaced[0]) == new["samples"]
        conn = psycopg2.connect(dsn)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT run_id FROM sessions")
            assert cur.fetchone()[0] == new["run_id"]
            cur.execute("DELETE FROM sessions")
        conn.close()
        assert ingest({**SPEC, "chunk_seconds": 5.0})["registered"]  # B alone, on a clean database
        esm.drain()
        assert snapshot(dsn) == replaced


def test_unknown_source_is_a_clear_error(local):
    from apexflow.errors import ContractError

    with pytest.raises(ContractError, match="unknown source 'nope'; known sources:"):
        ingest({"source": "nope"})
