"""Detections: what the detectors found, filterable by kind, severity, driver, lap and time."""
from __future__ import annotations

from pydantic import BaseModel

from apexflow.contract import Severity
from apexflow.errors import QueryError
from apexflow.query.base import Select, page_model, rows
from apexflow.query.laps import lap_range

FIELDS = ("score", "t_start", "t_end", "lap", "distance")


class Detection(BaseModel):
    detection_id: str
    driver: str | None  # None: about the whole session (track status)
    kind: str
    severity: Severity
    score: float
    t_start: float
    t_end: float
    lap: int | None
    distance: float | None
    channel: str | None
    evidence: dict
    detector: str
    detector_version: str


DetectionsPage = page_model("DetectionsPage", "detections", Detection)


def detections(session_id: str, *, kind: str | None = None, severity: str | None = None,
               driver: str | None = None, lap_from: int | None = None, lap_to: int | None = None,
               t_from: float | None = None, t_to: float | None = None, raw_query: str = "") -> Select:
    """In time order. ``t_from``/``t_to`` keep detections overlapping that window."""
    lap_range(lap_from, lap_to)
    if t_from is not None and t_to is not None and t_from > t_to:
        raise QueryError("t_to", f"t_to={t_to} is before t_from={t_from}")
    select = Select(
        "SELECT detection_id, entity_id AS driver, kind, severity, score::float8 AS score, t_start, t_end, lap, "
        "distance::float8 AS distance, channel, evidence, detector, detector_version FROM detections "
        "WHERE session_id = %s", (session_id,), order=(("t_start", float), ("detection_id", str)))
    select.equal("kind", kind).equal("severity", severity).equal("driver", driver)
    select.at_least("lap", lap_from).at_most("lap", lap_to).at_least("t_end", t_from).at_most("t_start", t_to)
    return select.compare(raw_query, FIELDS)


def stored(cur, session_id: str, kind: str | None = None, entity_id: str | None = None) -> list[dict]:
    """A session's detections as stored, in time order (optionally one kind, one entity)."""
    cur.execute("SELECT detection_id, entity_id, kind, severity, score, t_start, t_end, lap, distance, channel, "
                "evidence, detector, detector_version FROM detections WHERE session_id = %s "
                "AND (%s::text IS NULL OR kind = %s) AND (%s::text IS NULL OR entity_id = %s) "
                "ORDER BY t_start, entity_id, kind", (session_id, kind, kind, entity_id, entity_id))
    return rows(cur)
