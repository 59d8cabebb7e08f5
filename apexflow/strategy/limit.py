"""Time to a limit: for any channel drifting toward a bound, when will it cross, with an 80 % interval.

The trend is a least-squares line over the last ``window`` points; a forecast is made only when the slope points
at the limit and is significant (``|t| >= min_t``), so a flat or noisy channel never gets one. The interval comes
from the slope's own 80 % interval (a slower drift -> a later crossing; no sure drift -> no upper bound). Without a
given limit, the channel's learnt range is used: the mean of its first ``learn`` points +- ``spread`` standard
deviations. The tyre cliff (``cliff.py``) is this mechanism on a stint's lap times.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

Z80 = 1.2816


@dataclass(frozen=True)
class LimitForecast:
    at: float  # time of the latest point
    limit: float
    eta: float  # time left until the crossing (0: already crossed)
    low: float  # 80 % interval of the time left
    high: float  # math.inf when the drift could stall
    warning: bool  # the crossing falls within the horizon


def trend(ts, vs) -> tuple[float, float, float] | None:
    """(slope, intercept, slope's standard error) of a least-squares line; None under three points."""
    n = len(ts)
    if n < 3:
        return None
    mt, mv = sum(ts) / n, sum(vs) / n
    sxx = sum((t - mt) ** 2 for t in ts)
    if sxx <= 0:
        return None
    slope = sum((t - mt) * (v - mv) for t, v in zip(ts, vs)) / sxx
    icpt = mv - slope * mt
    sse = sum((v - icpt - slope * t) ** 2 for t, v in zip(ts, vs))
    return slope, icpt, math.sqrt(sse / (n - 2) / sxx) if n > 2 else math.inf


def time_to_limit(ts, vs, *, upper: float | None = None, lower: float | None = None, min_t: float = 2.5,
                  horizon: float = math.inf, floor: float = 0.0) -> LimitForecast | None:
    """The crossing of ``upper`` (rising channel) or ``lower`` (falling) by the trend of ``(ts, vs)``.

    ``floor`` is the smallest credible standard error of the slope (a near-perfect line is not certainty).
    """
    fit = trend(ts, vs)
    if fit is None:
        return None
    slope, icpt, se = fit
    se = max(se, floor)
    now = ts[-1]
    level = icpt + slope * now
    for limit, sign in ((upper, 1.0), (lower, -1.0)):
        if limit is None:
            continue
        s = slope * sign
        if se > 0 and s / se < min_t or s <= 0:
            continue
        gap = (limit - level) * sign
        if gap <= 0:
            return LimitForecast(now, limit, 0.0, 0.0, 0.0, True)
        fast, slow = s + Z80 * se, s - Z80 * se
        eta = gap / s
        return LimitForecast(now, limit, eta, gap / fast, gap / slow if slow > 0 else math.inf, eta <= horizon)
    return None


class LimitForecaster:
    """Streaming time-to-limit for one channel: ``update(t, value)`` returns the forecast after that point."""

    def __init__(self, *, upper: float | None = None, lower: float | None = None, window: int = 20,
                 learn: int = 30, spread: float = 6.0, min_t: float = 2.5, horizon: float = math.inf):
        self.upper, self.lower, self.learnt = upper, lower, upper is not None or lower is not None
        self.window, self.learn, self.spread, self.min_t, self.horizon = window, learn, spread, min_t, horizon
        self._ts: deque[float] = deque(maxlen=window)
        self._vs: deque[float] = deque(maxlen=window)
        self._first: list[float] = []

    @property
    def span(self) -> float:
        """Time covered by the points the trend is fitted on."""
        return self._ts[-1] - self._ts[0] if len(self._ts) > 1 else 0.0

    def update(self, t: float, value: float) -> LimitForecast | None:
        if not math.isfinite(value):
            return None
        if not self.learnt:
            self._first.append(value)
            if len(self._first) < self.learn:
                return None
            m = sum(self._first) / len(self._first)
            sd = math.sqrt(sum((v - m) ** 2 for v in self._first) / (len(self._first) - 1)) or abs(m) * 1e-3 or 1.0
            self.upper, self.lower, self.learnt = m + self.spread * sd, m - self.spread * sd, True
        self._ts.append(t)
        self._vs.append(value)
        return time_to_limit(list(self._ts), list(self._vs), upper=self.upper, lower=self.lower, min_t=self.min_t,
                             horizon=self.horizon)
