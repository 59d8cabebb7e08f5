"""Incident: a sudden speed loss the driver did not ask for (spin, off, contact).

Braking hard is normal; losing speed hard with neither brake nor a braking zone is not.
An event opens when the car decelerates faster than ``MIN_DECEL`` (about 2.5 g, more than
lifting off at top speed gives) between two samples with the brake off, from at least
``MIN_SPEED``, at a lap distance where this car does not normally brake (its own brake
use is learnt per ``BIN_M`` metres). It is confirmed when speed falls under half of the
speed before within ``CONFIRM_S`` seconds, and ends once speed is back to 80 % of it.
"""
from __future__ import annotations

from apexflow.chunk import Chunk
from apexflow.detect.base import Context, Detection, severity

NAME, VERSION = "incident", "2"
BIN_M = 50.0
MIN_DECEL = 88.0  # km/h per second
MIN_SPEED = 120.0  # km/h
CONFIRM_S = 3.0


def run(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    cols = chunk.values
    if "Speed" not in cols or "Brake" not in cols:
        return []
    distance, laps = cols.get("Distance"), cols.get("LapNumber")
    brake_ref = state.setdefault("brake_ref", {})  # lap-distance bin -> share of samples braking
    out: list[Detection] = []
    prev = state.get("prev")  # [t, speed, brake]
    for i, t in enumerate(chunk.t.tolist()):
        v, brake = float(cols["Speed"][i]), float(cols["Brake"][i])
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
        elif prev and prev[1] >= MIN_SPEED and not brake and not prev[2] and t > prev[0] \
                and (prev[1] - v) / (t - prev[0]) >= MIN_DECEL and brake_ref.get(b, [0.0])[0] < 0.3:
            state["event"] = {"t_start": prev[0], "speed_before": prev[1], "min_speed": v, "confirmed": False,
                              "distance": float(distance[i]) if distance is not None else None,
                              "lap": int(laps[i]) if laps is not None else None}
        if b is not None and "event" not in state:
            r = brake_ref.get(b)
            brake_ref[b] = [brake, 1] if r is None else [r[0] + (brake - r[0]) / min(r[1] + 1, 10), r[1] + 1]
        prev = [t, v, brake]
    state["prev"] = prev
    return out


def _detection(ctx: Context, event: dict, t_end: float) -> Detection:
    score = min(1.0, max(0.0, 1.0 - event["min_speed"] / event["speed_before"]))
    return Detection(ctx.session_id, ctx.entity_id, "incident", severity(score), score, event["t_start"], t_end,
                     NAME, VERSION, channel="Speed", lap=event["lap"], distance=event["distance"],
                     evidence={k: round(v, 2) if isinstance(v, float) else v for k, v in event.items()
                               if k != "confirmed"})
