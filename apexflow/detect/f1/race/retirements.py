"""Retirements: cars that stop lapping while the race goes on, with the cause where the results give one.

A car has retired when it was last seen (its last lap's end, sector or pit time) before the
winner took the chequered flag (the first car to complete the final lap): a lapped car finishes
after the winner, on fewer laps, and is no retirement. The lap is the one the car did not
complete (the in-lap where it stopped in the pit lane). The lap FastF1 generates for a car that
stopped on track (``FastF1Generated``) is that lap; its end time is FastF1's guess, so only its start
counts as seen. The cause is FastF1's results ``Status`` where it says more than "Retired". A car the
results list with no lap at all, or as "Did not start" or withdrawn, did not start.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from apexflow.detect.base import Detection
from apexflow.detect.f1.lap import VERSION, Lap
from apexflow.detect.f1.lap_table import LapTable

_RUNNING = re.compile(r"^(Finished|Lapped|\+\d+ Laps?)$", re.IGNORECASE)
_NOT_STARTED = re.compile(r"did not start|withdr", re.IGNORECASE)


@dataclass(frozen=True)
class Retirement:
    driver: str
    lap: int                  # the lap the car did not complete (its in-lap when it stopped in the pits)
    lap_start: float          # session time that lap started
    last_seen: float          # session time
    in_pits: bool
    position: int | None      # its position at its last completed lap
    status: str | None        # FastF1 results status


def _last_seen(lap: Lap) -> float:
    if lap.fastf1_generated:  # FastF1 guessed its end: the car was seen starting it
        return lap.lap_start_time if lap.lap_start_time is not None else (lap.time or 0.0)
    times = [lap.time, lap.pit_in_time, lap.pit_out_time, lap.lap_start_time, *lap.sector_session_times]
    return max((t for t in times if t is not None), default=0.0)


def _not_started(row: dict) -> bool:
    return bool(_NOT_STARTED.search(str(row.get("Status") or ""))) or row.get("ClassifiedPosition") == "W"


def chequered_flag(table: LapTable) -> float | None:
    """Session time at which the winner completed the final lap."""
    timed = [lap for lap in table.laps if lap.time is not None and not lap.fastf1_generated]
    final = max((lap.lap_number for lap in timed), default=None)
    return min((lap.ended for lap in timed if lap.lap_number == final), default=None)


def find_retirements(table: LapTable, results: list[dict]) -> list[Retirement]:
    status = {str(r.get("Driver")): r.get("Status") for r in results}
    absent = {str(r.get("Driver")) for r in results if _not_started(r)}
    flag = chequered_flag(table)
    out: list[Retirement] = []
    if flag is None:
        return out
    for driver, laps in table.by_driver.items():
        last = laps[-1]
        seen = max(_last_seen(lap) for lap in laps)
        if seen >= flag or driver in absent:
            continue
        stopped_in = last.fastf1_generated or last.time is None or last.pitted_in  # a lap it did not complete
        position = next((lap.position for lap in reversed(laps) if lap.position is not None), None)
        out.append(Retirement(driver, last.lap_number if stopped_in else last.lap_number + 1,
                              last.start if stopped_in else last.end, seen,
                              last.pitted_in and not last.fastf1_generated, position, status.get(driver)))
    return out


def retirements(session_id: str, table: LapTable, results: list[dict]) -> list[Detection]:
    """One ``retirement`` per car that stopped, and one ``did_not_start`` per car the results list
    as not running with no lap timed."""
    out = []
    for r in find_retirements(table, results):
        cause = r.status if r.status and not _RUNNING.match(r.status) and r.status != "Retired" else None
        out.append(Detection(session_id, r.driver, "retirement", "critical", 1.0, r.last_seen, r.last_seen,
                             "retirement", VERSION, lap=r.lap,
                             evidence={"status": r.status, "cause": cause, "in_pits": r.in_pits,
                                       "position": r.position, "leading": r.position == 1,
                                       "last_seen": round(r.last_seen, 3)}))
    for row in results:
        status = row.get("Status")
        if row.get("Driver") is not None and (_not_started(row) or (
                str(row["Driver"]) not in table.by_driver and status and not _RUNNING.match(str(status)))):
            out.append(Detection(session_id, str(row["Driver"]), "did_not_start", "warning", 0.6, 0.0, 0.0,
                                 "retirement", VERSION, lap=0,
                                 evidence={"status": status, "grid_position": row.get("GridPosition")}))
    return out
