"""Throttle and brake together: the throttle over ``THROTTLE_MIN`` % while the brake is pressed,
for at least ``MIN_SECONDS`` (a left-foot-braking habit, a sticking pedal or a sensor fault).

Reported once the overlap has lasted ``MIN_SECONDS`` and again when it ends.
"""
from __future__ import annotations

import numpy as np

from apexflow.chunk import Chunk
from apexflow.detect.base import Context, Detection, severity
from apexflow.detect.generic._stream import runs

NAME, VERSION = "throttle_brake_overlap", "1"
THROTTLE_MIN = 10.0
MIN_SECONDS = 1.0
MAX_GAP = 2.0  # a gap in the data this long ends an overlap


def run(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    v = chunk.values
    if "Throttle" not in v or "Brake" not in v:
        return []
    both = (v["Throttle"] > THROTTLE_MIN) & (v["Brake"] >= 0.5)
    t = chunk.t
    out: list[Detection] = []
    ev = state.get("open")
    last_t = state.get("last_t")
    state["last_t"] = float(t[-1])
    if ev is not None and (not both[0] or t[0] - last_t > MAX_GAP):
        _close(state, ctx, out)
        ev = None
    if not both.any():
        return out
    segments = []
    for a, b in zip(*[x.tolist() for x in runs(both)]):
        cuts = (a + 1 + np.flatnonzero(np.diff(t[a:b]) > MAX_GAP)).tolist()  # a hole in the data ends one
        segments += list(zip([a, *cuts], [*cuts, b]))
    for a, b in segments:
        if ev is None:
            ev = {"t0": float(t[a]), "t1": float(t[a]), "reported": False, "n": 0, "thr_max": 0.0,
                  "lap": float(v["LapNumber"][a]) if "LapNumber" in v else None,
                  "distance": float(v["Distance"][a]) if "Distance" in v else None}
            state["open"] = ev
        if not ev["reported"]:
            long = np.flatnonzero(t[a:b] - ev["t0"] >= MIN_SECONDS)
            if len(long):
                k = a + int(long[0])
                ev["reported"] = True
                first = {**ev, "t1": float(t[k]), "n": ev["n"] + k - a + 1,
                         "thr_max": max(ev["thr_max"], float(v["Throttle"][a:k + 1].max()))}
                out.append(_detection(ctx, first))
        ev["thr_max"] = max(ev["thr_max"], float(v["Throttle"][a:b].max()))
        ev["n"] += b - a
        ev["t1"] = float(t[b - 1])
        if b < len(t):
            _close(state, ctx, out)
            ev = None
    return out


def _close(state: dict, ctx: Context, out: list) -> None:
    ev = state.pop("open")
    if ev["reported"]:
        out.append(_detection(ctx, ev))


def _detection(ctx: Context, ev: dict) -> Detection:
    seconds = ev["t1"] - ev["t0"]
    score = min(1.0, 0.4 + seconds / 10.0)
    return Detection(ctx.session_id, ctx.entity_id, "throttle_brake_overlap", severity(score), score, ev["t0"],
                     ev["t1"], NAME, VERSION, channel="Throttle",
                     lap=None if ev["lap"] is None else int(ev["lap"]),
                     distance=None if ev["distance"] is None else round(ev["distance"], 1),
                     evidence={"seconds": round(seconds, 3), "samples": ev["n"],
                               "max_throttle": round(ev["thr_max"], 1)})
