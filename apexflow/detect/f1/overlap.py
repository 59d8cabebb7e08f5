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
    thr, t = v["Throttle"], chunk.t
    both = (thr > THROTTLE_MIN) & (v["Brake"] >= 0.5)
    if "Speed" in v:
        both &= v["Speed"] >= MOVING_KMH
    out: list[Detection] = []
    ev = state.get("open")
    last_t = state.get("last_t")
    state["last_t"] = float(t[-1])
    if ev is not None and (not both[0] or t[0] - last_t > MAX_GAP):
        _close(state, ctx, out)
        ev = None
    if not both.any():
        return out
    seg = _Segments(t, thr, both, ev)
    for a, b, hi_max, thr_max in zip(seg.starts.tolist(), seg.ends.tolist(), seg.hi_max.tolist(),
                                     seg.thr_max.tolist()):
        if ev is None:
            ev = {"t0": float(t[a]), "t1": float(t[a]), "n": 0, "thr_max": 0.0, "hi_t0": None, "hi_s": 0.0,
                  "limit": None, "reported": False,
                  "lap": float(v["LapNumber"][a]) if "LapNumber" in v else None,
                  "distance": float(v["Distance"][a]) if "Distance" in v else None}
            state["open"] = ev
        if not ev["reported"] and (t[b - 1] - ev["t0"] > FLOOR_S or hi_max >= STICK_S):
            ev["limit"] = limit(state.get("learnt", []))  # learnt changes only when an overlap ends: as at its start
            bad = np.flatnonzero((t[a:b] - ev["t0"] > ev["limit"]) | (seg.hi_len[a:b] >= STICK_S))
            if len(bad):
                k = a + int(bad[0])
                ev["reported"] = True
                out.append(_detection(ctx, {**ev, "t1": float(t[k]), "n": ev["n"] + k - a + 1,
                                            "thr_max": max(ev["thr_max"], float(thr[a:k + 1].max())),
                                            "hi_s": max(ev["hi_s"], float(seg.hi_len[a:k + 1].max()))}))
        ev.update(thr_max=max(ev["thr_max"], thr_max), n=ev["n"] + b - a, t1=float(t[b - 1]),
                  hi_s=max(ev["hi_s"], hi_max), hi_t0=seg.high_since(b))
        if b < len(t):
            _close(state, ctx, out)
            ev = None
    return out


def limit(learnt: list[float]) -> float:
    """The longest overlap that is still this car's usual (seconds)."""
    if len(learnt) < LEARN_MIN:
        return FLOOR_S
    return max(FLOOR_S, FACTOR * float(np.quantile(learnt, QUANTILE)))


class _Segments:
    """The chunk's overlaps, all at once: runs of ``both`` cut at holes in the data (the first one
    continuing ``ev``, the overlap open before the chunk, if any), and how long each sample has been at
    high throttle."""

    def __init__(self, t: np.ndarray, thr: np.ndarray, both: np.ndarray, ev: dict | None):
        hole = np.r_[False, np.diff(t) > MAX_GAP]
        first = both & (~np.r_[ev is not None, both[:-1]] | hole)
        last = both & (~np.r_[both[1:], False] | np.r_[hole[1:], False])
        self.starts, self.ends = np.flatnonzero(first), np.flatnonzero(last) + 1
        if ev is not None:
            self.starts = np.r_[0, self.starts]
        self.high = both & (thr >= STICK_THROTTLE)
        carried = ev is not None and ev["hi_t0"] is not None
        since = np.where(self.high & (~np.r_[carried, self.high[:-1]] | first), t, -np.inf)
        if ev is not None and carried and self.high[0]:
            since[0] = ev["hi_t0"]
        self.since = np.maximum.accumulate(since)
        self.hi_len = np.where(self.high, t - self.since, 0.0)
        self.hi_max = np.maximum.reduceat(self.hi_len, self.starts)
        self.thr_max = np.maximum.reduceat(np.where(both, thr, 0.0), self.starts).astype(np.float64)

    def high_since(self, b: int) -> float | None:
        """When the high-throttle run at the chunk's last sample started, if segment ``[.., b)`` ends there."""
        return float(self.since[b - 1]) if b == len(self.high) and self.high[b - 1] else None


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
