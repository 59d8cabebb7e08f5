"""The HTTP API's resolver: typed routes with validation, OpenAPI at /openapi.json and /docs, problem errors.

Errors are ``application/problem+json``: 422 for a parameter of the wrong type or out of range, 400 for one
that means nothing here (an unknown filter field, a foreign cursor, a reversed range), 404 for an unknown
session, driver, lap or route, 503 when a database or workflow is out of reach, 500 for our own faults only.
"""
from __future__ import annotations

import json

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from apexflow.errors import QueryError, RawDataMissing
from apexflow_aws import invoke
from apexflow_aws.api import IAM_PREFIX, findings, sessions, telemetry, timing
from apexflow_aws.api.common import problem

TITLE, VERSION = "ApexFlow API", "1.0.0"

logger = Logger()
app = APIGatewayHttpResolver(
    enable_validation=True, strip_prefixes=[IAM_PREFIX],
    serializer=lambda body: json.dumps(body, separators=(",", ":"), default=str))
for module in (sessions, timing, findings, telemetry):
    app.include_router(module.router)
app.enable_swagger(path="/docs", title=TITLE, version=VERSION)


@app.get("/openapi.json", include_in_schema=False)
def openapi_document():
    return Response(200, "application/json", app.get_openapi_json_schema(title=TITLE, version=VERSION))


@app.exception_handler(RequestValidationError)
def invalid(e: RequestValidationError):
    if any(err.get("loc", ("",))[0] == "response" for err in e.errors()):  # our answer broke its own model
        return fault(e)
    errors = [{"parameter": next((x for x in reversed(err.get("loc", ())) if isinstance(x, str)), None),
               "message": err["msg"]} for err in e.errors()]
    return problem(422, "; ".join(f"{err['parameter']}: {err['message']}" for err in errors), errors=errors)


@app.exception_handler(UnicodeDecodeError)
def not_utf8(e: UnicodeDecodeError):
    return problem(400, "the request body is not UTF-8 text", "body")


@app.exception_handler(QueryError)
def unanswerable(e: QueryError):
    return problem(e.status, str(e), e.parameter)


@app.exception_handler(RawDataMissing)
def raw_missing(e: RawDataMissing):
    return problem(404, f"{e}; ingest the session again to restore its raw data")


@app.exception_handler(invoke.Unavailable)
def unavailable(e: invoke.Unavailable):
    return problem(503, str(e))


@app.exception_handler(ServiceError)
def service_error(e: ServiceError):
    return problem(e.status_code, e.msg)  # type: ignore[arg-type]  # Powertools' own errors carry text


@app.not_found
def no_route(e: NotFoundError):
    event = app.current_event
    return problem(404, f"no route {event.http_method} {event.path}; GET /docs lists the routes")


@app.exception_handler(Exception)
def fault(e: Exception):
    logger.exception("unexpected error")
    return problem(500, "internal error; the logs carry the details under this request's correlation id")
