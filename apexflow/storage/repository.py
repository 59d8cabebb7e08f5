"""All SQL in one place. Every write is idempotent: replaying it changes nothing."""
from __future__ import annotations

import io
import json
import math
from datetime import datetime

from psycopg2.extras import Json, execute_values

from apexflow.storage import samples
from apexflow.contract import Channel, Session, SessionFacts

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


def _rows(cur) -> list[dict]:
    names = [d.name for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


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


def write_samples(cur, data: bytes) -> None:
    """Copy samples in (``apexflow.storage.samples.copy_data``'s binary stream): only of chunks not stored before, which
    analyze's duplicate check in the same transaction guarantees."""
    cur.copy_expert(samples.COPY_SQL, io.BytesIO(data), size=1 << 20)


def session_contract(cur, session_id: str) -> tuple[str, dict[str, Channel], str, set[str]] | None:
    """(profile, channels by name, current run, entity ids) of a registered session, or None."""
    cur.execute("SELECT profile, channels, run_id, ARRAY(SELECT entity_id FROM entities e "
                "WHERE e.session_id = s.session_id) FROM sessions s WHERE session_id = %s", (session_id,))
    row = cur.fetchone()
    if row is None:
        return None
    return row[0], {c["name"]: Channel.from_dict(c) for c in row[1]}, row[2], set(row[3])


def lock_runs(cur, session_ids: list[str]) -> dict[str, tuple[str, datetime]]:
    """(current run, start time) of each registered session, locked against a re-registration until the
    transaction ends."""
    cur.execute("SELECT session_id, run_id, start_time FROM sessions WHERE session_id = ANY(%s) "
                "ORDER BY session_id FOR SHARE", (list(session_ids),))
    return {session_id: (run_id, start) for session_id, run_id, start in cur.fetchall()}


def processed(cur, keys: list[tuple[str, str, int]]) -> set[tuple[str, str, int]]:
    """Which of these (session, entity, seq) chunks are stored already: one query for a whole batch."""
    if not keys:
        return set()
    sessions, entities, seqs = (list(x) for x in zip(*keys))
    cur.execute("SELECT c.session_id, c.entity_id, c.seq FROM telemetry_chunks c "
                "JOIN unnest(%s::text[], %s::text[], %s::int[]) AS k(session_id, entity_id, seq) "
                "USING (session_id, entity_id, seq)", (sessions, entities, seqs))
    return set(cur.fetchall())


def load_states(cur, entities: list[tuple[str, str]], state_version: int) -> dict[tuple[str, str], tuple[dict, int]]:
    """(detector state, last seq) per entity; empty state when none or of another version. One query."""
    out = {e: ({}, -1) for e in entities}
    if entities:
        sessions, ids = (list(x) for x in zip(*entities))
        cur.execute("SELECT p.session_id, p.entity_id, p.state, p.last_seq FROM processing_checkpoints p "
                    "JOIN unnest(%s::text[], %s::text[]) AS k(session_id, entity_id) USING (session_id, entity_id) "
                    "WHERE p.state_version = %s", (sessions, ids, state_version))
        out.update({(s, e): (state, last) for s, e, state, last in cur.fetchall()})
    return out


def write_chunks(cur, chunks: list[tuple], samples_copy: bytes | None = None) -> None:
    """Copy in chunk rows, (session, entity, seq, t_start, t_end, samples, stats as JSON text, arrival or None),
    and their samples (``write_samples``): only of chunks not stored before, which analyze's duplicate check in
    the same transaction guarantees (a chunk stored meanwhile by another transaction fails the copy on the
    primary key, and with it the batch)."""
    if chunks:
        text = "".join(f"{s}\t{e}\t{q}\t{a!r}\t{b!r}\t{n}\t{_copy_text(j)}\t{_NULL if t is None else t}\n"
                       for s, e, q, a, b, n, j, t in chunks)
        cur.copy_expert("COPY telemetry_chunks (session_id, entity_id, seq, t_start, t_end, n_samples, stats, "
                        "arrived_at) FROM STDIN", io.StringIO(text), size=1 << 20)
    if samples_copy is not None:
        write_samples(cur, samples_copy)


def write_states(cur, states: list[tuple]) -> None:
    """Store detector states, (session, entity, state version, last seq, state), replacing those before."""
    if states:
        execute_values(
            cur,
            "INSERT INTO processing_checkpoints (session_id, entity_id, state_version, last_seq, state) VALUES %s "
            "ON CONFLICT (session_id, entity_id) DO UPDATE SET state_version = EXCLUDED.state_version, "
            "last_seq = GREATEST(processing_checkpoints.last_seq, EXCLUDED.last_seq), state = EXCLUDED.state, "
            "updated_at = now()",
            [(s, e, v, q, Json(st)) for s, e, v, q, st in states], page_size=len(states),
        )


_NULL = "\\N"  # NULL in COPY's text format


def _copy_text(value: str) -> str:
    """A value for COPY's text format (session and entity ids need none: ``contract.check_id``)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def refresh_reporting(cur, session_id: str) -> None:
    """Rebuild a session's rows of the reporting schema's fact tables (at registration)."""
    cur.execute("SELECT refresh_reporting_timing(%s), refresh_reporting_events(%s)", (session_id, session_id))


def refresh_race_events(cur, session_ids) -> None:
    """Rebuild these sessions' race events (after their detections changed), in a fixed order."""
    for session_id in sorted(set(session_ids)):
        cur.execute("SELECT refresh_reporting_events(%s)", (session_id,))


def write_rejections(cur, records: list[tuple]) -> None:
    """Record refused stream records (record id, partition key, error, arrival); a re-delivery counts."""
    if records:
        execute_values(
            cur, "INSERT INTO rejected_records (record_id, partition_key, error, arrived_at) VALUES %s "
                 "ON CONFLICT (record_id) DO UPDATE SET error = EXCLUDED.error, last_seen = now(), "
                 "deliveries = rejected_records.deliveries + 1", records)


def field_profile(cur, spans: dict[str, tuple[int, int]]) -> dict[str, tuple[list[tuple], list[tuple]]]:
    """The field's sums of each session whose batch spans minutes ``spans[session]`` = (first, last): per bin
    over every minute before the first, (bin, samples, braking, speed_cs); and per minute and bin from the
    first to the last (excluded), (minute, bin, samples, braking, speed_cs). One query."""
    out: dict[str, tuple[list[tuple], list[tuple]]] = {s: ([], []) for s in spans}
    if spans:
        sessions, firsts, lasts = (list(x) for x in zip(*((s, a, b) for s, (a, b) in spans.items())))
        cur.execute("SELECT f.session_id, CASE WHEN f.minute >= k.first THEN f.minute END, f.bin, sum(f.samples), "
                    "sum(f.braking), sum(f.speed_cs) FROM field_profile f "
                    "JOIN unnest(%s::text[], %s::int[], %s::int[]) AS k(session_id, first, last) USING (session_id) "
                    "WHERE f.minute < k.last GROUP BY 1, 2, 3", (sessions, firsts, lasts))
        for session_id, m, *row in cur.fetchall():
            if m is None:
                out[session_id][0].append(tuple(row))
            else:
                out[session_id][1].append((m, *row))
    return out


def add_field_profile(cur, session_id: str, rows: list[tuple[int, int, float, float, float]]) -> None:
    """Add a batch's sums, (minute, bin, samples, braking, speed_cs), to the field's (commutative, so concurrent
    batches may add at once)."""
    if rows:
        columns = ["{" + ",".join(map(repr, x)) + "}" for x in zip(*sorted(rows))]  # array literals: fast to send
        cur.execute("INSERT INTO field_profile (session_id, minute, bin, samples, braking, speed_cs) "
                    "SELECT %s, * FROM unnest(%s::int[], %s::int[], %s::float8[], %s::float8[], %s::float8[]) "
                    "ON CONFLICT (session_id, minute, bin) DO UPDATE SET "
                    "samples = field_profile.samples + EXCLUDED.samples, "
                    "braking = field_profile.braking + EXCLUDED.braking, "
                    "speed_cs = field_profile.speed_cs + EXCLUDED.speed_cs",
                    (session_id, *columns))


def detections(cur, session_id: str, kind: str | None = None, entity_id: str | None = None) -> list[dict]:
    cur.execute("SELECT detection_id, entity_id, kind, severity, score, t_start, t_end, lap, distance, channel, "
                "evidence, detector, detector_version FROM detections WHERE session_id = %s "
                "AND (%s::text IS NULL OR kind = %s) AND (%s::text IS NULL OR entity_id = %s) "
                "ORDER BY t_start, entity_id, kind", (session_id, kind, kind, entity_id, entity_id))
    return _rows(cur)


def session_overview(cur, session_id: str) -> dict:
    """Counts and per-entity facts the insight summaries are written from."""
    cur.execute("SELECT source, profile, start_time, identity, meta FROM sessions WHERE session_id = %s",
                (session_id,))
    source, profile, start, identity, meta = cur.fetchone()
    cur.execute("SELECT count(*), coalesce(sum(n_samples), 0) FROM telemetry_chunks WHERE session_id = %s",
                (session_id,))
    n_chunks, n_samples = cur.fetchone()
    cur.execute(
        "SELECT e.entity_id, e.name, e.team, count(l.lap_number), min(l.lap_time) FILTER (WHERE NOT "
        "coalesce(l.deleted, false)), count(DISTINCT l.stint), "
        "count(l.pit_in_time), array_remove(array_agg(DISTINCT l.compound), NULL) "
        "FROM entities e LEFT JOIN laps l USING (session_id, entity_id) "
        "WHERE e.session_id = %s GROUP BY e.entity_id, e.name, e.team ORDER BY e.entity_id", (session_id,))
    entities = [dict(zip(("entity_id", "name", "team", "laps", "best_lap_time", "stints", "pit_stops",
                          "compounds"), row)) for row in cur.fetchall()]
    cur.execute("SELECT rows FROM session_facts WHERE session_id = %s AND kind = 'results'", (session_id,))
    results = cur.fetchone()
    return {"session_id": session_id, "source": source, "profile": profile, "start_time": start.isoformat(),
            "identity": identity, "missing": meta.get("missing", {}), "chunks": n_chunks, "samples": int(n_samples),
            "entities": entities, "results": results[0] if results else [], "detections": detections(cur, session_id)}


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


def registered_sessions(cur, session_ids: list[str]) -> set[str]:
    """Which of ``session_ids`` are already registered (scheduled ingestion skips them)."""
    cur.execute("SELECT session_id FROM sessions WHERE session_id = ANY(%s)", (list(session_ids),))
    return {s for (s,) in cur.fetchall()}


def write_detections(cur, detections: list[dict]) -> None:
    """Upsert detection rows (``Detection.to_row()``); an empty ``entity_id`` is a session-level one (NULL)."""
    if not detections:
        return
    rows = [{**d, "entity_id": d.get("entity_id") or None} for d in detections]
    execute_values(
        cur,
        "INSERT INTO detections (detection_id, session_id, entity_id, kind, severity, score, t_start, t_end, "
        "lap, distance, channel, evidence, detector, detector_version) VALUES %s "
        "ON CONFLICT (detection_id) DO UPDATE SET t_end = EXCLUDED.t_end, score = EXCLUDED.score, "
        "severity = EXCLUDED.severity, evidence = EXCLUDED.evidence",
        [(d["detection_id"], d["session_id"], d["entity_id"], d["kind"], d["severity"], d["score"],
          d["t_start"], d["t_end"], d.get("lap"), d.get("distance"), d.get("channel"), Json(d["evidence"]),
          d["detector"], d["detector_version"]) for d in rows],
    )


def delete_session(cur, session_id: str) -> bool:
    """Forget a session and everything derived from it (its raw data in S3 stays)."""
    cur.execute("SELECT samples_drop(%s)", (session_id,))
    cur.execute("DELETE FROM sessions WHERE session_id = %s", (session_id,))
    return cur.rowcount > 0


# -- live sessions: facts arrive while the session runs (apexflow.pipeline.live) ------------------------------------

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


def replace_fact_detections(cur, session_id: str, detections: list[dict], stream_detectors: list[str]) -> None:
    """The lap-level detections of a session become exactly ``detections``: those of earlier, provisional
    runs that are no longer found go (detections of ``stream_detectors``, from the telemetry, stay)."""
    cur.execute("DELETE FROM detections WHERE session_id = %s AND NOT detector = ANY(%s) "
                "AND NOT detection_id = ANY(%s)",
                (session_id, list(stream_detectors), [d["detection_id"] for d in detections]))
    write_detections(cur, detections)


def update_session_meta(cur, session_id: str, patch: dict) -> None:
    """Merge top-level keys into ``sessions.meta``."""
    cur.execute("UPDATE sessions SET meta = meta || %s WHERE session_id = %s",
                (Json(json.loads(json.dumps(patch, default=str))), session_id))


def try_lock(cur, name: str) -> bool:
    """Hold a lock named ``name`` for as long as this connection lives (one live follower per session). Its key
    is seeded by ``lock_seed``, which only writers may read: another login cannot take it first."""
    cur.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, (SELECT seed FROM lock_seed)))", (name,))
    return cur.fetchone()[0]
