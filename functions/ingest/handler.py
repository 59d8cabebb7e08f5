"""Ingest: a source request (scheduled or on demand) -> chunks in S3 and Kinesis, session registered.

On demand: ``{"source": "fastf1", "year": 2025, "event": "Miami", "session": "S"}`` (or
``synthetic``, ``csv``, ``jsonl``; see ``apexflow.sources.from_spec``), optional ``speed`` (N x real
time; default as fast as possible) and ``chunk_seconds``. With ``"action": "resolve"`` an F1 request is
only matched against the schedule: ``{"session_id", "year", "event", "session"}``, or ``{"error", "parameter"}``.

With ``"action": "reprocess"`` and ``session_id``: the session's database state rebuilt from its current run in
S3 and its chunks streamed again (``apexflow.pipeline.ingest.reprocess``).

Scheduled (EventBridge Scheduler): ``{"source": "schedule", "hours": 6}`` ingests every F1 session
of FastF1's event schedule that ended in the last ``hours`` and is not registered yet, so
running it twice ingests nothing twice. ``now`` (ISO) may be given to backfill a past window.
"""
from datetime import UTC, datetime

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from apexflow.errors import ContractError
from apexflow.pipeline.ingest import ingest, reprocess
from apexflow.pipeline.ingest import register as register_session
from apexflow.pipeline.replay import PacedStream
from apexflow.settings import settings
from apexflow.sources import from_spec
from apexflow.storage import registry
from apexflow.storage.db import transaction
from apexflow_aws.config import client, connection
from apexflow_aws.insights_starter import start_when_complete
from apexflow_aws.raw_store import S3RawStore
from apexflow_aws.stream import KinesisStream

logger, tracer, metrics = Logger(), Tracer(), Metrics()


def register(session, facts, run_id):
    with transaction(connection()) as cur:
        return register_session(cur, session, facts, run_id)


def ingest_one(spec: dict, progress=None) -> dict:
    stream = KinesisStream(client("kinesis"), settings().need("stream_name"))
    if spec.get("speed") is not None:
        stream = PacedStream(stream, float(spec["speed"]))
    raw = S3RawStore(client("s3"), settings().need("raw_bucket"))
    result = ingest(from_spec(spec), raw, stream,
                    register, chunk_seconds=float(spec.get("chunk_seconds", 10.0)), progress=progress)
    start_when_complete(connection(), [result.session.session_id])  # no car data: complete at registration
    doc = raw.read_manifest(result.session)
    missing = doc.get("missing", {})
    metrics.add_metric("SamplesIngested", MetricUnit.Count, result.samples)
    logger.info("ingested", session_id=result.session.session_id, run_id=result.run_id, chunks=result.chunks)
    return {"session_id": result.session.session_id, "profile": result.session.profile,
            "profile_chosen": result.session.meta.get("profile_chosen", ""), "run_id": result.run_id,
            "entities": result.entities,
            "chunks": result.chunks, "samples": result.samples, "bytes": result.bytes,
            "location": result.location, "registered": result.registered, "laps": doc.get("counts", {}).get("laps", 0),
            "missing": sorted(missing)}


def reprocess_one(event: dict, progress=None) -> dict:
    sid = event.get("session_id")
    result = reprocess(S3RawStore(client("s3"), settings().need("raw_bucket")),
                       KinesisStream(client("kinesis"), settings().need("stream_name")),
                       lambda: transaction(connection()), sid, progress=progress)
    start_when_complete(connection(), [sid])  # no car data: complete at registration
    logger.info("reprocessed", session_id=sid, run_id=result.run_id, chunks=result.chunks)
    return {"session_id": sid, "run_id": result.run_id, "entities": result.entities, "chunks": result.chunks,
            "samples": result.samples, "bytes": result.bytes}


def resolve(spec: dict) -> dict:
    try:
        return from_spec({**spec, "source": "fastf1"}).request()
    except ContractError as e:
        return {"error": str(e), "parameter": e.parameter}


def ingest_scheduled(event: dict) -> dict:
    from apexflow.pipeline.schedule import due_sessions, years_to_check
    from apexflow.sources.fastf1 import schedule

    hours = float(event.get("hours", 6))
    now = (datetime.fromisoformat(event["now"].replace("Z", "+00:00")) if event.get("now")
           else datetime.now(UTC))
    rows = [row for year in years_to_check(now, hours) for row in schedule(year)]
    candidates = due_sessions(rows, now, hours, ingested=set())
    with transaction(connection()) as cur:
        done = registry.registered_sessions(cur, [d.session_id for d in candidates])
    ingested, failed = [], []
    for due in candidates:
        if due.session_id in done:
            continue
        try:
            ingested.append(ingest_one({**due.spec(), "chunk_seconds": event.get("chunk_seconds", 10.0)}))
        except Exception as e:  # noqa: BLE001 - try the others, then fail the invocation
            logger.exception("scheduled ingest failed", session_id=due.session_id)
            failed.append({"session_id": due.session_id, "error": str(e)})
    out = {"window_hours": hours, "now": now.isoformat(), "ingested": ingested,
           "already_ingested": sorted(done), "failed": failed}
    if failed:
        raise RuntimeError(f"scheduled ingestion failed for {[f['session_id'] for f in failed]}: {out}")
    return out


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context, progress=None):
    """``progress`` wraps the stream's batches (the local command's progress bar); Lambda passes none."""
    if event.get("action") == "resolve":
        return resolve(event)
    if event.get("action") == "reprocess":
        return reprocess_one(event, progress)
    if event.get("source") == "schedule":
        return ingest_scheduled(event)
    return ingest_one(event, progress)
