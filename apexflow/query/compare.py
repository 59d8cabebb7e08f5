"""Drivers side by side: lap-by-lap deltas to the first driver named, and their stints."""
from __future__ import annotations

from pydantic import BaseModel

from apexflow.errors import QueryError
from apexflow.query.base import Select
from apexflow.query.laps import Stint, lap_range, stints
from apexflow.query.sessions import driver as require_driver

MAX_DRIVERS = 5


class ComparedLap(BaseModel):
    lap_number: int
    driver: str
    lap_time: float | None
    delta: float | None  # lap time minus the reference driver's on the same lap
    gap: float | None    # seconds behind the reference driver at the end of the lap
    compound: str | None
    stint: int | None
    position: int | None


class Comparison(BaseModel):
    reference: str
    drivers: list[str]
    laps: list[ComparedLap]
    stints: list[Stint]


def compare(cur, session_id: str, drivers: list[str], lap_from: int | None = None,
            lap_to: int | None = None) -> dict:
    """``drivers[0]`` is the reference; each must be in the session (``NotFound`` names the one that is not)."""
    if not 2 <= len(drivers) <= MAX_DRIVERS or len(set(drivers)) != len(drivers):
        raise QueryError("drivers", f"name 2 to {MAX_DRIVERS} different drivers, e.g. drivers=VER,HAM; "
                                    f"got {','.join(drivers)!r}")
    lap_range(lap_from, lap_to)
    for d in drivers:
        require_driver(cur, session_id, d)
    laps = Select(
        "SELECT l.lap_number, l.entity_id AS driver, array_position(%s::text[], l.entity_id) AS rank, l.lap_time, "
        "l.lap_time - r.lap_time AS delta, (l.lap_start + l.lap_time) - (r.lap_start + r.lap_time) AS gap, "
        "l.compound, l.stint, l.position FROM laps l LEFT JOIN laps r ON r.session_id = l.session_id "
        "AND r.entity_id = %s AND r.lap_number = l.lap_number WHERE l.session_id = %s AND l.entity_id = ANY(%s)",
        (drivers, drivers[0], session_id, drivers), order=(("lap_number", int), ("rank", int)))
    laps.at_least("lap_number", lap_from).at_most("lap_number", lap_to)
    return {"reference": drivers[0], "drivers": drivers, "laps": laps.all(cur),
            "stints": stints(session_id).filter("driver = ANY(%s)", drivers).all(cur)}
