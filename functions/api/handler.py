"""HTTP API (API Gateway HTTP API, payload v2): sessions, laps, detections, insights."""
import json
import re

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError

from apexflow.storage import repository
from apexflow.storage.db import transaction
from apexflow_aws.config import connection

logger, tracer = Logger(), Tracer()
app = APIGatewayHttpResolver(serializer=lambda body: json.dumps(
    body, separators=(",", ":"), default=lambda o: o.isoformat() if hasattr(o, "isoformat") else str(o)))
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _int_param(name: str, default: int, low: int, high: int) -> int:
    raw = app.current_event.get_query_string_value(name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequestError(f"query parameter {name}={raw!r} must be an integer from {low} to {high}")
    return int(raw)


def _id_param(name: str, value: str | None) -> str | None:
    if value is not None and not _ID.match(value):
        raise BadRequestError(f"{name} {value!r} is not a valid id (letters, digits, '.', '_', '-')")
    return value


def _read(query, *args):
    with transaction(connection()) as cur:  # bounded by the statement timeout
        return query(cur, *args)


def _session_or_404(session_id: str) -> dict:
    session = _read(repository.get_session, _id_param("session id", session_id))
    if session is None:
        raise NotFoundError(f"session {session_id!r} not found; GET /sessions lists the sessions")
    return session


@app.get("/sessions")
def list_sessions():
    limit, offset = _int_param("limit", 50, 1, 500), _int_param("offset", 0, 0, 1_000_000)
    return {"sessions": _read(repository.list_sessions, limit, offset), "limit": limit, "offset": offset}


@app.get("/sessions/<session_id>")
def get_session(session_id: str):
    return _session_or_404(session_id)


@app.get("/sessions/<session_id>/laps")
def get_laps(session_id: str):
    _session_or_404(session_id)
    entity = _id_param("entity", app.current_event.get_query_string_value("entity"))
    return {"laps": _read(repository.laps, session_id, entity)}


@app.get("/sessions/<session_id>/detections")
def get_detections(session_id: str):
    _session_or_404(session_id)
    q = app.current_event.get_query_string_value
    kind, entity = _id_param("kind", q("kind")), _id_param("entity", q("entity"))
    return {"detections": _read(repository.detections, session_id, kind, entity)}


@app.get("/sessions/<session_id>/insights")
def get_insights(session_id: str):
    _session_or_404(session_id)
    return {"insights": _read(repository.insights, session_id)}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event, context):
    return app.resolve(event, context)
