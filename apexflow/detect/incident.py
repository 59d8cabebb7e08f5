"""Incident: a sudden speed loss where the car normally does not brake (spin, off, contact).

The car's own reference speed and brake use are learnt per 50 m of lap distance. An event
opens when speed falls by at least ``MIN_DROP`` km/h within ``WINDOW`` seconds to under half
of the reference at a place where the car normally keeps off the brake and carries speed,
and closes once speed is back to 80 % of the reference.
"""
from __future__ import annotations

from apexflow.chunk import Chunk
from apexflow.detect.base import Context, Detection, severity

NAME, VERSION = "incident", "1"
BIN_M = 50.0
WINDOW = 3.0
MIN_DROP = 100.0
MIN_REF = 150.0


def run(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    v_all = chunk.values.get("Speed")
    if v_all is None or "Distance" not in chunk.values:
        return []
    brake_all = chunk.values.get("Brake")
    ref = state.setdefault("ref", {})
    recent = state.setdefault("recent", [])
    out: list[Detection] = []
    for i, t in enumerate(chunk.t.tolist()):
        v = float(v_all[i])
        brake = float(brake_all[i]) if brake_all is not None else 0.0
        b = str(int(chunk.values["Distance"][i] // BIN_M))
        lap = int(chunk.values["LapNumber"][i]) if "LapNumber" in chunk.values else None
        r = ref.get(b)
        recent[:] = [s for s in recent if t - s[0] <= WINDOW]
        event = state.get("open")
        if event:
            event["min_speed"] = min(event["min_speed"], v)
            if (r and v >= 0.8 * r[0]) or t - event["t_start"] > 120:
                state.pop("open")
                out.append(_detection(ctx, event, t))
        elif r and r[2] >= 2 and r[0] >= MIN_REF and r[1] < 0.3 and v < 0.5 * r[0] and recent:
            t0, v0, braking = max(recent, key=lambda s: s[1])[0], max(s[1] for s in recent), \
                sum(s[2] for s in recent) / len(recent)
            if v0 - v >= MIN_DROP and braking < 0.5:
                event = {"t_start": t0, "speed_before": v0, "min_speed": v, "ref_speed": r[0],
                         "distance": float(chunk.values["Distance"][i]), "lap": lap}
                state["open"] = event
                out.append(_detection(ctx, event, t))
        if not state.get("open") and (r is None or r[2] < 2 or v >= 0.85 * r[0]):
            if r is None:
                ref[b] = [v, brake, 1]
            else:
                a = 1.0 / (r[2] + 1) if r[2] < 3 else 0.3
                ref[b] = [r[0] + a * (v - r[0]), r[1] + a * (brake - r[1]), r[2] + 1]
        recent.append([t, v, brake])
    return out


def _detection(ctx: Context, event: dict, t_end: float) -> Detection:
    loss = 1.0 - event["min_speed"] / max(event["ref_speed"], 1.0)
    score = min(1.0, max(0.0, loss))
    return Detection(ctx.session_id, ctx.entity_id, "incident", severity(score), score, event["t_start"], t_end,
                     NAME, VERSION, channel="Speed", lap=event["lap"], distance=event["distance"],
                     evidence={k: round(v, 2) if isinstance(v, float) else v for k, v in event.items()})
