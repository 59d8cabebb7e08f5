"""Incident: a sudden speed loss the driver did not ask for (spin, off, contact).

Braking hard is normal; losing speed hard with neither brake nor a braking zone is not.
An event opens when the car decelerates faster than ``MIN_DECEL`` (about 2.5 g, more than
lifting off at top speed gives) between two samples with the brake off, from at least
``MIN_SPEED``, at a lap distance where this car does not normally brake (its own brake
use is learnt per ``BIN_M`` metres). It is confirmed when speed falls under half of the
speed before within ``CONFIRM_S`` seconds, and ends once speed is back to 80 % of it.

Chunks with no such deceleration and no open event (nearly all) are handled in a few
vectorised steps; only the others are walked sample by sample.
"""
from __future__ import annotations

import numpy as np

from apexflow.chunk import Chunk
from apexflow.detect.base import Context, Detection, severity

NAME, VERSION = "incident", "3"
BIN_M = 50.0
MIN_DECEL = 88.0  # km/h per second
MIN_SPEED = 120.0  # km/h
CONFIRM_S = 3.0
NORMALLY = 0.5  # "normally brakes here": on most passes over that bin


def run(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    cols = chunk.values
    if "Speed" not in cols or "Brake" not in cols:
        return []
    speed, brakes, distance = cols["Speed"], cols["Brake"], cols.get("Distance")
    braking = state.setdefault("braking", {})  # lap-distance bin -> [samples braking, samples]
    prev = state.get("prev")  # [t, speed, brake]
    sudden = _sudden_loss(chunk.t, speed, brakes, prev)
    if "event" not in state and not sudden.any():
        if distance is not None:
            bins, idx = np.unique((distance // BIN_M).astype(np.int64), return_inverse=True)
            counts, pressed = np.bincount(idx), np.bincount(idx, weights=brakes.astype(np.float64))
            for b, p, n in zip(bins.tolist(), pressed.tolist(), counts.tolist()):
                r = braking.setdefault(str(b), [0.0, 0])
                r[0], r[1] = r[0] + p, r[1] + n
        state["prev"] = [float(chunk.t[-1]), float(speed[-1]), float(brakes[-1])]
        return []
    laps = cols.get("LapNumber")
    out: list[Detection] = []
    for i, t in enumerate(chunk.t.tolist()):
        v, brake = float(speed[i]), float(brakes[i])
        b = str(int(distance[i] // BIN_M)) if distance is not None else None
        event = state.get("event")
        if event:
            event["min_speed"] = min(event["min_speed"], v)
            if not event["confirmed"] and event["min_speed"] < 0.5 * event["speed_before"]:
                event["confirmed"] = True
                out.append(_detection(ctx, event, t))
            if v >= 0.8 * event["speed_before"] or t - event["t_start"] > 120 or \
                    (not event["confirmed"] and t - event["t_start"] > CONFIRM_S):
                state.pop("event")
                if event["confirmed"]:
                    out.append(_detection(ctx, event, t))
        elif sudden[i] and _share(braking.get(b)) < NORMALLY:
            state["event"] = {"t_start": prev[0], "speed_before": prev[1], "min_speed": v, "confirmed": False,
                              "distance": float(distance[i]) if distance is not None else None,
                              "lap": int(laps[i]) if laps is not None else None}
        if b is not None and "event" not in state:
            r = braking.setdefault(b, [0.0, 0])
            r[0], r[1] = r[0] + brake, r[1] + 1
        prev = [t, v, brake]
    state["prev"] = prev
    return out


def _sudden_loss(t: np.ndarray, speed: np.ndarray, brake: np.ndarray, prev: list | None) -> np.ndarray:
    """Per sample: did the car lose speed faster than ``MIN_DECEL`` since the sample before, brake off?"""
    p = prev or [np.nan] * 3
    t0, v0, b0 = (np.concatenate([[p[k]], x[:-1]]) for k, x in enumerate((t, speed, brake)))
    dt = t - t0
    with np.errstate(divide="ignore", invalid="ignore"):
        return (v0 >= MIN_SPEED) & (brake == 0) & (b0 == 0) & (dt > 0) & ((v0 - speed) / dt >= MIN_DECEL)


def _share(r: list | None) -> float:
    return r[0] / r[1] if r else 0.0


def _detection(ctx: Context, event: dict, t_end: float) -> Detection:
    score = min(1.0, max(0.0, 1.0 - event["min_speed"] / event["speed_before"]))
    return Detection(ctx.session_id, ctx.entity_id, "incident", severity(score), score, event["t_start"], t_end,
                     NAME, VERSION, channel="Speed", lap=event["lap"], distance=event["distance"],
                     evidence={k: round(v, 2) if isinstance(v, float) else v for k, v in event.items()
                               if k != "confirmed"})
