"""The HTTP API's resolver: typed routes with validation, OpenAPI at /openapi.json and /docs, problem errors.

Errors are ``application/problem+json``: 422 for a parameter of the wrong type or out of range, 400 for one
that means nothing here (an unknown parameter or filter field, a foreign cursor, a reversed range), 404 for an
unknown session, driver, lap or route, 405 (with ``Allow``) for a method a route does not take, 415 for a body
that is not JSON, 503 when a database or workflow is out of reach, 500 for our own faults only. HEAD answers as
GET without the body.
"""
from __future__ import annotations

import difflib
import functools
import json
import re
import threading
import warnings
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from apexflow.errors import QueryError, RawDataMissing
from apexflow_aws import invoke
from apexflow_aws.api import IAM_PREFIX, findings, sessions, strategy, telemetry, timing
from apexflow_aws.api.common import COMPARABLE, PROBLEM, ParameterError, Problem, problem

TITLE, VERSION = "ApexFlow API", "1.0.0"
JSON_MEDIA = re.compile(r"^application/([\w.-]+\+)?json$")
_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(<=|>=|<|>|=|$)")


class Resolver(APIGatewayHttpResolver):
    """Powertools' resolver with the request held per thread (``apexflow serve`` answers requests side by side;
    a Lambda container one at a time), HEAD answered as GET without the body, and a body that is not JSON
    refused with 415 before validation tries to read it."""

    _request = threading.local()

    current_event = property(lambda self: getattr(self._request, "event", None), lambda self, value: None)
    lambda_context = property(lambda self: getattr(self._request, "context", None), lambda self, value: None)

    @property
    def context(self) -> dict:
        if not hasattr(self._request, "routing"):
            self._request.routing = {}
        return self._request.routing

    @context.setter
    def context(self, value: dict) -> None:
        self._request.routing = value

    def resolve(self, event, context) -> dict:
        http = event["requestContext"]["http"]
        head = http["method"] == "HEAD"
        if head:
            event = {**event, "requestContext": {**event["requestContext"], "http": {**http, "method": "GET"}}}
        media = _media_type(event.get("headers") or {})
        if media and event.get("body") and self.takes_body(http["method"], event["rawPath"]):
            if not JSON_MEDIA.match(media):
                return _unsupported(http["method"], event["rawPath"], media)
            event = {**event, "headers": {**event["headers"], "content-type": media}}  # media types ignore case
        self._request.event, self._request.context = self._to_proxy_event(event), context
        try:
            response = super().resolve(event, context)
        finally:
            self._request.event = self._request.context = None
        if head:
            response.update(body="", isBase64Encoded=False)
        return response

    def routes(self) -> list:
        """Every route registered (Powertools keeps them in two lists)."""
        return self._static_routes + self._dynamic_routes

    def methods(self, path: str) -> list[str]:
        """The methods some route takes at ``path`` (the IAM prefix stripped), HEAD with GET."""
        path = path[len(IAM_PREFIX):] if path.startswith(f"{IAM_PREFIX}/") else path
        found = {r.method for r in self.routes() if r.rule.match(path)}
        return sorted(found | ({"HEAD"} if "GET" in found else set()))

    def takes_body(self, method: str, path: str) -> bool:
        path = path[len(IAM_PREFIX):] if path.startswith(f"{IAM_PREFIX}/") else path
        return any(r.method == method and r.rule.match(path) and r.dependant.body_params for r in self.routes())


def _media_type(headers: dict) -> str:
    found = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return found.split(";", 1)[0].strip().lower()


def _unsupported(method: str, path: str, media: str) -> dict:
    detail = f"{method} {path} takes a JSON body (Content-Type: application/json), not {media}"
    body = Problem(title="Unsupported media type", status=415, detail=detail,
                   errors=[ParameterError(parameter="Content-Type", message=detail)])
    return {"statusCode": 415, "headers": {"Content-Type": PROBLEM, "Accept-Post": "application/json"},
            "body": body.model_dump_json(), "isBase64Encoded": False}


logger = Logger()
app = Resolver(
    enable_validation=True, strip_prefixes=[IAM_PREFIX],
    serializer=lambda body: json.dumps(body, separators=(",", ":"), default=str))
for module in (sessions, timing, findings, telemetry, strategy):
    app.include_router(module.router)


@app.get("/docs", include_in_schema=False)
def swagger_page():
    """Powertools' Swagger page, set up by the first request for it: its OpenAPI models stay out of the cold
    start of every other route."""
    return _swagger().func()


@functools.cache
def _swagger():
    with warnings.catch_warnings():  # registered after ours on purpose: reached only through it
        warnings.filterwarnings("ignore", "A route like this was already registered")
        app.enable_swagger(path="/docs", title=TITLE, version=VERSION)
    return next(r for r in app.routes() if r.path == "/docs" and r.func is not swagger_page)


def known_parameters(app: Resolver, next_middleware):
    """Refuse a query parameter the route does not take (a typo would otherwise widen the answer), naming it and
    the ones it takes; a comparison (``name<x``) only on the route's comparable fields."""
    route = app.context.get("_route")
    if route is None or not route.include_in_schema or route not in app.routes():
        return next_middleware(app)
    declared = [f.alias for f in route.dependant.query_params]
    comparable = list((route.openapi_extensions or {}).get(COMPARABLE, ()))
    for part in filter(None, app.current_event.raw_query_string.split("&")):
        text = unquote_plus(part)
        match = _NAME.match(text)
        name, op = (match.group(1), match.group(2)) if match else (text.split("=", 1)[0], "=")
        if op in ("=", ""):
            if name in declared + comparable:
                continue
            close = difflib.get_close_matches(name, declared + comparable, n=1)
            raise QueryError(name, f"unknown parameter {name!r}{_mean(close)}; {route.method} {route.openapi_path} "
                                   f"takes: {', '.join(declared) or 'no parameters'}"
                                   + (f"; comparisons on: {', '.join(comparable)}" if comparable else ""))
        if name not in comparable:
            close = difflib.get_close_matches(name, comparable, n=1)
            raise QueryError(name, f"{name!r} cannot be compared here{_mean(close)}; comparable fields: "
                                   f"{', '.join(comparable) or 'none'}")
    return next_middleware(app)


def _mean(close: list[str]) -> str:
    return f" (did you mean {close[0]!r}?)" if close else ""


app.use([known_parameters])


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
    allowed = app.methods(event.path)
    if allowed:
        answer = problem(405, f"{event.http_method} is not allowed on {event.path}; it takes {', '.join(allowed)}")
        answer.headers["Allow"] = ", ".join(allowed)
        return answer
    return problem(404, f"no route {event.http_method} {event.path}; GET /docs lists the routes")


@app.exception_handler(Exception)
def fault(e: Exception):
    logger.exception("unexpected error")
    return problem(500, "internal error; the logs carry the details under this request's correlation id")
