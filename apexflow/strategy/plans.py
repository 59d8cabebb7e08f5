"""Stop plans: the remaining race time of staying out or stopping once or twice, from the lap-time model.

For a car at the end of lap ``n`` of ``total``, a plan's time is the sum of its predicted laps plus a pit loss per
stop. Tyres lose ``deg`` per lap of age, and past the compound's usual life (``LIFE``, its cliff when one is
forecast) a further ``WEAR`` s per lap squared: running a tyre far past its life costs more and more.

- The *recommendation* is the cheapest plan; its window the stop laps within ``WINDOW`` s of it.
- The *stop prediction* (what the team will do) weighs every plan by ``exp(-extra time / TEMPER)``: teams stop near
  the best lap but not exactly on it; a rival near it that has just stopped makes a stop now likelier (the cover);
  once part of the field has changed between wet and dry tyres, the rest follow within two laps in that share.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LIFE = {"SOFT": 20, "MEDIUM": 30, "HARD": 40, "INTERMEDIATE": 30, "WET": 30}
WEAR = 0.05  # s per lap^2 past the tyre's life
WINDOW = 1.0  # s: stop laps this close to the best make the window
TEMPER = 4.0  # s: how far from the best plan teams stray
COVER = 2.0  # how much likelier a stop in the next two laps is when every car around has just stopped


@dataclass(frozen=True)
class Tyre:
    compound: str
    level: float  # the stint's lap time at lap 0, age 0 (s)
    deg: float  # s per lap of age
    life: float  # laps before the wear steepens


@dataclass(frozen=True)
class Plans:
    first_lap: int  # the first lap a stop could end (n + 1)
    none: float  # remaining time staying out (inf when a stop is mandatory)
    one: np.ndarray  # remaining time stopping at the end of first_lap + i
    two: float  # best two-stop time
    two_laps: tuple[int, int] | None
    compound: list[str]  # the best fresh compound for each one-stop lap


def _stint_costs(tyre: Tyre, trend: float, laps: np.ndarray, start_age: float) -> np.ndarray:
    age = start_age + np.arange(1, len(laps) + 1)
    wear = WEAR * np.maximum(0.0, age - tyre.life) ** 2
    return tyre.level + trend * laps + tyre.deg * age + wear


def plans(n: int, total: int, current: Tyre, age: float, fresh: list[Tyre], trend: float, pit_loss: float,
          mandatory: bool = False) -> Plans:
    laps = np.arange(n + 1, total + 1, dtype=float)
    r = len(laps)
    old = _stint_costs(current, trend, laps, age)
    old_cum = np.concatenate([[0.0], np.cumsum(old)])
    none = float(old_cum[-1]) if not mandatory else float("inf")
    if r < 2 or not fresh:
        return Plans(n + 1, none, np.full(max(r - 1, 0), np.inf), float("inf"), None, [])
    ages = np.arange(1, r + 1, dtype=float)
    trend_cum = np.concatenate([[0.0], np.cumsum(trend * laps)])
    best_one, names, stints = np.full(r - 1, np.inf), [""] * (r - 1), {}
    idx = np.arange(r + 1)
    s = idx[1:r]  # stop at the end of laps n+1 .. total-1
    for tyre in fresh:
        per_age = tyre.level + tyre.deg * ages + WEAR * np.maximum(0.0, ages - tyre.life) ** 2
        g = np.concatenate([[0.0], np.cumsum(per_age)])

        def stint(a, b, g=g):  # a fresh stint from the end of lap index a to the end of lap index b (0 = lap n)
            return g[b - a] + trend_cum[b] - trend_cum[a]
        one = old_cum[s] + pit_loss + stint(s, r)
        better = one < best_one
        best_one = np.where(better, one, best_one)
        names = [tyre.compound if b else nm for b, nm in zip(better, names)]
        stints[tyre.compound] = stint
    best_two, best_pair = float("inf"), None
    if r >= 3:  # two stops on the compound of the best single stop
        stint = stints[names[int(np.argmin(best_one))]]
        s1, s2 = np.triu_indices(r - 1, 1)
        s1, s2 = s1 + 1, s2 + 1
        two = old_cum[s1] + 2 * pit_loss + stint(s1, s2) + stint(s2, r)
        k = int(np.argmin(two))
        best_two, best_pair = float(two[k]), (n + int(s1[k]), n + int(s2[k]))
    return Plans(n + 1, none, best_one, best_two, best_pair, names)


@dataclass(frozen=True)
class Advice:
    stops: int
    window: tuple[int, int] | None  # stop laps (end of lap) within WINDOW s of the best
    compound: str | None
    saving: float  # s the best plan gains over the next best number of stops


def advise(p: Plans) -> Advice:
    best = {0: p.none, 1: float(p.one.min()) if len(p.one) else float("inf"), 2: p.two}
    stops = min(best, key=best.__getitem__)
    others = sorted(v for k, v in best.items() if k != stops)
    saving = others[0] - best[stops] if others and np.isfinite(others[0]) else float("inf")
    if stops == 0:
        return Advice(0, None, None, saving)
    if stops == 2:
        assert p.two_laps is not None  # a finite two-stop time always comes with its laps
        first = p.two_laps[0]
        return Advice(2, (first, first), None, saving)
    i = int(np.argmin(p.one))
    lo = hi = i
    while lo > 0 and p.one[lo - 1] <= p.one[i] + WINDOW:
        lo -= 1
    while hi < len(p.one) - 1 and p.one[hi + 1] <= p.one[i] + WINDOW:
        hi += 1
    return Advice(1, (p.first_lap + lo, p.first_lap + hi), p.compound[i], saving)


@dataclass(frozen=True)
class StopOdds:
    lap: int | None  # the most likely next stop lap (if the car stops)
    probabilities: dict[int, float]  # next stop lap -> probability
    no_stop: float


def stop_odds(p: Plans, cover: float = 0.0, follow: float = 0.0) -> StopOdds:
    """What the team will most likely do. ``cover``: share of the cars around that stopped in the last two laps;
    ``follow``: share of the field that has already changed to the other kind of tyre (wet <-> dry), which a team
    still out follows within two laps with that probability (the crossover: it has seen the others' pace)."""
    costs = np.append(p.one, p.none)
    if not len(costs) or not np.isfinite(costs).any():
        return StopOdds(None, {}, 1.0)
    w = np.exp(-(costs - costs[np.isfinite(costs)].min()) / TEMPER)
    w[:2] *= 1.0 + COVER * cover if len(w) > 2 else 1.0
    w /= w.sum()
    if follow > 0 and len(w) > 2:
        w *= 1 - follow
        w[:2] += follow / 2
    probs = {p.first_lap + i: float(x) for i, x in enumerate(w[:-1]) if x >= 1e-3}
    lap = max(probs, key=probs.__getitem__) if probs else None
    return StopOdds(lap, probs, float(w[-1]))
