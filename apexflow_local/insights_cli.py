"""``apexflow insights``: run the insights workflow on a stored session (locally: moto + PostgreSQL) and print
what it stored, the race story first; also what the automatic run after an ingest stored."""
from __future__ import annotations

import json
import os

from apexflow.errors import ContractError
from apexflow.query import insight_runs, sessions
from apexflow.storage.db import connect
from apexflow_local import step_functions

FLAGS = {"ok": "", "ungrounded": "  [UNGROUNDED: {ungrounded}]", "fallback": "  [fallback: {note}]",
         "incomplete": ""}  # its text opens with how far the analysis got
SCOPES = (("session", "session summary"), ("driver", "drivers"), ("detection", "critical detections"))


def run(session_id: str, provider: str | None = None, drivers: list[str] | None = None) -> dict:
    """Execute the state machine on demand for a stored session (local stack up); see ``collect``."""
    conn = connect(os.environ["DATABASE_URL"])
    try:
        with conn.cursor() as cur:
            if not sessions.exists(cur, session_id):
                raise ContractError(f"session {session_id!r} is not stored; ingest it first (apexflow ingest ...)")
    finally:
        conn.close()
    arn = os.environ["INSIGHTS_STATE_MACHINE_ARN"]
    return collect(session_id, step_functions.run(arn, session_id, provider, drivers))


def collect(session_id: str, execution: dict) -> dict:
    """A finished execution, its output (the run's totals) and the insights it stored."""
    if execution["status"] != "SUCCEEDED":
        raise ContractError(f"the insights workflow for {session_id} failed: {_cause(execution)}")
    conn = connect(os.environ["DATABASE_URL"])
    try:
        with conn.cursor() as cur:
            stored = [i for i in insight_runs.session_insights(cur, session_id)
                      if i["run_id"] == execution["output"]["run_id"]]
    finally:
        conn.close()
    return {"execution": execution, "summary": execution["output"], "insights": stored}


def _cause(execution: dict) -> str:
    """The last task error's message (Lambda's errorMessage), else the execution's status."""
    for event in reversed(execution["events"]):
        details = event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails")
        if details:
            try:
                return json.loads(details["cause"])["errorMessage"]
            except (ValueError, KeyError, TypeError):
                return details.get("cause") or details.get("error", "")
    return execution["status"]


def report(result: dict, scopes: tuple[str, ...] = ("session", "driver", "detection"), indent: str = "") -> str:
    """The run's totals, then its insights of ``scopes``: the session summary, drivers, explanations."""
    s = result["summary"]
    by_scope: dict[str, list[dict]] = {}
    for i in result["insights"]:
        by_scope.setdefault(i["scope"], []).append(i)
    statuses = ", ".join(f"{n} {k}" for k, n in sorted(s["statuses"].items()))
    lines = [f"insights for {s['session_id']} (run {s['run_id']}): {s['insights']} stored ({statuses}); "
             f"provider {_providers(result['insights'])}; {s['tokens']:,} tokens, "
             + (f"${s['cost_usd']:.4f}" if s["cost_usd"] is not None
                else f"cost unknown ({', '.join(s.get('unpriced') or ['model'])} not in the price table)")]
    for scope, title in SCOPES:
        if scope in scopes and by_scope.get(scope):
            lines += ["", title]
            for i in by_scope[scope]:
                flag = FLAGS[i["status"]].format(ungrounded="; ".join(i["ungrounded"]), note=i["note"])
                text = i["content"].splitlines()
                lines += [f"  {text[0]}{flag}", *(f"  {line}" for line in text[1:])]
    return "\n".join(indent + line if line else line for line in lines)


def _providers(insights: list[dict]) -> str:
    return ", ".join(sorted({f"{i['provider']} ({i['model']})" for i in insights}))
