"""Insight runs: the inputs an insights run is built from, when a session is complete, and what a run stored."""
from __future__ import annotations

from apexflow.query.base import rows as _rows
from apexflow.query.detections import stored

INSIGHT_COLUMNS = ("insight_id, session_id, scope, entity_id, detection_id, run_id, provider, model, prompt_version, "
                   "status, note, content, body, ungrounded, tokens_in, tokens_out, cost_usd, created_at")


def insight_inputs(cur, session_id: str) -> dict | None:
    """Everything the insight facts are built from: the session, its cars, laps (with each lap's end and whether its
    tyres were new), results, race-control messages, track status and detections."""
    cur.execute("SELECT session_id, source, profile, start_time, identity, meta, channels FROM sessions "
                "WHERE session_id = %s",
                (session_id,))
    rows = _rows(cur)
    if not rows:
        return None
    cur.execute("SELECT entity_id, name, team FROM entities WHERE session_id = %s ORDER BY entity_id", (session_id,))
    entities = _rows(cur)
    cur.execute("SELECT entity_id, lap_number, lap_start, lap_time, stint, compound, tyre_life, pit_in_time, "
                "pit_out_time, track_status, position, deleted, (data->>'Time')::float AS lap_end, "
                "(data->>'FreshTyre')::boolean AS fresh_tyre, data->>'DeletedReason' AS deleted_reason "
                "FROM laps WHERE session_id = %s "
                "ORDER BY entity_id, lap_number", (session_id,))
    laps = _rows(cur)
    cur.execute("SELECT kind, rows FROM session_facts WHERE session_id = %s "
                "AND kind IN ('results', 'race_control_messages')", (session_id,))
    given = dict(cur.fetchall())
    cur.execute("SELECT t, status, message FROM track_status WHERE session_id = %s ORDER BY t", (session_id,))
    track = _rows(cur)
    return {**rows[0], "entities": entities, "laps": laps, "results": given.get("results", []),
            "race_control": given.get("race_control_messages", []), "track_status": track,
            "detections": stored(cur, session_id), "progress": analysis_progress(cur, session_id)}


def analysis_progress(cur, session_id: str) -> dict:
    """Chunks analyzed so far, and how many the ingestion run streamed (None where unknown: a live feed)."""
    cur.execute("SELECT (meta->>'chunks')::int, "
                "(SELECT count(*) FROM telemetry_chunks c WHERE c.session_id = s.session_id) "
                "FROM sessions s WHERE session_id = %s", (session_id,))
    row = cur.fetchone()
    return {"expected_chunks": row[0], "analyzed_chunks": row[1]} if row else {}


def completed_sessions(cur, session_ids: list[str]) -> list[tuple[str, str]]:
    """(session, ingestion run) of those whose every streamed chunk is analyzed
    (see apexflow_aws/insights_starter.py)."""
    cur.execute("SELECT s.session_id, s.run_id FROM sessions s WHERE s.session_id = ANY(%s) "
                "AND (s.meta->>'chunks')::int = (SELECT count(*) FROM telemetry_chunks c "
                "WHERE c.session_id = s.session_id) ORDER BY s.session_id", (list(session_ids),))
    return [tuple(r) for r in cur.fetchall()]


def insight_run(cur, run_id: str) -> dict | None:
    cur.execute("SELECT run_id, session_id, provider, model, facts, token_budget, tokens_used, started_at, "
                "finished_at FROM insight_runs WHERE run_id = %s", (run_id,))
    rows = _rows(cur)
    return rows[0] if rows else None


def run_insights(cur, run_id: str) -> list[dict]:
    cur.execute(f"SELECT {INSIGHT_COLUMNS} FROM insights WHERE run_id = %s", (run_id,))
    return _rows(cur)


def session_insights(cur, session_id: str) -> list[dict]:
    """The current insights of a session: the session summary first, then drivers, then explanations."""
    cur.execute(f"SELECT {INSIGHT_COLUMNS} FROM insights WHERE session_id = %s ORDER BY "
                "array_position(ARRAY['session', 'driver', 'detection'], scope), entity_id NULLS FIRST, detection_id",
                (session_id,))
    return _rows(cur)
