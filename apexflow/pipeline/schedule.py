"""Scheduled ingestion: which F1 sessions ended recently and are not ingested yet.

Pure selection logic over event-schedule rows (as ``apexflow.sources.fastf1.schedule``
gives them: ``year``, ``EventName``, ``SessionN`` and ``SessionNDateUtc`` for N = 1..5).
FastF1's schedule has start times only, so a session's end is its start plus a nominal
length (``DURATIONS``). A session is *due* when it ended at least ``settle`` ago (timing data
is published after the session) and at most ``hours`` ago, and its session id is not in
``ingested``. Running the selection again after those sessions are ingested yields nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import overload

DURATIONS = {  # nominal session lengths, generous for delays
    "Practice 1": timedelta(minutes=60), "Practice 2": timedelta(minutes=60),
    "Practice 3": timedelta(minutes=60), "Qualifying": timedelta(minutes=75),
    "Sprint Shootout": timedelta(minutes=60), "Sprint Qualifying": timedelta(minutes=60),
    "Sprint": timedelta(minutes=60), "Race": timedelta(minutes=150),
}
DEFAULT_DURATION = timedelta(minutes=90)
SETTLE = timedelta(minutes=30)


@dataclass(frozen=True)
class Due:
    year: int
    event: str
    session: str
    session_id: str
    ended: datetime

    def spec(self) -> dict:
        return {"source": "fastf1", "year": self.year, "event": self.event, "session": self.session}


@overload
def _utc(value: datetime) -> datetime: ...
@overload
def _utc(value: object) -> datetime | None: ...
def _utc(value):
    """An aware UTC datetime from a datetime, an ISO string or a pandas timestamp; None for None, NaT or other."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if not isinstance(value, datetime) or value != value:  # NaT compares unequal to itself
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def due_sessions(events, now: datetime, hours: float, ingested: set[str], settle: timedelta = SETTLE,
                 session_id=None) -> list[Due]:
    """Sessions that ended within the last ``hours`` (and at least ``settle`` ago), not yet ingested.

    ``session_id(year, event, session)`` names a session (defaults to the FastF1 source's ids).
    Result is ordered by end time, oldest first.
    """
    if session_id is None:
        from apexflow.sources.fastf1 import session_id_of as session_id
    now = _utc(now)
    if now is None:
        raise ValueError("now must be a datetime")
    window = timedelta(hours=float(hours))
    out = []
    for e in events:
        for i in range(1, 6):
            name = e.get(f"Session{i}")
            start = _utc(e.get(f"Session{i}DateUtc"))
            if not name or start is None:
                continue
            ended = start + DURATIONS.get(name, DEFAULT_DURATION)
            if not (now - window <= ended <= now - settle):
                continue
            sid = session_id(int(e["year"]), e["EventName"], name)
            if sid in ingested:
                continue
            out.append(Due(int(e["year"]), e["EventName"], name, sid, ended))
    return sorted(out, key=lambda d: (d.ended, d.session_id))


def years_to_check(now: datetime, hours: float) -> list[int]:
    """Seasons whose sessions may fall in the window (two around New Year)."""
    now = _utc(now)
    return sorted({(now - timedelta(hours=float(hours))).year, now.year})


def live_session(events, now: datetime, lead: timedelta, session_id=None) -> Due | None:
    """The session to follow live: the earliest that starts within ``lead`` or is running (by its nominal
    length); None when there is none. ``Due.ended`` is then the session's nominal end."""
    if session_id is None:
        from apexflow.sources.fastf1 import session_id_of as session_id
    now = _utc(now)
    found = []
    for e in events:
        for i in range(1, 6):
            name, start = e.get(f"Session{i}"), _utc(e.get(f"Session{i}DateUtc"))
            if name and start is not None and start - lead <= now < start + DURATIONS.get(name, DEFAULT_DURATION):
                found.append(Due(int(e["year"]), e["EventName"], name, session_id(int(e["year"]), e["EventName"], name),
                                 start + DURATIONS.get(name, DEFAULT_DURATION)))
    return min(found, key=lambda d: d.ended, default=None)
