"""Tyre cliff: laps until a stint's pace falls off beyond its own trend, refreshed each lap.

A stint's lap times, cleaned of what every car shares (the fuel and track trend, traffic), follow a line in tyre
age while the tyre is healthy; the line is fitted on the stint's first racing laps. The cliff is where the laps
leave that line by more than ``CLIFF`` seconds. Its forecast is ``limit.time_to_limit`` on the excess over the
line: made only once the stint has been visibly off its line (half the cliff) two laps running and the excess over
its last five laps is growing significantly, so a flat stint never gets one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from apexflow.strategy.limit import LimitForecast, time_to_limit, trend

CLIFF = 1.0  # s above the stint's own trend
BASE_LAPS = 5  # racing laps that set the stint's trend
WINDOW = 5  # recent laps whose excess is extrapolated
HORIZON = 10  # laps: a crossing further away is no warning


@dataclass
class StintPace:
    """One stint's corrected racing laps: (lap number, tyre age, lap time net of the shared trend)."""

    laps: list[tuple[int, float, float]] = field(default_factory=list)

    def excess(self) -> list[tuple[int, float]]:
        """(lap, seconds above the stint's early line) for the laps after the ones that set the line."""
        if len(self.laps) < BASE_LAPS + 3:
            return []
        base = self.laps[:BASE_LAPS]
        fit = trend([a for _, a, _ in base], [v for _, _, v in base])
        if fit is None:
            return []
        slope, icpt, _ = fit
        slope = max(slope, 0.0)  # a tyre does not get faster with age once the shared trend is out
        return [(lap, v - icpt - slope * a) for lap, a, v in self.laps[BASE_LAPS:]]

    def forecast(self) -> LimitForecast | None:
        """Laps until the cliff (``eta``, in laps from the latest one) with its 80 % interval, or None."""
        ex = self.excess()[-WINDOW:]
        if len(ex) < WINDOW or min(ex[-1][1], ex[-2][1]) < CLIFF / 2:  # too few laps, or not off its line two laps
            return None
        return time_to_limit([float(x) for x, _ in ex], [e for _, e in ex], upper=CLIFF, horizon=HORIZON,
                             floor=0.02)


def cliff_lap(laps: list[tuple[int, float, float]]) -> int | None:
    """The lap a completed stint fell off its early line (two racing laps in a row above ``CLIFF``), if it did."""
    ex = StintPace(list(laps)).excess()
    for (lap, e), (_, e2) in pairwise(ex):
        if e > CLIFF and e2 > CLIFF:
            return lap
    return None
