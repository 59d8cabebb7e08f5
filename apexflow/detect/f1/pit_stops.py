"""Pit stops: pit-lane visits with their lane time."""
from __future__ import annotations

from apexflow.detect.base import Detection, severity
from apexflow.detect.f1.lap import VERSION
from apexflow.detect.f1.lap_table import LapTable

GARAGE_S = 60.0  # longer than this between pit in and out: the car went to the garage


def pit_stops(session_id: str, table: LapTable) -> list[Detection]:
    """A ``PitInTime`` followed by the next lap's ``PitOutTime``: one visit, with its lane time.

    Stationary time is not in lap data (it needs car telemetry). A pit-in with no pit-out
    (retirement, end of session) is reported with ``returned: false``. A stop is ``info``; in races, a visit
    to the garage (repairs) is a ``warning`` (outside races the garage is where cars wait between runs).
    """
    out = []
    for driver, laps in table.by_driver.items():
        for k, lap in enumerate(laps):
            if lap.pit_in_time is None:  # not an in-lap
                continue
            nxt = laps[k + 1] if k + 1 < len(laps) else None
            t_out = nxt.pit_out_time if nxt is not None else None
            lane = None if t_out is None else t_out - lap.pit_in_time
            ev = {"in_lap": lap.lap_number, "returned": t_out is not None,
                  "lane_seconds": None if lane is None else round(lane, 3),
                  "garage": bool(lane is not None and lane > GARAGE_S),
                  "compound_before": lap.compound, "compound_after": nxt.compound if nxt else None}
            score = 0.5 if ev["garage"] and table.race else 0.2
            out.append(Detection(session_id, driver, "pit_stop", severity(score), score, lap.pit_in_time,
                                 t_out if t_out is not None else lap.pit_in_time, "pit_stop", VERSION,
                                 lap=lap.lap_number, evidence=ev))
    return out
