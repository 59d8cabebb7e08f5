"""``apexflow insights``: run the insights workflow on a stored session (locally: moto + PostgreSQL) and print
what it stored, the race story first."""
from __future__ import annotations

import os

from apexflow import queries
from apexflow.storage.db import connect
from apexflow_aws.local import workflow

FLAGS = {"ok": "", "ungrounded": "  [UNGROUNDED: {ungrounded}]", "fallback": "  [fallback: {note}]"}


def run(session_id: str, provider: str | None = None, drivers: list[str] | None = None) -> dict:
    """Execute the state machine for a session (local stack already up); the execution and the stored insights."""
    execution = workflow.run(os.environ["INSIGHTS_STATE_MACHINE_ARN"], session_id, provider, drivers)
    if execution["status"] != "SUCCEEDED":
        failed = next((e for e in reversed(execution["events"]) if e["type"] == "ExecutionFailed"), {})
        cause = failed.get("executionFailedEventDetails", {}).get("cause", execution["status"])
        raise SystemExit(f"apexflow: error: the insights workflow for {session_id} failed: {cause}")
    conn = connect(os.environ["DATABASE_URL"])
    try:
        with conn.cursor() as cur:
            stored = [i for i in queries.session_insights(cur, session_id)
                      if i["run_id"] == execution["output"]["run_id"]]
    finally:
        conn.close()
    return {"execution": execution, "summary": execution["output"], "insights": stored}


SCOPES = (("session", "session summary"), ("driver", "drivers"), ("detection", "critical detections"))


def report(result: dict, scopes: tuple[str, ...] = ("session", "driver", "detection"), indent: str = "") -> str:
    """The run's totals, then its insights of ``scopes``: the session summary, drivers, explanations."""
    s = result["summary"]
    by_scope: dict[str, list[dict]] = {}
    for i in result["insights"]:
        by_scope.setdefault(i["scope"], []).append(i)
    statuses = ", ".join(f"{n} {k}" for k, n in sorted(s["statuses"].items()))
    lines = [f"insights for {s['session_id']} (run {s['run_id']}): {s['insights']} stored ({statuses}); "
             f"provider {_providers(result['insights'])}; {s['tokens']:,} tokens, ${s['cost_usd']:.4f}"]
    for scope, title in SCOPES:
        if scope in scopes and by_scope.get(scope):
            lines += ["", title]
            for i in by_scope[scope]:
                flag = FLAGS[i["status"]].format(ungrounded=", ".join(i["ungrounded"]), note=i["note"])
                text = i["content"].splitlines()
                lines += [f"  {text[0]}{flag}", *(f"  {line}" for line in text[1:])]
    return "\n".join(indent + line if line else line for line in lines)


def _providers(insights: list[dict]) -> str:
    return ", ".join(sorted({f"{i['provider']} ({i['model']})" for i in insights}))
