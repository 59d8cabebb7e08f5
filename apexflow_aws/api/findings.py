"""Routes: detections, insights (read from the ``insights`` table, any provider) and starting the workflow."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from pydantic import BaseModel

from apexflow.query import detections, insights, sessions
from apexflow.query.detections import Severity
from apexflow_aws import invoke
from apexflow_aws.api.common import (
    PAGE,
    PRINTABLE,
    Cursor,
    Driver,
    DriverPath,
    Format,
    Lap,
    Limit,
    Seconds,
    SessionId,
    Text,
    comparable,
    reading,
    responses,
    session_page,
)

router = Router()
Provider = Annotated[str | None, Query(min_length=1, max_length=40, pattern=PRINTABLE,
                                      description="e.g. openai, offline")]


class Started(BaseModel):
    session_id: str
    execution_arn: str
    status: str
    started_at: datetime


@router.get("/sessions/<session_id>/detections", summary="Detections, in time order",
            **comparable(detections.FIELDS, " `t_from`/`t_to` keep detections overlapping that window."),
            responses=responses(detections.DetectionsPage, 400, 404, csv=True))
def get_detections(session_id: SessionId, kind: Text = None, severity: Severity | None = None, driver: Driver = None,
                   lap_from: Lap = None, lap_to: Lap = None, t_from: Seconds = None, t_to: Seconds = None,
                   limit: Limit = PAGE, cursor: Cursor = None, format: Format = "json"):
    select = detections.detections(session_id, kind=kind, severity=severity, driver=driver, lap_from=lap_from,
                                   lap_to=lap_to, t_from=t_from, t_to=t_to,
                                   raw_query=router.current_event.raw_query_string)  # type: ignore[attr-defined]
    return session_page(detections.DetectionsPage, "detections", session_id, select, limit, cursor, format)


@router.get("/sessions/<session_id>/insights", summary="Insights: the session summary, then each driver's",
            responses=responses(insights.InsightsPage, 400, 404, csv=True))
def get_insights(session_id: SessionId, provider: Provider = None, limit: Limit = PAGE, cursor: Cursor = None,
                 format: Format = "json"):
    select = insights.insights(session_id, provider=provider)
    return session_page(insights.InsightsPage, "insights", session_id, select, limit, cursor, format)


@router.get("/sessions/<session_id>/drivers/<driver>/insight", summary="The newest insight about one driver",
            responses=responses(insights.Insight, 404))
def get_driver_insight(session_id: SessionId, driver: DriverPath, provider: Provider = None):
    with reading() as cur:
        sessions.require(cur, session_id)
        sessions.driver(cur, session_id, driver)
        return insights.Insight(**insights.driver_insight(cur, session_id, driver, provider))


@router.post("/sessions/<session_id>/insights", summary="Start the insights workflow again", status_code=202,
             description="The same request (session data and `Idempotency-Key`) starts one execution and answers "
                         "with it every time; a new key runs the workflow again.",
             responses=responses(Started, 404, 503, status=202, description="Accepted"))
def post_insights(session_id: SessionId,
                  idempotency_key: Annotated[str, Header(alias="Idempotency-Key", max_length=200)] = ""
                  ) -> Response[Started]:
    with reading() as cur:
        found = sessions.session(cur, session_id)
    started = invoke.start_insights(session_id, found["run_id"], idempotency_key)
    return Response(202, "application/json", Started(session_id=session_id, **started))
