"""Track status, race-control messages and results: the session's timing facts, in FastF1's terms."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from apexflow.query.base import Select, page_model


class TrackStatus(BaseModel):
    t: float
    date: datetime
    status: str
    message: str


class RaceControl(BaseModel):
    index: int
    t: float | None
    lap: int | None
    category: str | None
    message: str | None
    status: str | None
    flag: str | None
    scope: str | None
    sector: int | None
    racing_number: str | None


class Result(BaseModel):
    index: int
    position: int | None
    classified_position: str | None
    driver: str | None
    driver_number: str | None
    full_name: str | None
    team: str | None
    grid_position: int | None
    status: str | None
    points: float | None
    laps: int | None
    time: float | None


TrackStatusPage = page_model("TrackStatusPage", "track_status", TrackStatus)
RaceControlPage = page_model("RaceControlPage", "race_control", RaceControl)
ResultsPage = page_model("ResultsPage", "results", Result)

TRACK_FIELDS = ("t",)
RACE_CONTROL_FIELDS = ("t", "lap", "sector")
RESULT_FIELDS = ("position", "grid_position", "points", "laps", "time")


def _facts(kind: str, columns: str, record: str) -> str:
    """The rows of one ``session_facts`` kind as a table (``index`` = their order as the source gave them)."""
    return (f"SELECT e.index::int AS index, {columns} FROM session_facts f, jsonb_array_elements(f.rows) "
            f"WITH ORDINALITY AS e(item, index), jsonb_to_record(e.item) AS r({record}) "
            f"WHERE f.session_id = %s AND f.kind = '{kind}'")


def track_status(session_id: str, *, status: str | None = None, raw_query: str = "") -> Select:
    select = Select("SELECT t, s.start_time + make_interval(secs => t) AS date, status, message FROM track_status "
                    "JOIN sessions s USING (session_id) WHERE session_id = %s", (session_id,),
                    order=(("t", float), ("status", str)))
    return select.equal("status", status).compare(raw_query, TRACK_FIELDS)


def race_control(session_id: str, *, category: str | None = None, flag: str | None = None,
                 raw_query: str = "") -> Select:
    select = Select(_facts(
        "race_control_messages",
        "\"Time\" AS t, \"Lap\"::int AS lap, \"Category\" AS category, \"Message\" AS message, \"Status\" AS status, "
        "\"Flag\" AS flag, \"Scope\" AS scope, \"Sector\"::int AS sector, \"RacingNumber\" AS racing_number",
        "\"Time\" float8, \"Lap\" float8, \"Category\" text, \"Message\" text, \"Status\" text, \"Flag\" text, "
        "\"Scope\" text, \"Sector\" float8, \"RacingNumber\" text"), (session_id,), order=(("index", int),))
    select.equal("lower(category)", category and category.lower()).equal("upper(flag)", flag and flag.upper())
    return select.compare(raw_query, RACE_CONTROL_FIELDS)


def results(session_id: str, *, raw_query: str = "") -> Select:
    select = Select(_facts(
        "results",
        "\"Position\"::int AS position, \"ClassifiedPosition\" AS classified_position, "
        "coalesce(\"Abbreviation\", \"Driver\") AS driver, \"DriverNumber\" AS driver_number, \"FullName\" AS "
        "full_name, \"TeamName\" AS team, \"GridPosition\"::int AS grid_position, \"Status\" AS status, "
        "\"Points\" AS points, \"Laps\"::int AS laps, \"Time\" AS time",
        "\"Position\" float8, \"ClassifiedPosition\" text, \"Abbreviation\" text, \"Driver\" text, "
        "\"DriverNumber\" text, \"FullName\" text, \"TeamName\" text, \"GridPosition\" float8, \"Status\" text, "
        "\"Points\" float8, \"Laps\" float8, \"Time\" float8"), (session_id,), order=(("index", int),))
    return select.compare(raw_query, RESULT_FIELDS)
