"""Predictions refreshed as a live session's laps complete (laps arrive per car, in any order)."""
from __future__ import annotations

from apexflow.strategy.engine import CarPrediction, StrategyEngine
from apexflow.strategy.laps import LapRow, from_fastf1


class LiveStrategy:
    """Feed it the session's laps so far (FastF1 rows, as often as you like); each lap, once complete, updates
    the engine once and yields the pit wall's table.

    Lap ``n`` is complete when every car that completed lap ``n - 1`` has completed it too (lap 1: every car seen,
    once a car has completed lap 2), or a car has already completed lap ``n + 2`` (a car missing then has stopped
    running): the same rows the lap-by-lap replay uses.
    """

    def __init__(self, total_laps: int, *, mandatory_stop: bool = False, pit_prior: float | None = None):
        self.engine = StrategyEngine(total_laps, mandatory_stop=mandatory_stop, pit_prior=pit_prior)
        self.rows: dict[tuple[str, int], LapRow] = {}
        self.done = 0  # the last lap given to the engine

    def feed(self, laps: list[dict]) -> list[tuple[int, list[CarPrediction]]]:
        """Take FastF1 lap rows; returns (lap, predictions) for every lap this completed, in order."""
        for row in from_fastf1(laps):
            self.rows.setdefault((row.driver, row.lap_number), row)
        out = []
        while self.complete(self.done + 1):
            n = self.done = self.done + 1
            self.engine.update([r for (_, k), r in self.rows.items() if k == n])
            out.append((n, self.engine.predictions()))
        return out

    def complete(self, n: int) -> bool:
        have = {d for (d, k) in self.rows if k == n}
        if not have:
            return False
        if any(k >= n + 2 for _, k in self.rows):
            return True
        if n == 1:  # the field is known once the leader starts lap 3 or has done lap 2 with every car seen on lap 1
            return any(k >= 2 for _, k in self.rows) and {d for d, _ in self.rows} <= have
        return {d for (d, k) in self.rows if k == n - 1} <= have
