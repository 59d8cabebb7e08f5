"""How drivers overlap the pedals: trail and left-foot braking.

Drivers pick the throttle up before they let the brake go: at the end of most braking zones the
last 0.2-1 s (up to 1.6 s into slow corners) has the brake on at 20-40 % throttle. Each car has its
own habit, the share of braking zones it overlaps. Speeds are untouched: a light throttle against
the brake balances the car, it does not make it faster. Braking to a stop (the pit box) has none.
"""
from __future__ import annotations

import numpy as np

SHARE = (0.3, 0.9)  # of braking zones, per car
SECONDS, SLOW_SECONDS = (0.2, 1.0), (0.3, 1.6)
SLOW_KMH = 130.0  # a braking zone ending under this is a slow corner
THROTTLE = (20.0, 40.0)
ROLLING_KMH = 30.0


def overlap(rng: np.random.Generator, t: np.ndarray, brake: np.ndarray, speed: np.ndarray,
            throttle: np.ndarray) -> np.ndarray:
    """Throttle with the driver's overlaps at the ends of braking zones (``speed`` in km/h)."""
    edges = np.diff(np.concatenate([[0], brake.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # braking runs [start, end)
    n = len(starts)
    share = rng.uniform(*SHARE)
    picked = rng.uniform(size=n) < share
    quick, slow, level = rng.uniform(*SECONDS, n), rng.uniform(*SLOW_SECONDS, n), rng.uniform(*THROTTLE, n)
    end_speed = speed[ends - 1]
    seconds = np.where(end_speed < SLOW_KMH, slow, quick)
    picked &= end_speed > ROLLING_KMH
    inside = np.flatnonzero(brake)  # every braking sample, run after run
    run = np.repeat(np.arange(n), ends - starts)
    hit = picked[run] & (t[inside] > t[ends[run] - 1] - seconds[run])
    out = throttle.copy()
    out[inside[hit]] = level[run[hit]]
    return out
