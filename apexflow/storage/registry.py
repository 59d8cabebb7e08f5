"""Writes of the session aggregate: registration, its entities, laps, track status and facts (also as a live
session completes them), the run lock analyze takes, deletion. Every write is idempotent."""
from __future__ import annotations

import json
import math
from datetime import datetime

from psycopg2.extras import Json, execute_values

from apexflow.contract import Channel, Session, SessionContract, SessionFacts

_LAP_COLUMNS = {  # FastF1 column -> laps table column
    "LapStartTime": "lap_start", "LapTime": "lap_time", "Sector1Time": "sector1_time",
    "Sector2Time": "sector2_time", "Sector3Time": "sector3_time", "Stint": "stint",
    "Compound": "compound", "TyreLife": "tyre_life", "PitInTime": "pit_in_time",
    "PitOutTime": "pit_out_time", "TrackStatus": "track_status", "Position": "position",
    "Deleted": "deleted", "IsAccurate": "is_accurate",
}


def _clean(value):
    """JSON-safe scalar: NaN/inf/NaT become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def register_session(cur, session: Session, facts: SessionFacts, run_id: str) -> bool:
    """Record a session and its facts. A new ``run_id`` replaces everything derived from the old run.

    Returns True when something changed (new session or new run), False when this run was
    already registered.
    """
    cur.execute("SELECT run_id FROM sessions WHERE session_id = %s FOR UPDATE", (session.session_id,))
    row = cur.fetchone()
    if row and row[0] == run_id:
        return False
    if row:
        cur.execute("DELETE FROM sessions WHERE session_id = %s", (session.session_id,))
    ident = session.identity
    cur.execute(
        "INSERT INTO sessions (session_id, source, profile, run_id, start_time, year, event, session_name, "
        "identity, channels, meta) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (session.session_id, session.source, session.profile, run_id, session.start_time, ident.get("year"),
         ident.get("event"), ident.get("session"), Json(ident), Json([c.to_dict() for c in session.channels]),
         Json({**session.meta, "missing": facts.missing})),
    )
    cur.execute("SELECT samples_reset(%s)", (session.session_id,))
    execute_values(cur, "INSERT INTO entities (session_id, entity_id, name, team, meta) VALUES %s",
                   [(session.session_id, e.entity_id, e.name, e.team, Json(e.meta)) for e in session.entities])
    if facts.laps:
        cols = ", ".join(_LAP_COLUMNS.values())
        rows = [(session.session_id, lap["Driver"], int(lap["LapNumber"]),
                 *(_clean(lap.get(k)) for k in _LAP_COLUMNS),
                 Json({k: _clean(v) for k, v in lap.items()})) for lap in facts.laps]
        execute_values(cur, f"INSERT INTO laps (session_id, entity_id, lap_number, {cols}, data) VALUES %s", rows)
    if facts.track_status:
        execute_values(cur, "INSERT INTO track_status (session_id, t, status, message) VALUES %s "
                            "ON CONFLICT DO NOTHING",
                       [(session.session_id, s["Time"], str(s["Status"]), s.get("Message", ""))
                        for s in facts.track_status])
    for kind in ("race_control_messages", "results", "weather"):
        rows = getattr(facts, kind)
        if rows:
            cur.execute("INSERT INTO session_facts (session_id, kind, rows) VALUES (%s, %s, %s)",
                        (session.session_id, kind, Json([{k: _clean(v) for k, v in r.items()} for r in rows])))
    return True


def session_contract(cur, session_id: str) -> SessionContract | None:
    """The profile, channels, current run and entity ids of a registered session, or None."""
    cur.execute("SELECT profile, channels, run_id, ARRAY(SELECT entity_id FROM entities e "
                "WHERE e.session_id = s.session_id) FROM sessions s WHERE session_id = %s", (session_id,))
    row = cur.fetchone()
    if row is None:
        return None
    return SessionContract(row[0], {c["name"]: Channel.from_dict(c) for c in row[1]}, row[2], set(row[3]))


def lock_runs(cur, session_ids: list[str]) -> dict[str, tuple[str, datetime]]:
    """(current run, start time) of each registered session, locked against a re-registration until the
    transaction ends."""
    cur.execute("SELECT session_id, run_id, start_time FROM sessions WHERE session_id = ANY(%s) "
                "ORDER BY session_id FOR SHARE", (list(session_ids),))
    return {session_id: (run_id, start) for session_id, run_id, start in cur.fetchall()}


def registered_sessions(cur, session_ids: list[str]) -> set[str]:
    """Which of ``session_ids`` are already registered (scheduled ingestion skips them)."""
    cur.execute("SELECT session_id FROM sessions WHERE session_id = ANY(%s)", (list(session_ids),))
    return {s for (s,) in cur.fetchall()}


def delete_session(cur, session_id: str) -> bool:
    """Forget a session and everything derived from it (its raw data in S3 stays)."""
    cur.execute("SELECT samples_drop(%s)", (session_id,))
    cur.execute("DELETE FROM sessions WHERE session_id = %s", (session_id,))
    return cur.rowcount > 0


def add_entities(cur, session_id: str, entities) -> None:
    """Entities that appeared after the session was registered (a driver the list named late)."""
    if entities:
        execute_values(cur, "INSERT INTO entities (session_id, entity_id, name, team, meta) VALUES %s "
                            "ON CONFLICT DO NOTHING",
                       [(session_id, e.entity_id, e.name, e.team, Json(e.meta)) for e in entities])


def upsert_laps(cur, session_id: str, laps: list[dict]) -> None:
    """Laps as they complete (FastF1 columns); a lap given again replaces its row."""
    if not laps:
        return
    cols = ", ".join(_LAP_COLUMNS.values())
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in (*_LAP_COLUMNS.values(), "data"))
    rows = {(lap["Driver"], int(lap["LapNumber"])): lap for lap in laps}  # one row per lap and statement
    execute_values(cur, f"INSERT INTO laps (session_id, entity_id, lap_number, {cols}, data) VALUES %s "
                        f"ON CONFLICT (session_id, entity_id, lap_number) DO UPDATE SET {updates}",
                   [(session_id, driver, n, *(_clean(lap.get(k)) for k in _LAP_COLUMNS),
                     Json({k: _clean(v) for k, v in lap.items()})) for (driver, n), lap in rows.items()])


def add_track_status(cur, session_id: str, rows: list[dict]) -> None:
    if rows:
        execute_values(cur, "INSERT INTO track_status (session_id, t, status, message) VALUES %s "
                            "ON CONFLICT DO NOTHING",
                       [(session_id, r["Time"], str(r["Status"]), r.get("Message", "")) for r in rows])


def set_session_facts(cur, session_id: str, kind: str, rows: list[dict]) -> None:
    """Replace one kind of session facts (race-control messages so far, ...)."""
    cur.execute("INSERT INTO session_facts (session_id, kind, rows) VALUES (%s, %s, %s) "
                "ON CONFLICT (session_id, kind) DO UPDATE SET rows = EXCLUDED.rows",
                (session_id, kind, Json([{k: _clean(v) for k, v in r.items()} for r in rows])))


def update_session_meta(cur, session_id: str, patch: dict) -> None:
    """Merge top-level keys into ``sessions.meta``."""
    cur.execute("UPDATE sessions SET meta = meta || %s WHERE session_id = %s",
                (Json(json.loads(json.dumps(patch, default=str))), session_id))
