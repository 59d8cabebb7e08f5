"""Pit loss: what a stop costs against staying out, per track regime (green, VSC, safety car).

One stop's loss = in-lap + out-lap - twice the car's racing pace on those laps (from the lap-time model). The
estimate per regime is the normal posterior mean of the session's own stops and a prior: stops scatter by
``STOP_SD`` around the session's loss; a generic F1 figure is uncertain by ``TRACK_SD`` (pit lanes differ from
track to track), so it weighs as (STOP_SD / TRACK_SD)^2 of a stop and the session's first stop mostly replaces it;
a prior from earlier sessions at the same track is as good as one stop (``prior_weight=1``). VSC and safety-car
priors follow the green one (the field runs slower, so the stop costs less). A
loss outside a quarter to three times the green prior (a repair, a penalty, a stop on a neutralised lap) is left out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from apexflow.strategy.laps import GREEN, SC, VSC

GREEN_PRIOR = 22.0  # s: a typical F1 pit loss under green
REGIME_SHARE = {GREEN: 1.0, VSC: 0.6, SC: 0.45}
PRIOR_SD = 3.0  # s: spread of one stop's loss around the session's mean before the session shows its own
STOP_SD = 1.5  # s: how one session's stops scatter around their mean
TRACK_SD = 4.0  # s: how pit losses differ between tracks (about 17-30 s)
GENERIC_WEIGHT = (STOP_SD / TRACK_SD) ** 2


@dataclass
class PitLoss:
    mean: float
    sd: float  # spread of one stop around the mean (s)
    stops: int  # the session's own stops behind it


@dataclass
class PitLossModel:
    prior_green: float = GREEN_PRIOR
    prior_weight: float = GENERIC_WEIGHT
    losses: dict[str, list[float]] = field(default_factory=lambda: {GREEN: [], VSC: [], SC: []})

    def observe(self, regime: str, in_lap: float, out_lap: float, pace_in: float, pace_out: float) -> float:
        """One completed stop; returns its loss."""
        loss = in_lap + out_lap - pace_in - pace_out
        if math.isfinite(loss) and 0.25 * self.prior_green <= loss <= 3 * self.prior_green:
            self.losses[regime].append(loss)
        return loss

    def estimate(self, regime: str = GREEN) -> PitLoss:
        green = self._shrunk(GREEN, self.prior_green)
        own = self.losses[regime]
        mean = green if regime == GREEN else self._shrunk(regime, green * REGIME_SHARE[regime])
        if len(own) >= 2:
            m = sum(own) / len(own)
            var = sum((x - m) ** 2 for x in own) / (len(own) - 1)
            dof = len(own) - 1
            sd = math.sqrt((PRIOR_SD ** 2 * self.prior_weight + var * dof) / (self.prior_weight + dof))
        else:
            sd = PRIOR_SD
        return PitLoss(mean, sd, len(own))

    def _shrunk(self, regime: str, prior: float) -> float:
        own = self.losses[regime]
        return (prior * self.prior_weight + sum(own)) / (self.prior_weight + len(own))
