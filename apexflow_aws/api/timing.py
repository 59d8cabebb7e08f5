"""Routes: a session's laps, stints, pit stops, track status, race control, results and driver comparison."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from apexflow.query import compare, laps, timing
from apexflow.query.sessions import require
from apexflow_aws.api.common import (
    PAGE,
    Cursor,
    Driver,
    Drivers,
    Format,
    Lap,
    Limit,
    SessionId,
    Text,
    comparable,
    listing,
    reading,
    responses,
    session_page,
)

router = Router()
Stint = Annotated[int | None, Query(ge=0, le=100)]


def _raw() -> str:
    return router.current_event.raw_query_string  # type: ignore[attr-defined]  # an HTTP API (v2) event has it


@router.get("/sessions/<session_id>/laps", summary="Laps", **comparable(laps.LAP_FIELDS),
            responses=responses(laps.LapsPage, 400, 404, csv=True))
def get_laps(session_id: SessionId, driver: Driver = None, lap_from: Lap = None, lap_to: Lap = None,
             compound: Text = None, stint: Stint = None, green: bool = False, limit: Limit = PAGE,
             cursor: Cursor = None, format: Format = "json"):
    select = laps.laps(session_id, driver=driver, lap_from=lap_from, lap_to=lap_to, compound=compound, stint=stint,
                       green=green, raw_query=_raw())
    return session_page(laps.LapsPage, "laps", session_id, select, limit, cursor, format)


@router.get("/sessions/<session_id>/stints", summary="Stints", **comparable(laps.STINT_FIELDS),
            responses=responses(laps.StintsPage, 400, 404, csv=True))
def get_stints(session_id: SessionId, driver: Driver = None, compound: Text = None, limit: Limit = PAGE,
               cursor: Cursor = None, format: Format = "json"):
    select = laps.stints(session_id, driver=driver, compound=compound, raw_query=_raw())
    return session_page(laps.StintsPage, "stints", session_id, select, limit, cursor, format)


@router.get("/sessions/<session_id>/pit_stops", summary="Pit stops", **comparable(laps.PIT_FIELDS),
            responses=responses(laps.PitStopsPage, 400, 404, csv=True))
def get_pit_stops(session_id: SessionId, driver: Driver = None, limit: Limit = PAGE, cursor: Cursor = None,
                  format: Format = "json"):
    select = laps.pit_stops(session_id, driver=driver, raw_query=_raw())
    return session_page(laps.PitStopsPage, "pit_stops", session_id, select, limit, cursor, format)


@router.get("/sessions/<session_id>/track_status", summary="Track status changes (FastF1 codes)",
            **comparable(timing.TRACK_FIELDS),
            responses=responses(timing.TrackStatusPage, 400, 404, csv=True))
def get_track_status(session_id: SessionId, status: Annotated[str | None, Query(pattern=r"^[0-9]{1,2}$")] = None,
                     limit: Limit = PAGE, cursor: Cursor = None, format: Format = "json"):
    select = timing.track_status(session_id, status=status, raw_query=_raw())
    return session_page(timing.TrackStatusPage, "track_status", session_id, select, limit, cursor, format)


@router.get("/sessions/<session_id>/race_control", summary="Race-control messages",
            **comparable(timing.RACE_CONTROL_FIELDS),
            responses=responses(timing.RaceControlPage, 400, 404, csv=True))
def get_race_control(session_id: SessionId, category: Text = None, flag: Text = None, limit: Limit = PAGE,
                     cursor: Cursor = None, format: Format = "json"):
    select = timing.race_control(session_id, category=category, flag=flag, raw_query=_raw())
    return session_page(timing.RaceControlPage, "race_control", session_id, select, limit, cursor, format)


@router.get("/sessions/<session_id>/results", summary="Results", **comparable(timing.RESULT_FIELDS),
            responses=responses(timing.ResultsPage, 400, 404, csv=True))
def get_results(session_id: SessionId, limit: Limit = PAGE, cursor: Cursor = None, format: Format = "json"):
    select = timing.results(session_id, raw_query=_raw())
    return session_page(timing.ResultsPage, "results", session_id, select, limit, cursor, format)


@router.get("/sessions/<session_id>/compare", summary="Drivers compared lap by lap, and their stints",
            description="Deltas and gaps are to the first driver named. `format=csv` gives the laps.",
            responses=responses(compare.Comparison, 400, 404, csv=True))
def get_compare(session_id: SessionId, drivers: Drivers, lap_from: Lap = None, lap_to: Lap = None,
                format: Format = "json"):
    with reading() as cur:
        require(cur, session_id)
        found = compare.Comparison(**compare.compare(cur, session_id, drivers.split(","), lap_from, lap_to))
    return listing(found, "laps", format)
