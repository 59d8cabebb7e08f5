"""Retirements: cars that stop lapping while the race goes on, with the cause where the results give one.

A car has retired when it was last seen (its last lap's end, sector or pit time) before the
winner took the chequered flag (the first car to complete the final lap): a lapped car finishes
after the winner, on fewer laps, and is no retirement. The lap is the one the car did not
complete (the in-lap where it stopped in the pit lane). The cause is FastF1's results ``Status``
where it says more than "Retired"; a car the results list with no lap at all did not start.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from apexflow.detect.base import Detection
from apexflow.detect.f1.lap import VERSION, Lap
from apexflow.detect.f1.lap_table import LapTable

_RUNNING = re.compile(r"^(Finished|Lapped|\+\d+ Laps?)$", re.IGNORECASE)


@dataclass(frozen=True)
class Retirement:
    driver: str
    lap: int                  # the lap the car did not complete (its in-lap when it stopped in the pits)
    last_seen: float          # session time
    in_pits: bool
    position: int | None      # its position at its last completed lap
    status: str | None        # FastF1 results status


def _last_seen(lap: Lap) -> float:
    times = [lap.time, lap.pit_in_time, lap.pit_out_time, lap.lap_start_time, *lap.sector_session_times]
    return max((t for t in times if t is not None), default=0.0)


def chequered_flag(table: LapTable) -> float | None:
    """Session time at which the winner completed the final lap."""
    final = max((lap.lap_number for lap in table.laps if lap.time is not None), default=None)
    return min((lap.time for lap in table.laps if lap.lap_number == final and lap.time is not None), default=None)


def find_retirements(table: LapTable, results: list[dict]) -> list[Retirement]:
    status = {str(r.get("Driver")): r.get("Status") for r in results}
    flag = chequered_flag(table)
    out = []
    if flag is None:
        return out
    for driver, laps in table.by_driver.items():
        timed = [lap for lap in laps if not lap.fastf1_generated or lap.time is not None]
        last = timed[-1] if timed else laps[-1]
        seen = max(_last_seen(lap) for lap in laps)
        if seen >= flag:
            continue
        in_pits = last.pitted_in and last is laps[-1]
        position = next((lap.position for lap in reversed(laps) if lap.position is not None), None)
        out.append(Retirement(driver, last.lap_number if in_pits or last.time is None else last.lap_number + 1,
                              seen, in_pits, position, status.get(driver)))
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
        if row.get("Driver") is not None and str(row["Driver"]) not in table.by_driver and status \
                and not _RUNNING.match(str(status)):
            out.append(Detection(session_id, str(row["Driver"]), "did_not_start", "warning", 0.6, 0.0, 0.0,
                                 "retirement", VERSION, lap=0,
                                 evidence={"status": status, "grid_position": row.get("GridPosition")}))
    return out
