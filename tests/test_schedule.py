"""Scheduled ingestion: selection on a frozen schedule; the handler's scheduled path twice on moto."""
from __future__ import annotations

from datetime import UTC, datetime

from apexflow.pipeline.schedule import due_sessions, years_to_check


def _utc(*a):
    return datetime(*a, tzinfo=UTC)


# A sprint weekend and a conventional one, written for this test (times as in FastF1's schedule, UTC).
FROZEN = [
    {"year": 2025, "EventName": "Miami Grand Prix",
     "Session1": "Practice 1", "Session1DateUtc": _utc(2025, 5, 2, 16, 30),
     "Session2": "Sprint Qualifying", "Session2DateUtc": _utc(2025, 5, 2, 20, 30),
     "Session3": "Sprint", "Session3DateUtc": _utc(2025, 5, 3, 16, 0),
     "Session4": "Qualifying", "Session4DateUtc": _utc(2025, 5, 3, 20, 0),
     "Session5": "Race", "Session5DateUtc": _utc(2025, 5, 4, 20, 0)},
    {"year": 2025, "EventName": "Emilia Romagna Grand Prix",
     "Session1": "Practice 1", "Session1DateUtc": "2025-05-16T11:30:00",
     "Session2": "Practice 2", "Session2DateUtc": "2025-05-16T15:00:00Z",
     "Session3": "Practice 3", "Session3DateUtc": _utc(2025, 5, 17, 10, 30),
     "Session4": "Qualifying", "Session4DateUtc": _utc(2025, 5, 17, 14, 0),
     "Session5": "Race", "Session5DateUtc": None},
]


def _names(due):
    return [(d.event, d.session) for d in due]


def test_sessions_that_ended_in_the_window_are_due():
    due = due_sessions(FROZEN, _utc(2025, 5, 3, 23, 30), hours=8, ingested=set())
    assert _names(due) == [("Miami Grand Prix", "Sprint"), ("Miami Grand Prix", "Qualifying")]
    assert due[0].session_id == "f1-2025-miami-grand-prix-s"
    assert due[0].spec() == {"source": "fastf1", "year": 2025, "event": "Miami Grand Prix", "session": "Sprint"}


def test_a_session_is_not_due_until_it_has_ended_and_settled():
    # Qualifying started 20:00, nominally ends 21:15, settles by 21:45
    assert _names(due_sessions(FROZEN, _utc(2025, 5, 3, 21, 40), 5, set())) == [("Miami Grand Prix", "Sprint")]
    assert ("Miami Grand Prix", "Qualifying") in _names(due_sessions(FROZEN, _utc(2025, 5, 3, 21, 45), 5, set()))


def test_already_ingested_sessions_are_skipped_so_a_second_run_does_nothing():
    now = _utc(2025, 5, 17, 16, 0)
    first = due_sessions(FROZEN, now, hours=30, ingested=set())
    assert _names(first) == [("Emilia Romagna Grand Prix", s) for s in
                             ("Practice 1", "Practice 2", "Practice 3", "Qualifying")]
    assert due_sessions(FROZEN, now, hours=30, ingested={d.session_id for d in first}) == []
    assert _names(due_sessions(FROZEN, now, 30, {first[0].session_id})) == _names(first[1:])


def test_sessions_without_a_date_and_outside_the_window_are_ignored():
    assert due_sessions(FROZEN, _utc(2025, 5, 20), hours=6, ingested=set()) == []
    assert due_sessions([], _utc(2025, 5, 20), hours=6, ingested=set()) == []


def test_years_around_new_year():
    assert years_to_check(_utc(2026, 1, 1, 2), 6) == [2025, 2026]
    assert years_to_check(_utc(2026, 5, 1), 6) == [2026]


def test_frozen_fastf1_schedule_selects_the_miami_sprint(shared_cache, tmp_path):
    from apexflow.sources import fastf1 as f1

    rows = f1.schedule(2025, tmp_path, shared_cache)
    assert any(r["EventName"] == "Miami Grand Prix" and r["Session3"] == "Sprint" for r in rows)
    due = due_sessions(rows, _utc(2025, 5, 3, 19, 0), hours=3, ingested=set())
    assert [d.session_id for d in due] == ["f1-2025-miami-grand-prix-s"]


def test_scheduled_handler_ingests_due_sessions_once(local, shared_cache, tmp_path, monkeypatch):
    """EventBridge Scheduler payload -> the due session ingested; the same run again ingests nothing."""
    from apexflow.query import sessions as query_sessions
    from apexflow.storage.db import connect
    from apexflow_local.esm import LambdaContext
    from apexflow_local.handlers import load

    monkeypatch.setenv("FASTF1_HTTP_CACHE", str(shared_cache))
    monkeypatch.setenv("FASTF1_CACHE", str(tmp_path / "ff1"))
    handler = load("ingest")
    event = {"source": "schedule", "hours": 3, "now": "2025-05-03T19:00:00Z"}
    first = handler.handler(event, LambdaContext("apexflow-ingest-local"))
    assert [r["session_id"] for r in first["ingested"]] == ["f1-2025-miami-grand-prix-s"]
    assert first["ingested"][0]["chunks"] == 0 and first["failed"] == []
    second = handler.handler(event, LambdaContext("apexflow-ingest-local"))
    assert second["ingested"] == [] and second["already_ingested"] == ["f1-2025-miami-grand-prix-s"]
    conn = connect(local)
    with conn.cursor() as cur:
        overview = query_sessions.overview(cur, "f1-2025-miami-grand-prix-s")
        cur.execute("SELECT count(*) FROM laps WHERE session_id = %s", ("f1-2025-miami-grand-prix-s",))
        assert cur.fetchone()[0] == 331
    conn.close()
    assert "car_data" in overview["missing"]
    assert sum(e["pit_stops"] for e in overview["entities"]) == 21


def test_the_live_task_follows_the_session_starting_within_the_lead_or_running():
    from datetime import timedelta

    from apexflow.pipeline.schedule import live_session

    lead = timedelta(minutes=15)
    assert live_session(FROZEN, _utc(2025, 5, 3, 15, 40), lead) is None  # the sprint is 20 minutes away
    assert live_session(FROZEN, _utc(2025, 5, 3, 15, 50), lead).session_id == "f1-2025-miami-grand-prix-s"
    assert live_session(FROZEN, _utc(2025, 5, 3, 16, 55), lead).session == "Sprint"  # running
    assert live_session(FROZEN, _utc(2025, 5, 3, 17, 5), lead) is None  # over
    assert live_session(FROZEN, _utc(2025, 5, 17, 13, 50), lead).session == "Qualifying"
