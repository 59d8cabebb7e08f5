"""The tasks of the insights state machine, on a database connection (the handler only adapts events).

``start`` snapshots the session's facts into a run; ``summarize`` writes one subject (the session, a driver,
a critical detection) through a provider; ``fallback`` stores the offline record of a subject whose task
failed every retry; ``finish`` makes sure every subject of the run has a stored result. A critical
detection's record says whether to alert: the first run to claim its id does.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable

from apexflow.errors import SessionNotFound
from apexflow.insights import writer
from apexflow.insights.facts import build, for_scope, subjects
from apexflow.insights.pricing import DEFAULT_TOKEN_BUDGET
from apexflow.insights.prompt import PROMPT_VERSION
from apexflow.insights.provider import Provider
from apexflow.query import insight_runs
from apexflow.storage import insight_store
from apexflow.storage.db import transaction

logger = logging.getLogger(__name__)


def start(conn, session_id: str, provider: str, model: str, drivers: list[str] | None = None,
          token_budget: int = DEFAULT_TOKEN_BUDGET) -> dict:
    """A new run: its facts snapshot and what it writes about (``drivers`` limits it to those)."""
    with transaction(conn) as cur:
        inputs = insight_runs.insight_inputs(cur, session_id)
        if inputs is None:
            raise SessionNotFound(f"session {session_id!r} is not registered; ingest it first")
        facts = build(inputs)
        unknown = sorted(set(drivers or ()) - set(facts["drivers"]))
        if unknown:
            raise ValueError(f"session {session_id!r} has no driver {', '.join(unknown)}; "
                             f"its drivers: {', '.join(facts['drivers'])}")
        run_id = uuid.uuid4().hex[:16]
        insight_store.start_insight_run(cur, {"run_id": run_id, "session_id": session_id, "provider": provider,
                                           "model": model, "facts": facts, "token_budget": token_budget})
    return {"run_id": run_id, "session_id": session_id, "provider": provider, **subjects(facts, drivers)}


def summarize(conn, providers: Callable[[str, str], Provider], run_id: str, scope: str, key: str | None = None
              ) -> dict:
    """One subject through the run's provider (``providers(name, model)`` gives it)."""
    run = run_of(conn, run_id)
    facts = for_scope(run["facts"], scope, key)
    record = writer.write(providers(run["provider"], run["model"]), scope, facts, _Budget(conn, run_id))
    return _store(conn, run, scope, key, facts, record)


def fallback(conn, run_id: str, scope: str, key: str | None, error: dict | None) -> dict:
    """The offline record, marked as a fallback with the error that led to it."""
    run = run_of(conn, run_id)
    facts = for_scope(run["facts"], scope, key)
    error = error or {}
    if error.get("Cause"):
        logger.warning("insight %s %s of run %s falls back: %s: %s", scope, key or "", run_id,
                       error.get("Error"), error["Cause"])
    return _store(conn, run, scope, key, facts, writer.offline(scope, facts, "fallback", reason(error)))


def release(conn, detection_id: str) -> dict:
    with transaction(conn) as cur:
        insight_store.release_alert(cur, detection_id)
    return {"released": detection_id}


def finish(conn, run_id: str, drivers: list[str], critical: list[str]) -> dict:
    """Store a fallback for any subject left without a result of this run; the run's totals."""
    with transaction(conn) as cur:
        done = {(i["scope"], i["detection_id"] if i["scope"] == "detection" else i["entity_id"])
                for i in insight_runs.run_insights(cur, run_id)}
    wanted = [("session", None), *(("driver", d) for d in drivers), *(("detection", d) for d in critical)]
    for scope, key in wanted:
        if (scope, key) not in done:
            fallback(conn, run_id, scope, key, {"Error": "NoResult", "Cause": "the workflow ended without one"})
    with transaction(conn) as cur:
        insight_store.finish_insight_run(cur, run_id)
        stored = insight_runs.run_insights(cur, run_id)
        run = insight_runs.insight_run(cur, run_id)
    assert run is not None  # the run's insights were just stored against it
    statuses: dict[str, int] = {}
    for i in stored:
        statuses[i["status"]] = statuses.get(i["status"], 0) + 1
    unpriced = sorted({run["model"] for i in stored if i["cost_usd"] is None and i["tokens_in"] + i["tokens_out"]})
    return {"run_id": run_id, "session_id": run["session_id"], "insights": len(stored), "statuses": statuses,
            "tokens": sum(i["tokens_in"] + i["tokens_out"] for i in stored),
            "cost_usd": None if unpriced else round(sum(i["cost_usd"] or 0 for i in stored), 6),
            "unpriced": unpriced}


def insight_id(session_id: str, scope: str, key: str | None) -> str:
    return hashlib.sha256("|".join([session_id, scope, key or ""]).encode()).hexdigest()[:24]


def run_of(conn, run_id: str) -> dict:
    with transaction(conn) as cur:
        run = insight_runs.insight_run(cur, run_id)
    if run is None:
        raise LookupError(f"insight run {run_id!r} not found")
    return run


def incomplete(record: dict, session: dict) -> dict:
    """A record about a session whose analysis stopped short (an ingestion killed midway) says so: status
    ``incomplete`` (unless already a fallback or ungrounded) and a first line saying how far analysis got."""
    if "chunks_expected" not in session:
        return record
    head = (f"Analysis is incomplete: {session['chunks_analyzed']} of {session['chunks_expected']} chunks "
            "analyzed, so detections may be missing; re-run the ingestion, then the insights.")
    return {**record, "status": "incomplete" if record["status"] == "ok" else record["status"],
            "content": f"{head}\n{record['content']}"}


def reason(error: dict) -> str:
    """One line for a stored fallback's ``note`` (which the API returns): the error's class and message,
    without the stack trace or any file path of the server."""
    cause = str(error.get("Cause", ""))
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        cause = str(parsed.get("errorMessage", ""))
    first = next((line for line in cause.splitlines() if line.strip() and not line.startswith(("Traceback", " "))),
                 "")
    first = re.sub(r"(?<![:/\w.])(?:[A-Za-z]:)?(?:[\\/][\w.@+-]+){2,}[\\/]?", "<path>", first).strip()
    return f"{error.get('Error', 'no result')}: {first}"[:300].rstrip(": ")


def _store(conn, run: dict, scope: str, key: str | None, facts: dict, record: dict) -> dict:
    session_id = run["session_id"]
    record = incomplete(record, facts["session"])
    insight = {**record, "insight_id": insight_id(session_id, scope, key), "session_id": session_id, "scope": scope,
               "entity_id": key if scope == "driver" else facts.get("detection", {}).get("driver"),
               "detection_id": key if scope == "detection" else None, "run_id": run["run_id"],
               "prompt_version": PROMPT_VERSION, "facts": facts}
    with transaction(conn) as cur:
        insight_store.upsert_insight(cur, insight)
        alert = scope == "detection" and key is not None and insight_store.claim_alert(cur, key, session_id,
                                                                                    run["run_id"])
    out = {"insight_id": insight["insight_id"], "scope": scope, "key": key, "status": record["status"]}
    if scope == "detection":
        d, s = facts["detection"], facts["session"]
        subject = f"ApexFlow critical {d['kind']}: {d['driver'] or 'session'}" + (
            f" lap {d['lap']}" if d["lap"] is not None else "") + f" ({s['event']} {s['session']})"
        out.update(detection_id=key, alert=alert, subject=subject[:100],
                   message=f"{record['content']}\n\nSession {session_id}, detection {key}, insight {record['status']}.")
    return out


class _Budget:
    """The run's token budget in its database row."""

    def __init__(self, conn, run_id: str):
        self.conn, self.run_id = conn, run_id

    def reserve(self, tokens: int) -> bool:
        with transaction(self.conn) as cur:
            return insight_store.reserve_tokens(cur, self.run_id, tokens)

    def settle(self, reserved: int, used: int) -> None:
        with transaction(self.conn) as cur:
            insight_store.adjust_tokens(cur, self.run_id, used - reserved)
