"""Insights: the written summaries of a session, of each driver and of each critical detection, whichever
provider wrote them, with whether they held to the facts (``status``: ok, ungrounded, fallback, incomplete)."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from apexflow.errors import NotFound
from apexflow.query.base import Select, page_model


class Insight(BaseModel):
    insight_id: str
    scope: str  # session, driver or detection
    driver: str | None  # None: the session summary
    detection_id: str | None
    provider: str
    model: str
    prompt_version: str
    status: str  # ok; ungrounded (a fact it states is not in the facts); fallback (the offline record);
    # incomplete (written while the session's analysis stopped short; its first line says how far)
    note: str
    content: str
    tokens_in: int
    tokens_out: int
    cost_usd: float | None
    created_at: datetime


InsightsPage = page_model("InsightsPage", "insights", Insight)


def insights(session_id: str, *, driver: str | None = None, provider: str | None = None) -> Select:
    """The session summary first, then the drivers', then the explanations of critical detections."""
    select = Select(
        "SELECT insight_id, scope, entity_id AS driver, detection_id, "
        "array_position(ARRAY['session', 'driver', 'detection'], scope) AS rank, "
        "coalesce(entity_id, '') || '/' || coalesce(detection_id, '') AS subject, provider, model, prompt_version, "
        "status, note, content, tokens_in, tokens_out, cost_usd, created_at FROM insights WHERE session_id = %s",
        (session_id,), order=(("rank", int), ("subject", str), ("insight_id", str)))
    return select.equal("driver", driver).equal("provider", provider)


def driver_insight(cur, session_id: str, driver: str, provider: str | None = None) -> dict:
    """The newest insight about one driver, or ``NotFound`` saying how to have one written."""
    found = [i for i in insights(session_id, driver=driver, provider=provider).all(cur) if i["scope"] == "driver"]
    if not found:
        raise NotFound("driver", f"no insight about {driver} in session {session_id!r} yet; "
                                 f"POST /sessions/{session_id}/insights starts the insights workflow")
    return max(found, key=lambda r: r["created_at"])
