"""What every route shares: typed parameters, problem responses, read transactions, JSON or CSV lists."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated, Any, Literal, get_args

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, FiniteFloat

from apexflow.contract import ID_PATTERN, NAME_PATTERN
from apexflow.query.base import DEFAULT_PAGE, MAX_PAGE, Select
from apexflow.query.formats import to_csv
from apexflow.query.sessions import require
from apexflow.storage.db import read_only
from apexflow_aws.config import connection

STATEMENT_TIMEOUT_MS = 5000
PROBLEM = "application/problem+json"
COMPARABLE = "x-comparable"  # the OpenAPI extension listing a route's comparable fields


class ParameterError(BaseModel):
    parameter: str | None
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` names each parameter at fault."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ParameterError] = []


SessionId = Annotated[str, Path(pattern=ID_PATTERN, description="session id, e.g. f1-2025-miami-grand-prix-s")]
DriverPath = Annotated[str, Path(pattern=ID_PATTERN, description="driver (entity) id, e.g. VER")]
Driver = Annotated[str | None, Query(pattern=ID_PATTERN, description="driver (entity) id, e.g. VER")]
OneDriver = Annotated[str, Query(pattern=ID_PATTERN, description="driver (entity) id, e.g. VER")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"rows per page (at most {MAX_PAGE})")]
Cursor = Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page")]
Format = Annotated[Literal["json", "csv"], Query(description="json, or csv: this page's rows as CSV")]
Lap = Annotated[int | None, Query(ge=0, le=1000)]
Seconds = Annotated[FiniteFloat | None, Query(ge=-1e7, le=1e7, description="session time, seconds")]
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"  # no control characters (PostgreSQL refuses NUL in text)
Text = Annotated[str | None, Query(min_length=1, max_length=100, pattern=PRINTABLE)]
PAGE = DEFAULT_PAGE


def listed(pattern: str, description: str) -> Query:
    """A comma-separated list of values, each matching ``pattern`` (an anchored regular expression)."""
    one = pattern.strip("^$")
    return Query(pattern=f"^{one}(,{one})*$", max_length=700, description=description)


Drivers = Annotated[str, listed(ID_PATTERN, "2 to 5 drivers, the first the reference: VER,HAM")]
Channels = Annotated[str | None, listed(NAME_PATTERN, "comma-separated channels, e.g. Speed,Throttle")]
_TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 409: "Conflict",
           415: "Unsupported media type", 422: "Invalid parameter", 500: "Internal error", 503: "Unavailable"}


def problem(status: int, detail: str, parameter: str | None = None, errors: list[dict] | None = None) -> Response:
    body = Problem.model_validate({"title": _TITLES.get(status, "Error"), "status": status, "detail": detail,
                                   "errors": errors if errors is not None else (
                                       [{"parameter": parameter, "message": detail}] if parameter else [])})
    return Response(status, PROBLEM, body.model_dump_json())


def responses(model: type[BaseModel] | None, *errors: int, csv: bool = False, status: int = 200,
              description: str = "OK") -> dict:
    """The OpenAPI responses of a route: its model (and CSV), then problem documents for ``errors``, 400 (a query
    parameter it does not take), 422 and 500."""
    content: dict[str, dict[str, Any]] = ({"application/json": {"model": model}} if model
                                          else {"text/html": {"schema": {"type": "string"}}})
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    out: dict[int, dict[str, Any]] = {status: {"description": description, "content": content}}
    for code in sorted({400, 422, 500, *errors}):
        out[code] = {"description": _TITLES[code], "content": {PROBLEM: {"model": Problem}}}
    return out


@contextmanager
def reading():
    """One read-only transaction for one request."""
    with read_only(connection(), STATEMENT_TIMEOUT_MS) as cur:
        yield cur


def listing(page: BaseModel, key: str, fmt: str, rows: list[dict] | None = None) -> BaseModel | Response:
    """A list as its model, or with ``fmt == "csv"`` its rows as CSV (the next page's cursor in a header)."""
    if fmt != "csv":
        return page
    data = page.model_dump(mode="json")
    headers = {"X-Next-Cursor": data["next_cursor"]} if data.get("next_cursor") else None
    if rows is None:
        rows, row_model = data[key], get_args(type(page).model_fields[key].annotation)[0]
        columns = list(row_model.model_fields)
    else:
        columns = None
    return Response(200, "text/csv; charset=utf-8", to_csv(rows, columns), headers)


def session_page(model: type[BaseModel], key: str, session_id: str, select: Select, limit: int, cursor: str | None,
                 fmt: str) -> BaseModel | Response:
    """One page of a session's list (``NotFound`` for an unknown session), as JSON or CSV."""
    with reading() as cur:
        require(cur, session_id)
        found, after = select.page(cur, limit, cursor)
    return listing(model(**{key: found, "next_cursor": after}), key, fmt)


def comparable(fields: tuple[str, ...], more: str = "") -> dict:
    """A route's comparison filters: its description and the ``x-comparable`` extension naming the fields (which
    the check for unknown parameters reads)."""
    return {"description": f"Comparison filters (OpenF1 style: `name<=x`, `name>=x`, `name<x`, `name>x`, `name=x`, "
                           f"combined with `&`) on: {', '.join(fields)}.{more}",
            "openapi_extensions": {COMPARABLE: list(fields)}}
