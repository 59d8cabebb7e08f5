"""Rejoin: where a car comes out after a stop, with the probability of each position.

Every car's time at the line at the end of the stopping car's out-lap is a normal forecast (a mixture when the
other car may stop too). The chance that another car is ahead is exact for normals; the position is one plus the
number of cars ahead, whose distribution (a sum of independent Bernoullis) is computed exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Arrival:
    """A car's forecast time at the line: mixture components (weight, mean, sd)."""

    driver: str
    parts: tuple[tuple[float, float, float], ...]

    @property
    def mean(self) -> float:
        return sum(w * m for w, m, _ in self.parts)  # weights sum to one


@dataclass(frozen=True)
class Rejoin:
    position: int  # the most likely one
    probabilities: dict[int, float]
    ahead: str | None  # car expected just ahead, and by how much (s)
    gap_ahead: float | None
    behind: str | None
    gap_behind: float | None

    def chance(self, position: int) -> float:
        return self.probabilities.get(position, 0.0)


def phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def p_ahead(me: tuple[float, float], other: Arrival) -> float:
    """Probability that ``other`` crosses the line before ``me`` (mean, sd)."""
    mean, sd = me
    total = 0.0
    for w, m, s in other.parts:
        scale = math.hypot(sd, s)
        total += w * (phi((mean - m) / scale) if scale > 0 else (1.0 if m < mean else 0.5 if m == mean else 0.0))
    return total / sum(w for w, _, _ in other.parts)


def positions(chances: list[float]) -> list[float]:
    """Distribution of how many of independent events happen (Poisson-binomial), index = count."""
    dist = [1.0]
    for p in chances:
        nxt = [0.0] * (len(dist) + 1)
        for k, q in enumerate(dist):
            nxt[k] += q * (1 - p)
            nxt[k + 1] += q * p
        dist = nxt
    return dist


def rejoin(me: tuple[float, float], others: list[Arrival], *, floor: float = 1e-4) -> Rejoin:
    """Rejoin of a car arriving at ``me`` = (mean, sd) among ``others``; probabilities under ``floor`` dropped."""
    dist = positions([p_ahead(me, o) for o in others])
    probs = {k + 1: p for k, p in enumerate(dist) if p >= floor}
    position = max(probs, key=probs.__getitem__)
    means = [(o.mean, o.driver) for o in others]
    ahead = max((m for m in means if m[0] <= me[0]), default=None)
    behind = min((m for m in means if m[0] > me[0]), default=None)
    return Rejoin(position, probs, ahead and ahead[1], ahead and me[0] - ahead[0], behind and behind[1],
                  behind and behind[0] - me[0])
