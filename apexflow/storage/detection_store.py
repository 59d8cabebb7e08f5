"""Writes of detections (upserts by deterministic id) and the reporting tables that follow them."""
from __future__ import annotations

from psycopg2.extras import Json, execute_values


def refresh_reporting(cur, session_id: str) -> None:
    """Rebuild a session's rows of the reporting schema's fact tables (at registration)."""
    cur.execute("SELECT refresh_reporting_timing(%s), refresh_reporting_events(%s)", (session_id, session_id))


def refresh_race_events(cur, session_ids) -> None:
    """Rebuild these sessions' race events (after their detections changed), in a fixed order."""
    for session_id in sorted(set(session_ids)):
        cur.execute("SELECT refresh_reporting_events(%s)", (session_id,))


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


def replace_fact_detections(cur, session_id: str, detections: list[dict], stream_detectors: list[str]) -> None:
    """The lap-level detections of a session become exactly ``detections``: those of earlier, provisional
    runs that are no longer found go (detections of ``stream_detectors``, from the telemetry, stay)."""
    cur.execute("DELETE FROM detections WHERE session_id = %s AND NOT detector = ANY(%s) "
                "AND NOT detection_id = ANY(%s)",
                (session_id, list(stream_detectors), [d["detection_id"] for d in detections]))
    write_detections(cur, detections)
