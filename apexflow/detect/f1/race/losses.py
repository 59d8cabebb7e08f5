"""Time each car lost, sector by sector, against its own pace and the field's on the same lap.

A lap's three sectors are timed from FastF1's sector session times (the first sector from the
lap start where FastF1 leaves it blank, as on a standing start). The expected time of a car in a
sector is its own median there over its clean laps (a typical car's where it has none), plus the
field's excess on that lap and sector: the median over the cars of their time minus their own
median, so a safety car, rain or a standing start, which slow everyone, are nobody's loss. On the
first sector of a standing start the cars further back on the grid reach its end later: there the
field's excess follows a line over the grid slots (Theil-Sen), not one median.

A sector is judged when it started under green, is not where the car entered or left the pit
lane, and the field ran it at most ``SLOW_FIELD`` slower than usual (not a formation lap, nor the
wait on the grid before a standing start). If an SC, VSC or red came while the car was in the
sector, only the time it had already lost when that began counts: the excess of the
neutralisation's start over the car's expected exit (nothing if it was due to be still there). So
the car whose crash brings out the safety car keeps its loss, and the cars it slows do not get one.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from apexflow.detect.f1.lap import Lap
from apexflow.detect.f1.lap_table import LapTable
from apexflow.detect.f1.stats import robust_sigma, theil_sen

MIN_CARS = 5      # cars timed on a lap's sector for the field's excess
SLOW_FIELD = 0.5  # a sector the field ran this much slower than usual is not judged


@dataclass(frozen=True)
class SectorLoss:
    driver: str
    lap: int
    lap_start: float  # session time the car started the lap
    sector: int       # 1, 2 or 3
    start: float      # session time the car entered the sector
    end: float
    seconds: float    # time lost against the car's own pace and the field's on this lap
    spread: float     # robust sigma of the field's losses on this lap and sector


def sector_windows(lap: Lap) -> list[tuple[float, float] | None]:
    """(start, end) session times of the lap's three sectors, None where unknown."""
    ends = list(lap.sector_session_times)
    if ends[0] is None and ends[1] is not None and lap.sector_times[1] is not None:
        ends[0] = ends[1] - lap.sector_times[1]
    starts = [lap.lap_start_time, ends[0], ends[1]]
    return [None if a is None or b is None or b <= a else (a, b) for a, b in zip(starts, ends)]


def _own_pace(table: LapTable) -> dict[tuple[str, int], float]:
    """(driver, sector index) -> the driver's median sector time over its clean laps; a typical car's otherwise."""
    own = {}
    for driver, laps in table.by_driver.items():
        for k in range(3):
            times = [w[1] - w[0] for lap in laps if lap.clean and (w := sector_windows(lap)[k]) is not None]
            if times:
                own[(driver, k)] = float(np.median(times))
    for k in range(3):
        typical = [v for (_, kk), v in own.items() if kk == k]
        for driver in table.by_driver:
            if typical and (driver, k) not in own:
                own[(driver, k)] = float(np.median(typical))
    return own


def _without_grid_slots(cells: list, grid: dict[str, int]) -> list:
    """The first lap's first sector, less the line its excess follows over the grid slots."""
    start = [(i, grid[c[0].driver]) for i, c in enumerate(cells)
             if c[0].lap_number == 1 and c[1] == 0 and c[0].driver in grid]
    if len(start) < MIN_CARS:
        return cells
    slots = np.array([float(s) for _, s in start])
    slope, _ = theil_sen(slots, np.array([cells[i][3] for i, _ in start]))
    out = list(cells)
    for i, slot in start:
        lap, k, w, x, cut = cells[i]
        out[i] = (lap, k, w, x - slope * (slot - float(np.median(slots))), cut)
    return out


def sector_losses(table: LapTable, grid: dict[str, int] | None = None) -> dict[tuple[str, int], list[SectorLoss]]:
    """(driver, lap number) -> the judged sectors' losses (negative where the car was quicker); ``grid``:
    driver -> grid slot, for the standing start."""
    own = _own_pace(table)
    cells = []  # (lap, sector index, window, excess over own pace, neutralisation start inside the window)
    for laps in table.by_driver.values():
        for lap in laps:
            for k, w in enumerate(sector_windows(lap)):
                if (w is None or (lap.driver, k) not in own or (k == 2 and lap.pitted_in) or (k == 0 and lap.pitted_out)
                        or any(a <= w[0] < b for a, b in table.neutral)):
                    continue
                cut = min((a for a, _, kind in table.periods if kind != "yellow_flag" and w[0] < a < w[1]),
                          default=None)
                cells.append((lap, k, w, w[1] - w[0] - own[(lap.driver, k)], cut))
    cells = _without_grid_slots(cells, grid or {})
    green: dict[tuple[int, int], list[float]] = defaultdict(list)
    started: dict[tuple[int, int], list[float]] = defaultdict(list)
    for lap, k, _, x, cut in cells:
        started[(lap.lap_number, k)].append(x)
        if cut is None:
            green[(lap.lap_number, k)].append(x)
    usual = {k: float(np.median([v for (_, kk), v in own.items() if kk == k])) for k in range(3)
             if any(kk == k for _, kk in own)}
    field = {}
    for key, xs in started.items():
        ref = green[key] if len(green[key]) >= MIN_CARS else xs
        if len(ref) >= MIN_CARS and np.median(ref) <= SLOW_FIELD * usual[key[1]]:
            field[key] = (float(np.median(ref)), robust_sigma(ref))
    out: dict[tuple[str, int], list[SectorLoss]] = defaultdict(list)
    for lap, k, w, x, cut in cells:
        if (lap.lap_number, k) not in field:
            continue
        excess, spread = field[(lap.lap_number, k)]
        loss = x - excess
        if cut is not None:  # only what was lost before the neutralisation began
            expected_exit = w[0] + own[(lap.driver, k)] + excess
            loss = min(loss, max(0.0, cut - expected_exit))
        out[(lap.driver, lap.lap_number)].append(
            SectorLoss(lap.driver, lap.lap_number, lap.start, k + 1, w[0], w[1], loss, spread))
    return dict(out)
