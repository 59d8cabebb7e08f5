"""The local demo: one full trip through the real handlers on moto and embedded PostgreSQL."""
from __future__ import annotations

import json
import time

from tqdm import tqdm

from apexflow.evaluate import score
from apexflow.query import sessions
from apexflow.query.insights import insights as insights_of
from apexflow.simulator import SyntheticRace
from apexflow.storage import repository
from apexflow.storage.db import connect, transaction
from apexflow_aws.config import client
from apexflow_aws.local.esm import LambdaContext
from apexflow_aws.local.handlers import load
from apexflow_aws.local.ingest_cli import invoke_ingest
from apexflow_aws.local.stack import BUCKET, analyze_stream, local_stack


def run(seed: int = 7, laps: int = 6, dsn: str | None = None) -> dict:
    """Ingest a synthetic race, stream it through analyze, write insights; return what happened."""
    with local_stack(dsn=dsn) as dsn:
        return trip(seed, laps, dsn)


def trip(seed: int, laps: int, dsn: str) -> dict:
    """The demo's trip inside a running local stack (whose S3 then holds the race's chunks)."""
    started = time.monotonic()
    conn = connect(dsn)
    with transaction(conn) as cur:  # a fresh trip: results of an earlier demo would be skipped as done
        repository.delete_session(cur, SyntheticRace(seed=seed, laps=laps).session().session_id)
    result = invoke_ingest({"source": "synthetic", "seed": seed, "laps": laps})
    session_id = result["session_id"]
    esm = analyze_stream(result["chunks"])
    with conn.cursor() as cur:
        entities = sessions.entity_ids(cur, session_id)
    insights = load("insights")
    for entity_id in tqdm([None, *entities], desc="insights", unit="summary"):
        insights.handler({"session_id": session_id, "entity_id": entity_id},
                         LambdaContext("apexflow-insights-local"))
    with conn.cursor() as cur:
        overview = repository.session_overview(cur, session_id)
        stored = insights_of(session_id).all(cur)
    conn.close()
    prefix = result["location"].split(BUCKET + "/", 1)[1]
    manifest = json.loads(client("s3").get_object(Bucket=BUCKET, Key=prefix + "manifest.json")["Body"].read())
    truth = manifest["ground_truth"]
    return {"ingest": result, "overview": overview, "insights": stored, "truth": truth,
            "score": score(truth, overview["detections"]), "invocations": esm.invocations,
            "dead_letters": esm.failed_records, "seconds": round(time.monotonic() - started, 1)}


def report(r: dict) -> str:
    o, ing = r["overview"], r["ingest"]
    laps = sum(e["laps"] for e in o["entities"])
    lines = ["", f"ApexFlow demo: {o['identity'].get('event')} (seed {o['identity'].get('seed')}), "
                 f"session {o['session_id']}, run {ing['run_id']}",
             f"  cars {len(o['entities'])}   samples {o['samples']:,}   chunks {o['chunks']}   laps {laps}   "
             f"raw {ing['bytes'] / 1e6:.2f} MB at {ing['location']}",
             f"  analyze invocations {r['invocations']}   dead-lettered records {r['dead_letters']}   "
             f"time {r['seconds']} s", "",
             "  detections against injected ground truth",
             f"  {'kind':<24}{'injected':>9}{'found':>7}{'missed':>8}{'false':>7}"]
    for kind, s in r["score"].items():
        if s["injected"]:
            lines.append(f"  {kind:<24}{s['injected']:>9}{s['found']:>7}{s['missed']:>8}{s['false_alarms']:>7}")
    others = ", ".join(f"{s['false_alarms']} {kind}" for kind, s in r["score"].items() if not s["injected"])
    if others:
        lines.append(f"  also found (no ground truth to score them): {others}")
    lines += ["", "  session summary"]
    lines += ["    " + line for line in r["insights"][0]["content"].splitlines()]
    return "\n".join(lines)
