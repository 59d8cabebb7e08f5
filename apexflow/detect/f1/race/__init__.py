"""Race events from timing data (laps, results, race-control messages): every F1 race has them,
with or without car telemetry.

- ``retirements``: ``retirement`` (with the results' cause) and ``did_not_start``;
- ``contact``: two or more cars losing big time or stopping at the same place on the same lap;
- ``damage``: ``sudden_damage``, one lap far off the car's pace, then a pit stop or retirement;
- ``positions``: ``overtake`` on track and ``position_change`` at the start;
- ``fastest``: ``fastest_lap`` and ``personal_best`` (any session).

``race_events`` runs the race ones; the time lost per sector (``losses``) and the big losses
(``incidents``) are computed once for all of them.
"""
from __future__ import annotations

from apexflow.contract import SessionFacts
from apexflow.detect.base import Detection
from apexflow.detect.f1.lap_table import LapTable
from apexflow.detect.f1.race.contact import contacts
from apexflow.detect.f1.race.damage import sudden_damage
from apexflow.detect.f1.race.incidents import incidents
from apexflow.detect.f1.race.losses import sector_losses
from apexflow.detect.f1.race.positions import grid_slots, overtakes, start_positions
from apexflow.detect.f1.race.retirements import find_retirements, retirements


def race_events(session_id: str, table: LapTable, facts: SessionFacts) -> list[Detection]:
    """Retirements, contact, sudden damage, overtakes and start positions of a race or sprint."""
    hits = incidents(sector_losses(table, grid_slots(facts.results)))
    retired = find_retirements(table, facts.results)
    return (retirements(session_id, table, facts.results)
            + contacts(session_id, hits, retired, facts.race_control_messages)
            + sudden_damage(session_id, table, hits, retired)
            + overtakes(session_id, table, hits)
            + start_positions(session_id, table, facts.results))
