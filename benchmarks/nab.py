"""NAB's scorer (Numenta Anomaly Benchmark, scoring as in its paper and ``nab/scorer.py``), for alarms.

A series of ``n`` rows with labelled anomalies gets one window per anomaly, centred on it, all of
them together 10 % of the series (``window = 0.1 n / anomalies`` rows; overlapping ones merged).
Alarms in the first 15 % of the series (the probation) are not scored. Then, per series:

- the first alarm inside a window earns ``A_TP * sigmoid(y)``, ``y`` its position relative to the
  window's end in window lengths (-1 at the start: nearly 1; 0 at the end: 0): early is better;
  later alarms in the same window count nothing;
- an alarm outside every window costs ``A_FP`` scaled the same way by how far it comes after the
  last window (just after a window it costs little; before any window, the full ``A_FP``);
- a window without an alarm costs ``A_FN``.

The raw scores of all series are summed and normalised as NAB does: 0 is the detector that never
alarms, 100 the one that alarms at the start of every window. Profiles: standard (A_TP 1, A_FP 0.11,
A_FN 1), reward low FP (A_FP 0.22), reward low FN (A_FN 2).
"""
from __future__ import annotations

import math

import numpy as np

PROFILES = {"standard": (1.0, 0.11, 1.0), "low FP": (1.0, 0.22, 1.0), "low FN": (1.0, 0.11, 2.0)}
WINDOW_SHARE, PROBATION_SHARE = 0.10, 0.15


def sigmoid(y: float) -> float:
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def windows(n: int, anomalies: list[int]) -> list[tuple[float, float]]:
    """NAB's windows (row positions) around the labelled anomaly rows of a series of ``n`` rows."""
    if not anomalies:
        return []
    half = WINDOW_SHARE * n / len(anomalies) / 2.0
    out: list[list[float]] = []
    for a in sorted(anomalies):
        lo, hi = max(0.0, a - half), min(n - 1.0, a + half)
        if out and lo <= out[-1][1]:
            out[-1][1] = hi
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def raw(n: int, wins: list[tuple[float, float]], alarms, profile) -> tuple[float, float, float]:
    """(raw score, score of never alarming, score of the perfect detector) of one series."""
    a_tp, a_fp, a_fn = profile
    probation = PROBATION_SHARE * n
    found = [False] * len(wins)
    score = 0.0
    for p in sorted(float(a) for a in alarms):
        if p < probation:
            continue
        inside = next((i for i, (lo, hi) in enumerate(wins) if lo <= p <= hi), None)
        if inside is not None:
            if not found[inside]:
                lo, hi = wins[inside]
                found[inside] = True
                score += a_tp * sigmoid((p - hi) / max(hi - lo, 1.0))
            continue
        before = [w for w in wins if w[1] < p]
        if before:
            lo, hi = before[-1]
            score += a_fp * sigmoid((p - hi) / max(hi - lo, 1.0))
        else:
            score -= a_fp
    score -= a_fn * found.count(False)
    return score, -a_fn * len(wins), a_tp * sigmoid(-1.0) * len(wins)


def score(series, profile=PROFILES["standard"]) -> float:
    """NAB's normalised score over ``series``: ``(rows, anomaly rows, alarm rows)`` per series."""
    got = null = perfect = 0.0
    for n, anomalies, alarms in series:
        r, z, p = raw(n, windows(n, list(anomalies)), list(np.asarray(alarms).tolist()), profile)
        got, null, perfect = got + r, null + z, perfect + p
    return 100.0 * (got - null) / (perfect - null) if perfect != null else 0.0
