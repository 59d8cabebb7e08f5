"""Sessions, their drivers, and the database's health."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from apexflow.errors import NotFound
from apexflow.query.base import Select, page_model, rows
from apexflow.query.detections import stored
from apexflow.storage.migrate import available

COMPARABLE = ("year",)


class SessionSummary(BaseModel):
    session_id: str
    source: str
    profile: str
    year: int | None
    event: str | None
    session_name: str | None
    start_time: datetime
    drivers: int
    detections: int
    status: str  # analyzed (every streamed chunk), incomplete (fewer: an ingestion cut short), open (no count yet)
    chunks_analyzed: int
    chunks_expected: int | None


class Driver(BaseModel):
    driver: str
    name: str
    team: str
    driver_number: str | None
    laps: int
    detections: int


class SessionDetail(SessionSummary):
    run_id: str
    identity: dict
    channels: list[dict]
    missing: dict
    meta: dict


class Health(BaseModel):
    status: str
    schema_version: int
    expected_schema_version: int


SessionsPage = page_model("SessionsPage", "sessions", SessionSummary)
DriversPage = page_model("DriversPage", "drivers", Driver)

_SESSIONS = (
    "SELECT session_id, source, profile, year, event, session_name, start_time, run_id, identity, channels, "
    "meta, coalesce(meta->'missing', '{}') AS missing, "
    "(SELECT count(*) FROM entities e WHERE e.session_id = s.session_id) AS drivers, "
    "(SELECT count(*) FROM detections d WHERE d.session_id = s.session_id) AS detections, "
    "CASE WHEN meta->>'chunks' IS NULL THEN 'open' WHEN p.analyzed >= (meta->>'chunks')::int THEN 'analyzed' "
    "ELSE 'incomplete' END AS status, p.analyzed AS chunks_analyzed, (meta->>'chunks')::int AS chunks_expected "
    "FROM sessions s CROSS JOIN LATERAL "
    "(SELECT count(*) AS analyzed FROM telemetry_chunks c WHERE c.session_id = s.session_id) p")


def status_text(row: dict) -> str:
    """``analyzed``, ``open``, or ``incomplete (n of m chunks analyzed)``."""
    if row["status"] != "incomplete":
        return row["status"]
    return f"incomplete ({row['chunks_analyzed']} of {row['chunks_expected']} chunks analyzed)"


def health(cur) -> dict:
    cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
    version, expected = cur.fetchone()[0], max(v for v, _, _ in available())
    return {"status": "ok" if version >= expected else "schema behind", "schema_version": version,
            "expected_schema_version": expected}


def sessions(*, year: int | None = None, event: str | None = None, session_name: str | None = None,
             source: str | None = None, raw_query: str = "") -> Select:
    """Newest first. ``event`` matches part of the event's name, ``session_name`` the whole (any case)."""
    select = Select(_SESSIONS, order=(("start_time", datetime), ("session_id", str)), desc=True)
    select.equal("year", year).equal("source", source).compare(raw_query, COMPARABLE)
    if event:
        select.filter("strpos(lower(event), lower(%s)) > 0", event)
    if session_name:
        select.filter("lower(session_name) = lower(%s)", session_name)
    return select


def session(cur, session_id: str) -> dict:
    """The session, or ``NotFound``."""
    require(cur, session_id)
    return Select(_SESSIONS).equal("session_id", session_id).all(cur)[0]


def exists(cur, session_id: str) -> bool:
    cur.execute("SELECT 1 FROM sessions WHERE session_id = %s", (session_id,))
    return cur.fetchone() is not None


def require(cur, session_id: str) -> None:
    """``NotFound`` unless the session is registered."""
    if not exists(cur, session_id):
        raise NotFound("session_id", f"session {session_id!r} not found; GET /sessions lists the sessions")


def drivers(session_id: str) -> Select:
    return Select(
        "SELECT entity_id AS driver, name, team, meta->>'driver_number' AS driver_number, "
        "(SELECT count(*) FROM laps l WHERE l.session_id = e.session_id AND l.entity_id = e.entity_id) AS laps, "
        "(SELECT count(*) FROM detections d WHERE d.session_id = e.session_id AND d.entity_id = e.entity_id) "
        "AS detections FROM entities e WHERE session_id = %s", (session_id,), order=(("driver", str),))


def driver(cur, session_id: str, driver_id: str) -> dict:
    """The session's driver (entity), or ``NotFound``."""
    found = drivers(session_id).equal("driver", driver_id).all(cur)
    if not found:
        cur.execute("SELECT string_agg(entity_id, ', ' ORDER BY entity_id) FROM entities WHERE session_id = %s",
                    (session_id,))
        raise NotFound("driver", f"no driver {driver_id!r} in session {session_id!r}; "
                                 f"its drivers: {cur.fetchone()[0] or 'none'}")
    return found[0]


def overview(cur, session_id: str) -> dict:
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
            "entities": entities, "results": results[0] if results else [], "detections": stored(cur, session_id)}


class Feeds(BaseModel):
    """A live session's feed health (``apexflow.sources.live.health``): each source's and car's state and every
    ``feed_gap`` so far; empty for a session not followed live."""

    session_id: str
    live: str | None
    at_s: float | None
    sources: dict
    cars: dict
    all_silent: dict
    gaps: list[dict]


def feeds(cur, session_id: str) -> dict:
    """The session's feed health, or ``NotFound``."""
    require(cur, session_id)
    cur.execute("SELECT meta->'live'->>'state' AS live, coalesce(meta->'feeds', '{}') AS feeds FROM sessions "
                "WHERE session_id = %s", (session_id,))
    [found] = rows(cur)
    cur.execute("SELECT entity_id AS car, channel AS source, severity, t_start, t_end, evidence->>'reason' AS reason, "
                "evidence->>'state' AS state FROM detections WHERE session_id = %s AND kind = 'feed_gap' "
                "ORDER BY t_start, channel, entity_id", (session_id,))
    state = found["feeds"]
    return {"session_id": session_id, "live": found["live"], "at_s": state.get("at_s"),
            "sources": state.get("sources", {}), "cars": state.get("cars", {}),
            "all_silent": state.get("all_silent", {}), "gaps": rows(cur)}
