"""Laps, stints and pit stops, from the timing data (FastF1's lap columns)."""
from __future__ import annotations

from pydantic import BaseModel

from apexflow.errors import QueryError
from apexflow.query.base import Select, page_model

GREEN = "1"  # FastF1's track status of a lap run entirely under green


class Lap(BaseModel):
    driver: str
    lap_number: int
    lap_start: float | None
    lap_time: float | None
    sector1_time: float | None
    sector2_time: float | None
    sector3_time: float | None
    stint: int | None
    compound: str | None
    tyre_life: float | None
    pit_in_time: float | None
    pit_out_time: float | None
    track_status: str | None
    position: int | None
    deleted: bool | None
    is_accurate: bool | None


class Stint(BaseModel):
    driver: str
    stint: int
    compound: str | None
    first_lap: int
    last_lap: int
    laps: int
    tyre_life_start: float | None
    best_lap_time: float | None
    mean_green_lap_time: float | None


class PitStop(BaseModel):
    driver: str
    lap_number: int
    pit_in_time: float
    pit_out_time: float | None
    lane_seconds: float | None
    compound_before: str | None
    compound_after: str | None


LapsPage = page_model("LapsPage", "laps", Lap)
StintsPage = page_model("StintsPage", "stints", Stint)
PitStopsPage = page_model("PitStopsPage", "pit_stops", PitStop)

LAP_FIELDS = ("lap_number", "lap_start", "lap_time", "sector1_time", "sector2_time", "sector3_time", "stint",
              "tyre_life", "pit_in_time", "pit_out_time", "position")
STINT_FIELDS = ("stint", "first_lap", "last_lap", "laps", "tyre_life_start", "best_lap_time", "mean_green_lap_time")
PIT_FIELDS = ("lap_number", "pit_in_time", "pit_out_time", "lane_seconds")
_CLEAN = f"track_status = '{GREEN}' AND pit_in_time IS NULL AND pit_out_time IS NULL AND NOT coalesce(deleted, false)"


def lap_range(lap_from: int | None, lap_to: int | None) -> None:
    if lap_from is not None and lap_to is not None and lap_from > lap_to:
        raise QueryError("lap_to", f"lap_to={lap_to} is before lap_from={lap_from}")


def laps(session_id: str, *, driver: str | None = None, lap_from: int | None = None, lap_to: int | None = None,
         compound: str | None = None, stint: int | None = None, green: bool = False, raw_query: str = "") -> Select:
    """Laps by driver and number; ``green`` keeps laps run entirely under green flags."""
    lap_range(lap_from, lap_to)
    select = Select(
        "SELECT entity_id AS driver, lap_number, lap_start, lap_time, sector1_time, sector2_time, sector3_time, "
        "stint, compound, tyre_life, pit_in_time, pit_out_time, track_status, position, deleted, is_accurate "
        "FROM laps WHERE session_id = %s", (session_id,), order=(("driver", str), ("lap_number", int)))
    select.equal("driver", driver).at_least("lap_number", lap_from).at_most("lap_number", lap_to)
    select.equal("upper(compound)", compound and compound.upper()).equal("stint", stint)
    if green:
        select.filter("track_status = %s", GREEN)
    return select.compare(raw_query, LAP_FIELDS)


def stints(session_id: str, *, driver: str | None = None, compound: str | None = None,
           raw_query: str = "") -> Select:
    """One row per driver and stint; the mean lap counts clean green laps only (no pit, not deleted)."""
    select = Select(
        "SELECT entity_id AS driver, coalesce(stint, 0) AS stint, mode() WITHIN GROUP (ORDER BY compound) AS "
        "compound, min(lap_number) AS first_lap, max(lap_number) AS last_lap, count(*)::int AS laps, "
        "min(tyre_life) AS tyre_life_start, min(lap_time) FILTER (WHERE NOT coalesce(deleted, false)) AS "
        f"best_lap_time, avg(lap_time) FILTER (WHERE {_CLEAN}) AS mean_green_lap_time "
        "FROM laps WHERE session_id = %s GROUP BY entity_id, coalesce(stint, 0)", (session_id,),
        order=(("driver", str), ("stint", int)))
    select.equal("driver", driver).equal("upper(compound)", compound and compound.upper())
    return select.compare(raw_query, STINT_FIELDS)


def pit_stops(session_id: str, *, driver: str | None = None, raw_query: str = "") -> Select:
    """A stop is an in-lap (``pit_in_time``); the lane time runs to the next lap's ``pit_out_time``."""
    select = Select(
        "SELECT l.entity_id AS driver, l.lap_number, l.pit_in_time, n.pit_out_time, "
        "n.pit_out_time - l.pit_in_time AS lane_seconds, l.compound AS compound_before, "
        "n.compound AS compound_after FROM laps l LEFT JOIN laps n ON n.session_id = l.session_id "
        "AND n.entity_id = l.entity_id AND n.lap_number = l.lap_number + 1 "
        "WHERE l.session_id = %s AND l.pit_in_time IS NOT NULL", (session_id,),
        order=(("driver", str), ("lap_number", int)))
    return select.equal("driver", driver).compare(raw_query, PIT_FIELDS)
