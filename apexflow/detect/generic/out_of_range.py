"""Out of range: values outside the channel's physically possible range (``Channel.min/max``).

An event opens at the first impossible value (reported at once) and closes at the next
possible one (reported again with its end and extremes).
"""
from __future__ import annotations

import numpy as np

from apexflow.detect.generic._stream import r, runs

NAME, VERSION = "out_of_range", "1"


def process(state: dict, t: np.ndarray, x: np.ndarray, names: list[str], lo: np.ndarray, hi: np.ndarray,
            aux: dict | None = None, want_scores: bool = False):
    opened = state.setdefault("open", {})
    bad = (x < lo[:, None]) | (x > hi[:, None])
    n = len(t)
    events: list[dict] = []
    todo = bad.any(axis=1)
    if opened:
        todo |= np.array([nm in opened for nm in names])
    for c in np.flatnonzero(todo).tolist():
        name = names[c]
        ev = opened.get(name)
        if ev is not None and not bad[c, 0]:
            events.append(_event(opened.pop(name), name))
            ev = None
        for a, b in zip(*[v.tolist() for v in runs(bad[c])]):
            if ev is None:
                ev = {"t0": float(t[a]), "t1": float(t[a]), "vmin": float(x[c, a]), "vmax": float(x[c, a]),
                      "min": float(lo[c]), "max": float(hi[c]), "n": 1,
                      **({k: float(v[a]) for k, v in aux.items()} if aux else {})}
                events.append(_event(ev, name))
                a += 1
                opened[name] = ev
            if b > a:
                seg = x[c, a:b]
                ev["vmin"], ev["vmax"] = min(ev["vmin"], float(seg.min())), max(ev["vmax"], float(seg.max()))
                ev["n"] += b - a
                ev["t1"] = float(t[b - 1])
            if b < n:
                events.append(_event(opened.pop(name), name))
                ev = None
    return events, (bad.astype(np.float64) if want_scores else None)


def _event(ev: dict, name: str) -> dict:
    return {"kind": "out_of_range", "channel": name, "t_start": ev["t0"], "t_end": ev["t1"], "score": 1.0,
            "lap": ev.get("lap"), "distance": ev.get("distance"),
            "evidence": {"min_value": r(ev["vmin"]), "max_value": r(ev["vmax"]), "samples": ev["n"],
                         "range": [ev["min"], ev["max"]]}}
