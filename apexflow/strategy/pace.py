"""Lap-time model: one online least-squares fit over the whole field, refreshed each completed lap.

lap_time = stint level (car, stint) + trend * lap_number + deg[compound] * tyre_age + traffic * (car <1.5 s ahead)

- the trend is what every car shares lap after lap: fuel burn and track evolution together (they cannot be told
  apart from timing: both move every car alike each lap); old laps fade by ``forget`` per lap so a drying or
  rubbering-in track is followed;
- tyre degradation per compound is identified across cars whose tyres differ in age on the same lap;
- the trend and the degradations start from priors (a weak ridge) so the first laps predict sensibly;
- what the fit missed on the latest lap splits in two: the field's median residual (wind, a drying line, the fuel
  and track trend bending) carries whole into the next lap; what the car did beyond the field (a train, a tyre
  coming in, fuel saving) carries as the exponentially weighted mean of its recent residuals in the stint (weight
  ``carry``);
- the prediction interval is empirical: the quantile of the field's recent one-lap-ahead errors, so it is
  calibrated by what the model really missed, not by what it assumes.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

TRAFFIC_GAP = 1.5  # s: a car this close ahead costs pace
# prior mean and standard deviation of each shared coefficient (s per lap, s per lap of tyre age, s)
TREND_PRIOR = (-0.06, 0.03)
DEG_PRIOR = {"SOFT": (0.10, 0.04), "MEDIUM": (0.06, 0.03), "HARD": (0.04, 0.03),
             "INTERMEDIATE": (0.08, 0.05), "WET": (0.08, 0.05)}
TRAFFIC_PRIOR = (0.3, 0.3)
# level of each compound against MEDIUM when the session has not yet shown it (s)
COMPOUND_OFFSET = {"SOFT": -0.5, "MEDIUM": 0.0, "HARD": 0.4}
Z80 = 1.2816
NEUTRAL = 1.10  # a lap whose field median is this much slower than the quickest lap's was neutralised


@dataclass(frozen=True)
class Forecast:
    mean: float
    low: float  # 80 % interval
    high: float

    @property
    def sigma(self) -> float:
        return (self.high - self.low) / (2 * Z80)


class PaceModel:
    """Fit by ``observe`` (racing laps) then ``refresh`` once per completed lap; ask ``predict``."""

    def __init__(self, *, forget: float = 0.9, noise: float = 0.5, carry: float = 0.5, errors_kept: int = 100):
        self.forget, self.noise, self.carry = forget, noise, carry
        self.form: dict[tuple[str, int], float] = {}
        self._half = 1.0
        self.common = 0.0
        self._index: dict[tuple, int] = {}
        self._rows: list[tuple[list[int], np.ndarray, float, int]] = []
        self.lap_medians: dict[int, float] = {}
        self.coef = np.zeros(0)
        self._errors: deque[float] = deque(maxlen=errors_kept)
        self.car_stint: dict[str, tuple[int, str]] = {}  # each car's latest stint with timed laps
        self.timed: set[tuple[str, int]] = set()  # (car, stint) with racing laps in the fit
        self.stint_compound: dict[tuple[str, int], str] = {}
        self._offsets: dict[str, float] = {}

    # -- parameters
    def _param(self, key: tuple) -> int:
        if key not in self._index:
            n = len(self._index)
            self._index[key] = n
            self.coef = np.append(self.coef, self._prior_mean(key))
        return self._index[key]

    @staticmethod
    def _prior(key: tuple) -> tuple[float, float] | None:
        if key[0] == "trend":
            return TREND_PRIOR
        if key[0] == "traffic":
            return TRAFFIC_PRIOR
        if key[0] == "deg":
            return DEG_PRIOR.get(key[1], (0.07, 0.07))
        return None

    def _prior_mean(self, key: tuple) -> float:
        prior = self._prior(key)
        return prior[0] if prior else 0.0

    def _features(self, driver: str, stint: int, compound: str, lap: int, age: float, traffic: bool):
        keys = [("level", driver, stint), ("trend",), ("deg", compound), ("traffic",)]
        return [self._param(k) for k in keys], np.array([1.0, float(lap), float(age), float(traffic)])

    # -- fitting
    def observe(self, driver: str, stint: int, compound: str, lap: int, age: float, traffic: bool,
                lap_time: float, lap_median: float | None = None) -> float | None:
        """Add one racing lap (``lap_median``: the field's median racing lap that lap); returns the one-lap-ahead
        error it had (None when its stint was new or the lap was neutralised)."""
        lap_median = lap_median or lap_time
        self.lap_medians[lap] = lap_median
        if lap_median > NEUTRAL * min(self.lap_medians.values()):
            return None  # a lap the whole field ran slowly (a neutralisation the track status missed)
        error = None
        if (driver, stint) in self.timed:
            error = lap_time - self.predict(driver, lap, compound=compound, age=age, traffic=traffic,
                                            stint=stint).mean
            self._errors.append(error)
        idx, x = self._features(driver, stint, compound, lap, age, traffic)
        self._rows.append((idx, x, lap_time, lap))
        self.stint_compound[(driver, stint)] = compound
        return error

    def refresh(self) -> None:
        """Solve the fit over the laps so far, each weighted ``forget`` ** (laps since), the neutralised left out."""
        n = len(self._index)
        if not n:
            return
        if len(self._errors) >= 20:
            self._half = float(np.quantile(np.abs(np.asarray(self._errors)), 0.8))
        best = min(self.lap_medians.values())
        self._rows = [r for r in self._rows if self.lap_medians[r[3]] <= NEUTRAL * best]
        level_of = {i: key[1:] for key, i in self._index.items() if key[0] == "level"}
        self.timed = {level_of[r[0][0]] for r in self._rows}
        self.car_stint = {}
        for r in self._rows:  # in lap order: each car's latest timed stint
            driver, stint = level_of[r[0][0]]
            self.car_stint[driver] = (stint, self.stint_compound[(driver, stint)])
        if not self._rows:
            return
        last = max(self.lap_medians)
        idx = np.array([r[0] for r in self._rows])
        x = np.array([r[1] for r in self._rows])
        y = np.array([r[2] for r in self._rows])
        w = self.forget ** (last - np.array([r[3] for r in self._rows], dtype=float))
        self.coef = self._solve(n, idx, x, y, w)
        # one robust pass: a mistake or a lock-up (residual beyond 3 robust sd) weighs in as if 3 sd away
        res = y - (self.coef[idx] * x).sum(axis=1)
        scale = max(1.4826 * float(np.median(np.abs(res))), 0.05)
        far = np.abs(res) > 3 * scale
        if far.any():
            self.coef = self._solve(n, idx, x, y, w * np.where(far, 3 * scale / np.maximum(np.abs(res), 1e-9), 1.0))
        res = y - (self.coef[idx] * x).sum(axis=1)
        level_of = {i: key for key, i in self._index.items() if key[0] == "level"}
        laps = np.array([r[3] for r in self._rows])
        common = {k: float(np.median(res[laps == k])) for k in np.unique(laps)}
        self.common = common.get(last, 0.0)
        self.form = {}
        for (i, *_), r, k in zip(idx, res, laps):  # rows are in lap order
            key = level_of[i][1:]
            self.form[key] = self.form.get(key, 0.0) * (1 - self.carry) + self.carry * float(r - common[k])
        seen: dict[str, list[float]] = {}
        for key, i in self._index.items():
            if key[0] == "level" and key[1:] in self.timed:
                seen.setdefault(self.stint_compound[key[1:]], []).append(self.coef[i])
        field = np.mean([v for vs in seen.values() for v in vs]) if seen else 0.0
        self._offsets = {c: float(np.mean(v) - field) for c, v in seen.items()} if len(seen) > 1 else {}

    def _solve(self, n: int, idx: np.ndarray, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        a, b = np.zeros((n, n)), np.zeros(n)
        for p in range(x.shape[1]):
            np.add.at(b, idx[:, p], w * x[:, p] * y)
            for q in range(x.shape[1]):
                np.add.at(a, (idx[:, p], idx[:, q]), w * x[:, p] * x[:, q])
        for key, i in self._index.items():
            prior = self._prior(key)
            if prior:
                wp = (self.noise / prior[1]) ** 2
                a[i, i] += wp
                b[i] += wp * prior[0]
            else:
                a[i, i] += 1e-6
        return np.linalg.solve(a, b)

    # -- prediction
    def half_width(self) -> float:
        """Half the 80 % interval: the 80th percentile of the recent absolute one-lap-ahead errors (1 s until
        there are 20 of them); set by ``refresh``."""
        return self._half

    def coefficient(self, *key) -> float:
        i = self._index.get(tuple(key))
        return float(self.coef[i]) if i is not None else self._prior_mean(tuple(key))

    def level(self, driver: str, stint: int | None, compound: str) -> float | None:
        """The stint's level; a stint not yet timed takes the car's last level moved by the compound's offset."""
        if (driver, stint) in self.timed:
            return self.coefficient("level", driver, stint)
        last = self.car_stint.get(driver)
        if last is None:
            levels = [self.coefficient("level", *k) for k in self.timed]
            return float(np.median(levels)) if levels else None
        return self.coefficient("level", driver, last[0]) + self.compound_offset(compound) - \
            self.compound_offset(last[1])

    def compound_offset(self, compound: str) -> float:
        """A compound's level against the field: from the session's stints on it, else the prior table."""
        if compound in self._offsets:
            return self._offsets[compound]
        return COMPOUND_OFFSET.get(compound, 0.0)

    def predict(self, driver: str, lap: int, *, compound: str, age: float, traffic: bool = False,
                stint: int | None = None) -> Forecast:
        level = self.level(driver, stint, compound)
        if level is None:
            return Forecast(float("nan"), float("nan"), float("nan"))
        form = self.form.get((driver, stint), 0.0) if stint is not None else 0.0
        mean = (level + self.coefficient("trend") * lap + self.coefficient("deg", compound) * age
                + self.coefficient("traffic") * traffic + self.common + form)
        h = self.half_width()
        return Forecast(mean, mean - h, mean + h)
