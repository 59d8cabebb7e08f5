"""Throttle and brake together, where it is abnormal for this car: a sticking pedal or a far longer overlap
than the driver's own.

Drivers overlap the pedals all the time (trail and left-foot braking, a touch of brake at 20-40 %
throttle to settle the car, longer in slow corners), so an overlap (throttle over ``THROTTLE_MIN``
with the brake on, moving faster than ``MOVING_KMH``: on the grid, in the box and at practice
starts cars are held on the brake) is reported only when

- it lasts longer than the car's own limit: ``FACTOR`` times the ``QUANTILE`` of its last
  ``LEARN`` overlaps once it has ``LEARN_MIN`` of them, never under ``FLOOR_S`` (a habit repeated
  lap after lap becomes the car's own usual), or
- the throttle stays at ``STICK_THROTTLE`` or more with the brake on for ``STICK_S``: nobody brakes
  at full throttle down a straight, a sticking pedal does.

An overlap's limit is the one learnt when it starts; a hole in the data longer than ``MAX_GAP``
ends it. Reported once abnormal and again when it ends.
"""
from __future__ import annotations

import numpy as np

from apexflow.chunk import Chunk
from apexflow.detect.base import Context, Detection, severity
from apexflow.detect.generic._stream import runs

NAME, VERSION = "throttle_brake_overlap", "2"
THROTTLE_MIN = 10.0
MOVING_KMH = 50.0
FLOOR_S = 3.0
FACTOR, QUANTILE = 1.5, 0.98
LEARN, LEARN_MIN = 300, 20
STICK_THROTTLE, STICK_S = 90.0, 2.0
MAX_GAP = 1.0


def run(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    v = chunk.values
    if "Throttle" not in v or "Brake" not in v:
        return []
    thr = v["Throttle"]
    both = (thr > THROTTLE_MIN) & (v["Brake"] >= 0.5)
    if "Speed" in v:
        both &= v["Speed"] >= MOVING_KMH
    high = both & (thr >= STICK_THROTTLE)
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
            ev = {"t0": float(t[a]), "t1": float(t[a]), "n": 0, "thr_max": 0.0, "hi_t0": None, "hi_s": 0.0,
                  "limit": limit(state.get("learnt", [])), "reported": False,
                  "lap": float(v["LapNumber"][a]) if "LapNumber" in v else None,
                  "distance": float(v["Distance"][a]) if "Distance" in v else None}
            state["open"] = ev
        hi_len = _high_runs(ev, t[a:b], high[a:b])
        if not ev["reported"]:
            bad = np.flatnonzero((t[a:b] - ev["t0"] > ev["limit"]) | (hi_len >= STICK_S))
            if len(bad):
                k = int(bad[0])
                ev["reported"] = True
                out.append(_detection(ctx, {**ev, "t1": float(t[a + k]), "n": ev["n"] + k + 1,
                                            "thr_max": max(ev["thr_max"], float(thr[a:a + k + 1].max())),
                                            "hi_s": max(ev["hi_s"], float(hi_len[:k + 1].max()))}))
        ev.update(thr_max=max(ev["thr_max"], float(thr[a:b].max())), n=ev["n"] + b - a, t1=float(t[b - 1]),
                  hi_s=max(ev["hi_s"], float(hi_len.max())))
        if b < len(t):
            _close(state, ctx, out)
            ev = None
    return out


def limit(learnt: list[float]) -> float:
    """The longest overlap that is still this car's usual (seconds)."""
    if len(learnt) < LEARN_MIN:
        return FLOOR_S
    return max(FLOOR_S, FACTOR * float(np.quantile(learnt, QUANTILE)))


def _high_runs(ev: dict, t: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Seconds each sample has been at high throttle with the brake on (0 where not); the run open at the
    end is carried in ``ev["hi_t0"]``."""
    start = high & np.concatenate([[ev["hi_t0"] is None], ~high[:-1]])
    since = np.where(start, t, -np.inf)
    if ev["hi_t0"] is not None:
        since[0] = ev["hi_t0"] if high[0] else since[0]
    since = np.maximum.accumulate(since)
    ev["hi_t0"] = float(since[-1]) if high[-1] else None
    return np.where(high, t - since, 0.0)


def _close(state: dict, ctx: Context, out: list) -> None:
    ev = state.pop("open")
    learnt = state.setdefault("learnt", [])
    learnt.append(round(ev["t1"] - ev["t0"], 3))
    del learnt[:-LEARN]
    if ev["reported"]:
        out.append(_detection(ctx, ev))


def _detection(ctx: Context, ev: dict) -> Detection:
    seconds = ev["t1"] - ev["t0"]
    sticking = ev["hi_s"] >= STICK_S
    score = min(1.0, max(0.5 + 0.5 * (seconds - ev["limit"]) / ev["limit"],
                         0.5 + 0.5 * (ev["hi_s"] - STICK_S) / STICK_S if sticking else 0.0))
    return Detection(ctx.session_id, ctx.entity_id, "throttle_brake_overlap", severity(score), score, ev["t0"],
                     ev["t1"], NAME, VERSION, channel="Throttle",
                     lap=None if ev["lap"] is None else int(ev["lap"]),
                     distance=None if ev["distance"] is None else round(ev["distance"], 1),
                     evidence={"seconds": round(seconds, 3), "samples": ev["n"],
                               "max_throttle": round(ev["thr_max"], 1), "limit_s": round(ev["limit"], 3),
                               "high_throttle_s": round(ev["hi_s"], 3),
                               "why": "sticking pedal" if sticking else "longer than usual"})
