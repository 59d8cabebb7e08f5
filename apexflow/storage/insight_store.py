"""Writes of the insights workflow: runs, their token reservations, insights, and alert claims."""
from __future__ import annotations

import json

from psycopg2.extras import Json

INSIGHT_FIELDS = ("insight_id", "session_id", "scope", "entity_id", "detection_id", "run_id", "provider", "model",
                  "prompt_version", "status", "note", "content", "facts", "body", "ungrounded", "tokens_in",
                  "tokens_out", "cost_usd")


def upsert_insight(cur, insight: dict) -> None:
    """Store an insight; one per subject (session, driver or detection): a later run replaces it."""
    row = {**insight, **{k: Json(json.loads(json.dumps(insight[k], default=str)))
                         for k in ("facts", "body", "ungrounded")}}
    cur.execute(f"INSERT INTO insights ({', '.join(INSIGHT_FIELDS)}) VALUES "
                f"({', '.join(f'%({k})s' for k in INSIGHT_FIELDS)}) ON CONFLICT (insight_id) DO UPDATE SET "
                + ", ".join(f"{k} = EXCLUDED.{k}" for k in INSIGHT_FIELDS[5:]) + ", created_at = now()", row)


def start_insight_run(cur, run: dict) -> None:
    cur.execute("INSERT INTO insight_runs (run_id, session_id, provider, model, facts, token_budget) "
                "VALUES (%(run_id)s, %(session_id)s, %(provider)s, %(model)s, %(facts)s, %(token_budget)s)",
                {**run, "facts": Json(json.loads(json.dumps(run["facts"], default=str)))})


def reserve_tokens(cur, run_id: str, tokens: int) -> bool:
    """Take ``tokens`` from a run's budget if they are left (one statement: concurrent tasks cannot overdraw)."""
    cur.execute("UPDATE insight_runs SET tokens_used = tokens_used + %s WHERE run_id = %s "
                "AND tokens_used + %s <= token_budget", (tokens, run_id, tokens))
    return cur.rowcount == 1


def adjust_tokens(cur, run_id: str, delta: int) -> None:
    cur.execute("UPDATE insight_runs SET tokens_used = tokens_used + %s WHERE run_id = %s", (delta, run_id))


def finish_insight_run(cur, run_id: str) -> None:
    cur.execute("UPDATE insight_runs SET finished_at = now() WHERE run_id = %s", (run_id,))


def claim_alert(cur, detection_id: str, session_id: str, run_id: str) -> bool:
    """True the first time a detection is claimed for an alert, False ever after."""
    cur.execute("INSERT INTO alerts (detection_id, session_id, run_id) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (detection_id, session_id, run_id))
    return cur.rowcount == 1


def release_alert(cur, detection_id: str) -> None:
    """Forget a claim whose alert could not be published, so a later run alerts again."""
    cur.execute("DELETE FROM alerts WHERE detection_id = %s", (detection_id,))
