"""Dropout: a gap between samples far longer than the stream's own recent sampling interval.

The expected interval is the median of the previous ``W`` intervals (block aligned, so
irregular sampling and rate changes are followed and any split gives the same answer). A
gap is an interval over ``FACTOR`` times that median and over ``Z`` robust deviations above
it (so jittery, irregular streams do not flag their ordinary long intervals).
"""
from __future__ import annotations

import numpy as np

from apexflow.detect.generic._stream import BlockBaseline, r, robust_sigma

NAME, VERSION = "gaps", "1"
B, M = 8, 4
FACTOR, Z = 4.0, 10.0
_baseline = BlockBaseline(B, M)


def process(state: dict, t: np.ndarray, aux: dict | None = None, want_scores: bool = False):
    """Returns ``(events, scores)``; the score of a sample rates the gap that ends at it."""
    last = state.get("last_t")
    tt = t if last is None else np.concatenate([[last], t])
    state["last_t"] = float(t[-1])
    dt = np.diff(tt)
    scores = np.zeros(len(t)) if want_scores else None
    if not len(dt):
        return [], scores
    _, med, mad, mean_ad, j, valid = _baseline(state.setdefault("base", {}), dt[None, :])
    if not valid.any():
        return [], scores
    exp = np.zeros(len(dt))
    lim = np.full(len(dt), np.inf)
    sig = robust_sigma(med, mad, mean_ad)[0]
    exp[valid] = med[0, j[valid]]
    lim[valid] = np.maximum(FACTOR * exp[valid], exp[valid] + Z * sig[j[valid]])
    off = len(t) - len(dt)  # sample i of the chunk ends interval i - off
    if scores is not None:
        ratio = np.where(valid, dt / np.where(lim > 0, lim, np.inf), 0.0)
        scores[off:] = np.clip((ratio - 0.5) * 2.0, 0.0, 1.0)
    events = []
    for i in np.flatnonzero(dt > lim).tolist():
        gap = float(dt[i])
        a = i + off - 1  # sample before the gap (may be the carried one)
        ev = {"kind": "dropout", "channel": None, "t_start": float(tt[i]), "t_end": float(tt[i + 1]),
              "score": min(1.0, 0.5 + 0.5 * (gap / lim[i] - 1.0) / 4.0),
              "evidence": {"gap_seconds": r(gap, 3), "expected_interval": r(exp[i], 4)}}
        if aux and a >= 0:
            ev.update({k: float(v[a]) for k, v in aux.items()})
        events.append(ev)
    return events, scores
