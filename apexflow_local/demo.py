"""The local demo: one full trip through the real handlers on moto and embedded PostgreSQL."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from apexflow.query import sessions as query_sessions
from apexflow.report import render
from apexflow.settings import settings
from apexflow.simulator import SyntheticRace
from apexflow.simulator.evaluate import score
from apexflow.storage import registry
from apexflow.storage.db import connect, transaction
from apexflow_aws.config import client
from apexflow_local import insights_cli, step_functions
from apexflow_local.ingest_cli import invoke_ingest
from apexflow_local.stack import BUCKET, analyze_stream, local_stack


def run(seed: int = 7, laps: int = 6, dsn: str | None = None, reports: Path | None = None, persist: bool = False
        ) -> dict:
    """Ingest a synthetic race, stream it through analyze, which starts the insights workflow once the race is
    complete, and write the session report (an HTML page in ``reports``, default ``reports`` in the state
    folder); return what happened. With ``persist`` the raw data stays for later commands (``local_stack``)."""
    with local_stack(dsn=dsn, persist=persist) as dsn:
        return trip(seed, laps, dsn, reports)


def trip(seed: int, laps: int, dsn: str, reports: Path | None = None) -> dict:
    """The demo's trip inside a running local stack (whose S3 then holds the race's chunks)."""
    started = time.monotonic()
    conn = connect(dsn)
    with transaction(conn) as cur:  # a fresh trip: results of an earlier demo would be skipped as done
        registry.delete_session(cur, SyntheticRace(seed=seed, laps=laps).session().session_id)
    result = invoke_ingest({"source": "synthetic", "seed": seed, "laps": laps})
    session_id = result["session_id"]
    esm = analyze_stream(result["chunks"])
    execution = step_functions.automatic(os.environ["INSIGHTS_STATE_MACHINE_ARN"], session_id, result["run_id"])
    if execution is None:
        raise RuntimeError(f"analysis of {session_id} completed without starting the insights workflow")
    insights = insights_cli.collect(session_id, execution)
    with conn.cursor() as cur:
        overview = query_sessions.overview(cur, session_id)
        page = Path(reports or settings().home / "reports") / f"{session_id}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(render(cur, session_id))
    conn.close()
    prefix = result["location"].split(BUCKET + "/", 1)[1]
    manifest = json.loads(client("s3").get_object(Bucket=BUCKET, Key=prefix + "manifest.json")["Body"].read())
    truth = manifest["ground_truth"]
    return {"ingest": result, "overview": overview, "insights": insights, "truth": truth,
            "score": score(truth, overview["detections"]), "invocations": esm.invocations,
            "dead_letters": esm.failed_records, "seconds": round(time.monotonic() - started, 1),
            "report": str(page.resolve())}


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
    lines += ["", insights_cli.report(r["insights"], scopes=("session",), indent="  "),
              f"  (every insight: apexflow insights {o['session_id']})"]
    lines += ["", f"  session report: {r['report']}"]
    return "\n".join(lines)
