"""The tasks of the insights state machine, on a database connection (the handler only adapts events).

``start`` snapshots the session's facts into a run; ``summarize`` writes one subject (the session, a driver,
a critical detection) through a provider; ``fallback`` stores the offline record of a subject whose task
failed every retry; ``finish`` makes sure every subject of the run has a stored result. A critical
detection's record says whether to alert: the first run to claim its id does.
"""
from __future__ import annotations

import hashlib
import uuid
from typing import Callable

from apexflow.insights import writer
from apexflow.insights.facts import build, for_scope, subjects
from apexflow.insights.pricing import DEFAULT_TOKEN_BUDGET
from apexflow.insights.prompt import PROMPT_VERSION
from apexflow.insights.provider import Provider
from apexflow.query import insight_runs
from apexflow.storage import repository
from apexflow.storage.db import transaction


class SessionNotFound(LookupError):
    pass


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
        repository.start_insight_run(cur, {"run_id": run_id, "session_id": session_id, "provider": provider,
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
    note = f"{error.get('Error', 'no result')}: {str(error.get('Cause', ''))[:300]}"
    return _store(conn, run, scope, key, facts, writer.offline(scope, facts, "fallback", note))


def release(conn, detection_id: str) -> dict:
    with transaction(conn) as cur:
        repository.release_alert(cur, detection_id)
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
        repository.finish_insight_run(cur, run_id)
        stored = insight_runs.run_insights(cur, run_id)
        run = insight_runs.insight_run(cur, run_id)
    statuses: dict[str, int] = {}
    for i in stored:
        statuses[i["status"]] = statuses.get(i["status"], 0) + 1
    return {"run_id": run_id, "session_id": run["session_id"], "insights": len(stored), "statuses": statuses,
            "tokens": sum(i["tokens_in"] + i["tokens_out"] for i in stored),
            "cost_usd": round(sum(i["cost_usd"] or 0 for i in stored), 6)}


def insight_id(session_id: str, scope: str, key: str | None) -> str:
    return hashlib.sha256("|".join([session_id, scope, key or ""]).encode()).hexdigest()[:24]


def run_of(conn, run_id: str) -> dict:
    with transaction(conn) as cur:
        run = insight_runs.insight_run(cur, run_id)
    if run is None:
        raise LookupError(f"insight run {run_id!r} not found")
    return run


def _store(conn, run: dict, scope: str, key: str | None, facts: dict, record: dict) -> dict:
    session_id = run["session_id"]
    insight = {**record, "insight_id": insight_id(session_id, scope, key), "session_id": session_id, "scope": scope,
               "entity_id": key if scope == "driver" else facts.get("detection", {}).get("driver"),
               "detection_id": key if scope == "detection" else None, "run_id": run["run_id"],
               "prompt_version": PROMPT_VERSION, "facts": facts}
    with transaction(conn) as cur:
        repository.upsert_insight(cur, insight)
        alert = scope == "detection" and repository.claim_alert(cur, key, session_id, run["run_id"])
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
            return repository.reserve_tokens(cur, self.run_id, tokens)

    def settle(self, reserved: int, used: int) -> None:
        with transaction(self.conn) as cur:
            repository.adjust_tokens(cur, self.run_id, used - reserved)
