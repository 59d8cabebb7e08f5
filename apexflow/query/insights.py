"""Insights: the written summaries of a session and of each driver, whichever provider wrote them."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from apexflow.query.base import NotFound, Select, page_model


class Insight(BaseModel):
    insight_id: str
    driver: str | None  # None: the session summary
    provider: str
    model: str
    prompt_version: str
    content: str
    created_at: datetime


InsightsPage = page_model("InsightsPage", "insights", Insight)


def insights(session_id: str, *, driver: str | None = None, provider: str | None = None) -> Select:
    """The session summary first, then by driver."""
    select = Select(
        "SELECT insight_id, entity_id AS driver, coalesce(entity_id, '') AS subject, provider, model, "
        "prompt_version, content, created_at FROM insights WHERE session_id = %s", (session_id,),
        order=(("subject", str), ("insight_id", str)))
    return select.equal("driver", driver).equal("provider", provider)


def driver_insight(cur, session_id: str, driver: str, provider: str | None = None) -> dict:
    """The newest insight about one driver, or ``NotFound`` saying how to have one written."""
    found = insights(session_id, driver=driver, provider=provider).all(cur)
    if not found:
        raise NotFound("driver", f"no insight about {driver} in session {session_id!r} yet; "
                                 f"POST /sessions/{session_id}/insights starts the insights workflow")
    return max(found, key=lambda r: r["created_at"])
