"""What the session report shows, read from the reporting schema alone (the read-only login can render it too)."""
from __future__ import annotations

from apexflow.query.base import rows

NEUTRALISED = {"Safety Car": "SC", "Virtual Safety Car": "VSC", "Red Flag": "Red"}


def _rows(cur, sql: str, *args) -> list[dict]:
    cur.execute(sql, args)
    return rows(cur)


def session(cur, session_id: str) -> dict | None:
    found = _rows(cur, 'SELECT * FROM reporting.dim_session WHERE "Session Key" = %s', session_id)
    return found[0] if found else None


def laps(cur, session_id: str) -> list[dict]:
    return _rows(cur, 'SELECT "Driver", "Lap", "Lap Start", "Lap Time (s)", "Stint", "Compound", "Position", '
                      '"Gap To Leader (s)", "Pit In Lap", "Pit Out Lap", "Safety Car", "Virtual Safety Car", '
                      '"Red Flag", "Deleted", "Clean Lap" FROM reporting.fact_laps '
                      'WHERE "Session Key" = %s ORDER BY "Driver", "Lap"', session_id)


def order(cur, session_id: str) -> list[str]:
    """Drivers in finishing order (then by best lap), the order of every legend."""
    return [r["Driver"] for r in _rows(
        cur, 'SELECT "Driver" FROM reporting.fact_laps WHERE "Session Key" = %s GROUP BY "Driver" '
             'ORDER BY min("Finishing Position"), min("Lap Time (s)"), "Driver"', session_id)]


def track_lap(cur, session_id: str) -> list[dict]:
    """Samples of the lap the map is drawn from: the fastest clean lap with position data."""
    return _rows(cur, """
        WITH placed AS MATERIALIZED (  -- one pass over the samples, whatever the planner knows of them
            SELECT DISTINCT t."Driver", t."Lap" FROM reporting.fact_telemetry t
            WHERE t."Session Key" = %s AND t."X (m)" IS NOT NULL),
        best AS (
            SELECT l."Driver", l."Lap" FROM reporting.fact_laps l JOIN placed USING ("Driver", "Lap")
            WHERE l."Session Key" = %s AND l."Clean Lap"
            ORDER BY l."Lap Time (s)" LIMIT 1)
        SELECT t."Driver", t."Lap", t."X (m)" AS x, t."Y (m)" AS y, t."Speed (km/h)" AS speed
        FROM reporting.fact_telemetry t JOIN best USING ("Driver", "Lap")
        WHERE t."Session Key" = %s ORDER BY t."Time" """, session_id, session_id, session_id)


def detections(cur, session_id: str) -> list[dict]:
    """Every detection with its evidence, where the car was when it started (when the session has position data)
    and, for a critical one, the insight that explains it."""
    return _rows(cur, """
        SELECT d."Detection Key", d."Detection", d."Kind", d."Driver", d."Severity", d."Score", d."Lap",
               d."Start Time", d."Duration (s)", d."Channel", d."Evidence", e."Description", p.x, p.y,
               i."Summary" AS "Insight"
        FROM reporting.fact_detections d
        LEFT JOIN reporting.fact_race_events e ON e."Event Key" = d."Detection Key"
        LEFT JOIN (  -- one join over the session's samples (hashed by driver), not a scan per detection
            SELECT DISTINCT ON (d."Detection Key") d."Detection Key", t."X (m)" AS x, t."Y (m)" AS y
            FROM reporting.fact_detections d JOIN reporting.fact_telemetry t
              ON t."Session Key" = d."Session Key" AND t."Driver" = d."Driver"
             AND t."Time" BETWEEN d."Start Time" AND d."Start Time" + interval '5 seconds'
            WHERE d."Session Key" = %s ORDER BY d."Detection Key", t."Time") p ON p."Detection Key" = d."Detection Key"
        LEFT JOIN LATERAL (  -- the newest explanation of this detection
            SELECT i."Summary" FROM reporting.fact_insights i
            WHERE i."Session Key" = d."Session Key" AND i."Detection Key" = d."Detection Key"
            ORDER BY i."Written At" DESC LIMIT 1) i ON d."Severity" = 'critical'
        WHERE d."Session Key" = %s ORDER BY d."Start Time", d."Driver" NULLS FIRST""", session_id, session_id)


def neutralisations(cur, session_id: str) -> list[dict]:
    """Safety car, VSC and red flag periods, by time."""
    return _rows(cur, 'SELECT "Event", "Start Time", "End Time" FROM reporting.fact_race_events '
                      'WHERE "Session Key" = %s AND "Event" = ANY(%s) ORDER BY "Start Time"',
                 session_id, list(NEUTRALISED))


def insights(cur, session_id: str) -> list[dict]:
    """The session summary first, then the drivers' (the explanations of critical detections come with them)."""
    return _rows(cur, 'SELECT "Driver", "Scope", "Summary", "Provider", "Model", "Written At", "Check" '
                      """FROM reporting.fact_insights WHERE "Session Key" = %s AND "Scope" IN ('Session', 'Driver') """
                      """ORDER BY array_position(ARRAY['Session', 'Driver'], "Scope"), "Driver", """
                      '"Insight Key"', session_id)
