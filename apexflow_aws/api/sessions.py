"""Routes: health, sessions (list, one, ask for one to be ingested) and a session's drivers."""
from __future__ import annotations

from typing import Annotated, Literal

import psycopg2
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from apexflow.errors import QueryError
from apexflow.query import sessions
from apexflow_aws import invoke
from apexflow_aws.api.common import (
    PAGE,
    PRINTABLE,
    Cursor,
    Format,
    Limit,
    SessionId,
    Text,
    comparable,
    listing,
    problem,
    reading,
    responses,
)

router = Router()


class IngestRequest(BaseModel):
    """An F1 session, as ``apexflow ingest fastf1`` takes it."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=2018, le=2100)
    event: str = Field(min_length=1, max_length=100, pattern=PRINTABLE,
                       description="event name, place, country or round")
    session: str = Field(min_length=1, max_length=40, pattern=PRINTABLE,
                         description="FP1, FP2, FP3, SQ, SS, S, Q, R or the full name")


class Accepted(BaseModel):
    session_id: str
    status: Literal["ingesting", "registered"]
    href: str


@router.get("/health", summary="Database reachable, schema version", responses=responses(sessions.Health, 503))
def health():
    try:
        with reading() as cur:
            found = sessions.health(cur)
    except psycopg2.Error as e:
        return problem(503, f"database unreachable: {type(e).__name__}")
    if found["status"] != "ok":
        return problem(503, f"database schema is at version {found['schema_version']}, the code needs "
                            f"{found['expected_schema_version']}: run the migrations")
    return sessions.Health(**found)


@router.get("/sessions", summary="Sessions, newest first", responses=responses(sessions.SessionsPage, 400, csv=True),
            **comparable(sessions.COMPARABLE, " E.g. `year>=2024`."))
def list_sessions(year: Annotated[int | None, Query(ge=1950, le=2100)] = None, event: Text = None,
                  session_name: Text = None, source: Text = None, limit: Limit = PAGE, cursor: Cursor = None,
                  format: Format = "json"):
    select = sessions.sessions(year=year, event=event, session_name=session_name, source=source,
                               raw_query=router.current_event.raw_query_string)  # type: ignore[attr-defined]
    with reading() as cur:
        found, after = select.page(cur, limit, cursor)
    return listing(sessions.SessionsPage(sessions=found, next_cursor=after), "sessions", format)


@router.get("/sessions/<session_id>", summary="One session", responses=responses(sessions.SessionDetail, 404))
def get_session(session_id: SessionId):
    with reading() as cur:
        return sessions.SessionDetail(**sessions.session(cur, session_id))


@router.get("/sessions/<session_id>/report", summary="A session's report: one self-contained HTML page",
            description="Track map, lap times with stints and tyres, positions, the detection timeline and the "
                        "insights, as `apexflow report` writes it (plotly inlined: about 5 MB, gzip-compressed "
                        "for clients that accept it).",
            responses=responses(None, 404), compress=True)
def get_report(session_id: SessionId):
    from apexflow.report import render  # plotly (the report layer) only for this route

    with reading() as cur:
        sessions.require(cur, session_id)
        page = render(cur, session_id)
    return Response(200, "text/html; charset=utf-8", page)


@router.get("/sessions/<session_id>/feeds", summary="A live session's feed health, per source and per car",
            description="Each source's message rate, age of its newest message, learnt interval, stale repeats and "
                        "state, the same per car, and every `feed_gap` (raised when a source or a car goes silent "
                        "past its usual interval, critical when everything does; cleared when it returns).",
            responses=responses(sessions.Feeds, 404))
def get_feeds(session_id: SessionId):
    with reading() as cur:
        return sessions.Feeds(**sessions.feeds(cur, session_id))


@router.get("/sessions/<session_id>/drivers", summary="A session's drivers (entities)",
            responses=responses(sessions.DriversPage, 400, 404, csv=True))
def get_drivers(session_id: SessionId, limit: Limit = PAGE, cursor: Cursor = None, format: Format = "json"):
    with reading() as cur:
        sessions.require(cur, session_id)
        found, after = sessions.drivers(session_id).page(cur, limit, cursor)
    return listing(sessions.DriversPage(drivers=found, next_cursor=after), "drivers", format)


@router.post("/sessions", summary="Ingest an F1 session", status_code=202,
             description="Answers at once with the session's id; the ingestion runs asynchronously. Asking again "
                         "for a registered session starts nothing.",
             responses=responses(Accepted, 400, 415, 503, status=202, description="Accepted"))
def post_session(request: IngestRequest) -> Response[Accepted]:
    found = invoke.ingest({"action": "resolve", "source": "fastf1", **request.model_dump()}, wait=True)
    if "error" in found:
        raise QueryError(found.get("parameter"), found["error"])
    with reading() as cur:
        registered = sessions.exists(cur, found["session_id"])
    if not registered:
        invoke.ingest({"source": "fastf1", "year": found["year"], "event": found["event"],
                       "session": found["session"]}, wait=False)
    sid = found["session_id"]
    return Response(202, "application/json", Accepted(session_id=sid, status="registered" if registered else
                                                      "ingesting", href=f"/sessions/{sid}"))
