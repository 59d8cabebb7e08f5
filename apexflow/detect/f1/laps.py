"""Lap-level F1 detectors on ``SessionFacts`` (FastF1 column names, times in seconds).

They read only lap, track-status and result rows, so they run the same on FastF1 sessions and
on the synthetic race, and need no car telemetry. The laps are parsed and flagged once
(``lap_table.LapTable``); each family of events has its module:

- ``track_status``: yellow, safety car, virtual safety car and red flag periods.
- ``lap_time``: laps far off the driver's own local stint pace.
- ``tyres``: per stint, the pace trend and the forecast of the "cliff".
- ``punctures``: lap times drifting up lap after lap until a pit stop (races).
- ``pit_stops``: pit-lane visits with their lane time.
- ``race/``: race events from timing (retirements, contact, sudden damage, overtakes, start
  positions) in races and sprints, and the fastest lap and personal bests in every session.
"""
from __future__ import annotations

import re

from apexflow.contract import SessionFacts
from apexflow.detect.base import Detection
from apexflow.detect.f1.lap_table import LapTable
from apexflow.detect.f1.lap_time import lap_time_outliers
from apexflow.detect.f1.pit_stops import pit_stops
from apexflow.detect.f1.punctures import slow_punctures
from apexflow.detect.f1.race import race_events
from apexflow.detect.f1.race.fastest import fastest_laps
from apexflow.detect.f1.track_status import track_status_events
from apexflow.detect.f1.tyres import tyre_degradation

RACE_SESSIONS = frozenset({"Race", "Sprint"})
_CLASSIFIED = re.compile(r"^(Finished|Lapped|\+\d+ Laps?)$", re.IGNORECASE)


def finished(facts: SessionFacts) -> bool:
    """The session has taken the chequered flag: race control showed it, or the results classify a finisher."""
    return (any(str(m.get("Flag") or "").upper() == "CHEQUERED" or "CHEQUERED FLAG" in str(m.get("Message") or "")
                for m in facts.race_control_messages)
            or any(_CLASSIFIED.match(str(r.get("Status") or "")) for r in facts.results))


def detect_facts(session_id: str, facts: SessionFacts, session_name: str | None = None) -> list[Detection]:
    """Every lap-level detector on a session's facts. ``session_name`` (FastF1's, e.g. "Race",
    "Qualifying") decides race rules; unknown means race rules."""
    race = session_name is None or session_name in RACE_SESSIONS
    table = LapTable.of(facts.laps, facts.track_status, race)
    return (track_status_events(session_id, facts.track_status, table.end)
            + lap_time_outliers(session_id, table)
            + tyre_degradation(session_id, table, finished(facts))
            + (slow_punctures(session_id, table) if race else [])
            + pit_stops(session_id, table)
            + fastest_laps(session_id, table)
            + (race_events(session_id, table, facts) if race else []))
