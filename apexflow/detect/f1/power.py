"""Power loss: a top-speed deficit on the straights against the car's own reference, over consecutive laps.

Each lap is judged in two halves by distance (each half has its own straights). Per half
the detector takes the car's top speed with the DRS flap closed (DRS is worth several
percent; slipstream and noise stay well inside the margin); the reference is the median
top speed of that half over the car's last ``REF_LAPS`` normal laps. A half between
``NEUTRAL`` and ``1 - DEFICIT`` of its reference is a deficit; ``CONSECUTIVE`` deficit halves
in a row (one full lap) are a power loss, starting at the first of them. Halves far slower
still (safety car, VSC, pit lane, dropouts) neither count nor break a run. The second half
is judged once the car has covered ``JUDGE_AT`` of the lap distance seen so far (so the last
lap of a race counts too). Reported when confirmed and again when normal laps return.
"""
from __future__ import annotations

import statistics

import numpy as np

from apexflow.chunk import Chunk
from apexflow.detect.base import Context, Detection, severity

NAME, VERSION = "power_loss", "2"
REF_LAPS, MIN_REF = 5, 2
DEFICIT, NEUTRAL = 0.03, 0.85
CONSECUTIVE = 2
JUDGE_AT = 0.97


def run(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    v = chunk.values
    if "Speed" not in v or "LapNumber" not in v or "Distance" not in v:
        return []
    speed, lapno, dist = v["Speed"], v["LapNumber"], v["Distance"]
    flap_closed = np.where(v["DRS"] < 0.5, speed, 0.0) if "DRS" in v else speed  # speed with the DRS flap closed
    out: list[Detection] = []
    cuts = np.flatnonzero(lapno[1:] != lapno[:-1]) + 1
    bounds = [0, *cuts.tolist(), chunk.n]
    t = chunk.t
    for a, b in zip(bounds[:-1], bounds[1:]):
        lap = int(lapno[a])
        if state.get("lap") != lap:
            if state.get("lap") is not None:
                if not state["judged"]:
                    _judge(state, ctx, out)
                state["lap_len"] = max(state.get("lap_len") or 0.0, state["far"])
            state.update(lap=lap, half=0, t0=float(t[a]), top=0.0, judged=False, far=0.0)
        length = state.get("lap_len") or 0.0
        state["far"] = max(state["far"], float(dist[a:b].max()))
        while a < b:
            if state.get("t0") is None:
                state["t0"] = float(t[a])
            end, hit = b, False
            if not state["judged"] and length:
                k = _reach(dist, a, b, (0.5 if state["half"] == 0 else JUDGE_AT) * length)
                if k is not None:
                    end, hit = k, True
            state["top"] = max(state["top"], float(flap_closed[a:end].max()))
            state["t1"] = float(t[end - 1])
            if hit:
                _judge(state, ctx, out)
                if state["half"] == 0:  # the second half starts with the next sample
                    state.update(half=1, t0=None, top=0.0, judged=False)
            a = end
    return out


def _reach(dist: np.ndarray, a: int, b: int, mark: float) -> int | None:
    """Just past the first sample of ``[a, b)`` at or beyond ``mark`` metres; None if none is."""
    above = dist[a:b] >= mark
    k = int(above.argmax())
    return a + k + 1 if above[k] else None


def _judge(state: dict, ctx: Context, out: list) -> None:
    state["judged"] = True
    key = f"refs{state['half']}"
    refs = state.setdefault(key, [])
    top = state["top"]
    if len(refs) < MIN_REF:
        if top > 0 and (not refs or top >= NEUTRAL * max(refs)):
            refs.append(top)
        return
    ref = statistics.median(refs)
    ratio = top / ref
    if ratio < NEUTRAL:
        return  # SC, VSC, pit lane, missing data: no verdict
    streak = state.setdefault("streak", [])
    ev = state.get("open")
    if ratio < 1.0 - DEFICIT:
        part = {"lap": state["lap"], "half": state["half"], "t0": state["t0"], "t1": state["t1"],
                "top": round(top, 1), "ref": round(ref, 1)}
        streak.append(part)
        if ev is not None:
            ev["parts"].append(part)
            ev["min_ratio"] = min(ev["min_ratio"], ratio)
        elif len(streak) >= CONSECUTIVE:
            ev = {"t0": streak[0]["t0"], "lap": streak[0]["lap"], "parts": list(streak),
                  "min_ratio": min(s["top"] / s["ref"] for s in streak)}
            state["open"] = ev
            out.append(_detection(ctx, ev))
        return
    streak.clear()
    refs.append(top)
    del refs[:-REF_LAPS]
    if ev is not None:
        out.append(_detection(ctx, state.pop("open")))


def _detection(ctx: Context, ev: dict) -> Detection:
    loss = 1.0 - ev["min_ratio"]
    score = min(1.0, 0.5 + loss * 5)
    return Detection(ctx.session_id, ctx.entity_id, "power_loss", severity(score), score, ev["t0"],
                     ev["parts"][-1]["t1"], NAME, VERSION, channel="Speed", lap=ev["lap"],
                     evidence={"laps": sorted({p["lap"] for p in ev["parts"]}),
                               "top_speeds": [p["top"] for p in ev["parts"]][:20],
                               "reference_top_speeds": [p["ref"] for p in ev["parts"]][:2],
                               "max_deficit_pct": round(100 * loss, 2)})
