"""Overtakes on track, and the places each car gained or lost at the start.

The running order on lap ``n`` is the order in which the cars completed it (their lap's ``Time``),
so a car lapping another is never counted: both are compared on the same lap. Car A overtook car B
on lap ``n`` when B completed lap ``n - 1`` ahead of A and lap ``n`` behind it, both laps green for
both, neither car in the pit lane on lap ``n`` (a place won in the pits is no overtake), and B lost
no big time there (a car slowing with a problem is passed, not overtaken). The start: each car's
position at the end of lap 1 against its place on the grid among the cars that started (FastF1
results ``GridPosition``; 0 is a pit-lane start, behind everyone).
"""
from __future__ import annotations

from apexflow.detect.base import Detection
from apexflow.detect.f1.lap import VERSION, Lap
from apexflow.detect.f1.lap_table import LapTable
from apexflow.detect.f1.race.losses import SectorLoss


def _order(table: LapTable) -> dict[int, dict[str, Lap]]:
    """Lap number -> {driver: lap} for the laps with a completion time."""
    out: dict[int, dict[str, Lap]] = {}
    for lap in table.laps:
        if lap.time is not None:
            out.setdefault(lap.lap_number, {})[lap.driver] = lap
    return out


def overtakes(session_id: str, table: LapTable, hits: list[SectorLoss]) -> list[Detection]:
    by_lap = _order(table)
    troubled = {(h.driver, h.lap) for h in hits}
    out = []
    for n in sorted(by_lap):
        prev, cur = by_lap.get(n - 1), by_lap[n]
        if prev is None:
            continue
        both = [d for d in cur if d in prev]
        rank_before = {d: k for k, d in enumerate(sorted(both, key=lambda d: prev[d].ended))}
        rank_after = {d: k for k, d in enumerate(sorted(both, key=lambda d: cur[d].ended))}
        ok = {d for d in both if prev[d].green and cur[d].green and not cur[d].pitted_in and not cur[d].pitted_out
              and not prev[d].pitted_in}
        for a in sorted(ok):
            for b in sorted(ok):
                if rank_before[b] < rank_before[a] and rank_after[a] < rank_after[b] and (b, n) not in troubled:
                    out.append(Detection(
                        session_id, a, "overtake", "info", 0.3, cur[b].start, cur[a].ended, "positions", VERSION,
                        lap=n, evidence={"passed": b, "position": cur[a].position, "passed_position": cur[b].position,
                                         "gap_before_s": round(prev[a].ended - prev[b].ended, 3),
                                         "gap_after_s": round(cur[b].ended - cur[a].ended, 3)}))
    return out


def grid_slots(results: list[dict]) -> dict[str, int]:
    """Driver -> FastF1 results ``GridPosition`` (1 = pole); pit-lane starters (0) are left out."""
    return {str(r["Driver"]): int(r["GridPosition"]) for r in results
            if isinstance(r.get("GridPosition"), (int, float)) and r["GridPosition"] >= 1 and r.get("Driver")}


def start_positions(session_id: str, table: LapTable, results: list[dict]) -> list[Detection]:
    first = _order(table).get(1, {})
    slots = {d: s for d, s in grid_slots(results).items() if d in first}
    slots |= {str(r["Driver"]): 1000 for r in results  # a pit-lane start starts behind everyone
              if r.get("GridPosition") == 0 and str(r.get("Driver")) in first}
    grid = {d: k for k, d in enumerate(sorted(slots, key=lambda d: (slots[d], d)), start=1)}
    out = []
    for k, driver in enumerate(sorted(first, key=lambda d: first[d].ended), start=1):
        slot = grid.get(driver)
        if slot is not None and slot != k:
            lap = first[driver]
            out.append(Detection(session_id, driver, "position_change", "info", 0.2 + min(0.3, 0.03 * abs(slot - k)),
                                 lap.start, lap.ended, "positions", VERSION, lap=1,
                                 evidence={"on": "start", "grid": slot, "position": k, "gained": slot - k}))
    return out
