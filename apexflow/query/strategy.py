"""Predictions: a stored session's laps replayed through the strategy engine (``apexflow.strategy``)."""
from __future__ import annotations

from pydantic import BaseModel

from apexflow.errors import NotFound, QueryError
from apexflow.query.base import page_model
from apexflow.query.laps import lap_range
from apexflow.query.sessions import require
from apexflow.strategy import LapRow, StrategyEngine, by_lap
from apexflow.strategy.laps import GREEN

_LAPS = (
    "SELECT entity_id AS driver, lap_number, coalesce((data->>'Time')::double precision, lap_start + lap_time) "
    "AS time, lap_time, stint, upper(compound) AS compound, tyre_life, pit_in_time IS NOT NULL AS pit_in, "
    "pit_out_time IS NOT NULL AND lap_number > 1 AS pit_out, coalesce(track_status, '1') AS track_status, position "
    "FROM laps WHERE session_id = %s ORDER BY lap_number, time")


class Unprocessable(QueryError):
    """A well-formed value the session cannot answer (a lap it does not have)."""

    status = 422


class Prediction(BaseModel):
    """One car after one lap: what the pit wall reads (seconds; positions 1-based)."""

    driver: str
    lap: int
    position: int | None
    compound: str | None
    tyre_age: int | None
    next_lap: float | None
    next_lap_low: float | None
    next_lap_high: float | None
    pit_loss: float
    rejoin_position: int | None
    rejoin_probability: float | None
    rejoin_ahead: str | None
    gap_ahead: float | None
    rejoin_behind: str | None
    gap_behind: float | None
    undercut_on: str | None
    undercut_gain: float | None
    threat_from: str | None
    threat_gain: float | None
    cliff_in_laps: float | None
    cliff_low: float | None
    cliff_high: float | None
    stop_lap: int | None
    stop_probability: float | None
    no_stop_probability: float
    stops: int
    window_from: int | None
    window_to: int | None
    next_compound: str | None
    reason: str
    rejoin_probabilities: dict[int, float]
    stop_probabilities: dict[int, float]


PredictionsPage = page_model("PredictionsPage", "predictions", Prediction)
TABLE = ["driver", "position", "compound", "tyre_age", "next_lap", "pit_loss", "rejoin_position",
         "rejoin_probability", "rejoin_ahead", "gap_ahead", "undercut_on", "undercut_gain", "cliff_in_laps",
         "stop_lap", "stop_probability", "reason"]


def session_laps(cur, session_id: str) -> list[LapRow]:
    cur.execute(_LAPS, (session_id,))
    names = [d.name for d in cur.description]
    return [LapRow(**dict(zip(names, r))) for r in cur.fetchall()]


def track_pit_loss(cur, session_id: str, sessions: int = 3) -> float | None:
    """The green pit loss of up to ``sessions`` earlier races and sprints at the same event (track), learnt from
    their own stops as the engine learns them; None when none is stored."""
    cur.execute(
        "SELECT e.session_id FROM sessions s JOIN sessions e ON e.event = s.event AND e.start_time < s.start_time "
        "AND e.session_id <> s.session_id AND e.session_name IN ('Race', 'Sprint') WHERE s.session_id = %s "
        "ORDER BY e.start_time DESC LIMIT %s", (session_id, sessions))
    losses = []
    for (earlier,) in cur.fetchall():
        laps = session_laps(cur, earlier)
        if not any(r.pit_in for r in laps):
            continue
        engine = StrategyEngine(max(r.lap_number for r in laps))
        for rows in by_lap(laps).values():
            engine.update(rows)
        losses += engine.pit.losses[GREEN]
    return sum(losses) / len(losses) if losses else None


def last_lap(cur, session_id: str) -> int:
    """The session's last lap (``NotFound`` for an unknown session; 0 without laps)."""
    require(cur, session_id)
    cur.execute("SELECT coalesce(max(lap_number), 0) FROM laps WHERE session_id = %s", (session_id,))
    return cur.fetchone()[0]


def predictions(cur, session_id: str, *, driver: str | None = None, lap: int | None = None,
                lap_from: int | None = None, lap_to: int | None = None) -> list[dict]:
    """Every car's predictions after each lap (or after ``lap`` only), replaying the laps up to it."""
    require(cur, session_id)
    lap_range(lap_from, lap_to)
    laps = session_laps(cur, session_id)
    if not laps:
        raise QueryError("session_id", f"session {session_id!r} has no laps: predictions need lap timing")
    last = max(r.lap_number for r in laps)
    for name, value in (("lap", lap), ("lap_from", lap_from), ("lap_to", lap_to)):
        if value is not None and not 1 <= value <= last:
            raise Unprocessable(name, f"{name}={value} is outside the session: it has laps 1-{last}")
    drivers = sorted({r.driver for r in laps})
    if driver is not None and driver not in drivers:
        raise NotFound("driver", f"driver {driver!r} is not in session {session_id!r}; it has {', '.join(drivers)}")
    cur.execute("SELECT session_name FROM sessions WHERE session_id = %s", (session_id,))
    engine = StrategyEngine(last, mandatory_stop=(cur.fetchone()[0] or "") == "Race",
                            pit_prior=track_pit_loss(cur, session_id))
    first, stop = (lap, lap) if lap is not None else (lap_from or 1, lap_to or last)
    out = []
    for n, rows in by_lap(laps).items():
        if n > stop:
            break
        engine.update(rows)
        if n >= first:
            out += [p.record() for p in engine.predictions() if driver is None or p.driver == driver]
    return out
