"""Sudden puncture or damage: one lap far off the car's own pace, then a pit stop or a retirement.

Unlike a slow puncture (``punctures``), which builds lap after lap, this is one step: a sector in
which the car lost big time (``incidents``), followed by a pit stop on that lap or the next, or by
the car's retirement.
"""
from __future__ import annotations

from apexflow.detect.base import Detection
from apexflow.detect.f1.lap import VERSION
from apexflow.detect.f1.lap_table import LapTable
from apexflow.detect.f1.race.losses import SectorLoss
from apexflow.detect.f1.race.retirements import Retirement


def sudden_damage(session_id: str, table: LapTable, hits: list[SectorLoss],
                  retired: list[Retirement]) -> list[Detection]:
    retired_on = {r.driver: r for r in retired}
    out, seen = [], set()
    for hit in hits:
        if (hit.driver, hit.lap) in seen:
            continue
        laps = {lap.lap_number: lap for lap in table.by_driver[hit.driver]}
        pit = next((laps[n] for n in (hit.lap, hit.lap + 1) if n in laps and laps[n].pitted_in), None)
        ret = retired_on.get(hit.driver)
        if pit is None and (ret is None or ret.lap > hit.lap + 1):
            continue
        seen.add((hit.driver, hit.lap))
        lap, before = laps[hit.lap], laps.get(hit.lap - 1)
        position = before.position if before is not None else lap.position  # where it ran when it happened
        then: dict[str, str | int] = (
            {"then": "pit_stop", "pit_lap": pit.lap_number} if pit is not None else {"then": "retirement"})
        if ret is not None:
            then["retired_on_lap"] = ret.lap
        out.append(Detection(session_id, hit.driver, "sudden_damage", "critical", 0.9, hit.start, hit.end,
                             "sudden_damage", VERSION, channel="LapTime", lap=hit.lap,
                             evidence={"sector": hit.sector, "seconds_lost": round(hit.seconds, 3),
                                       "lap_time": lap.lap_time, "position": position,
                                       "leading": position == 1, "compound": lap.compound, **then}))
    return out
