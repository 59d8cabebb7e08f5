"""Frozen sensor: a continuous channel repeats exactly while the entity's other channels move.

A run of identical values is flagged once it lasts ``MIN_SECONDS`` and other continuous
channels changed on most of its steps. At the channel's physical limit real signals do
saturate (full throttle down a straight), so there a run must also outlast the entity's own
longest natural run at a limit by ``BOUND_FACTOR`` (``AT_BOUND_SECONDS`` until ``WARMUP_S``
seconds of data have shown what natural is). A gap of more than ``MAX_GAP`` seconds ends a run.
"""
from __future__ import annotations

import math

import numpy as np

from apexflow.chunk import Chunk
from apexflow.detect.base import Context, Detection

NAME, VERSION = "frozen_sensor", "2"
DISCRETE_UNITS = {"bool", "gear", "lap", "count", "flag"}
MIN_SECONDS = 8.0
AT_BOUND_SECONDS = 30.0
BOUND_FACTOR = 1.25
WARMUP_S = 90.0
MAX_GAP = 2.0


def run(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    names = [n for n in chunk.values if n in ctx.channels and ctx.channels[n].unit not in DISCRETE_UNITS]
    if len(names) < 2:
        return []
    cols = np.stack([chunk.values[n] for n in names])
    prev_t, prev_vals = state.get("last_t"), state.get("last")
    if prev_vals is not None and len(prev_vals) == len(names):
        full = np.concatenate([np.asarray(prev_vals, dtype=np.float32)[:, None], cols], axis=1)
    else:
        full = np.concatenate([cols[:, :1], cols], axis=1)
    changed = full[:, 1:] != full[:, :-1]  # channel x step
    n_changed = changed.sum(axis=0)
    runs = state.setdefault("runs", {})
    natural = state.setdefault("natural", {})  # channel -> longest unflagged run at a limit (s)
    state.setdefault("t0", float(chunk.t[0]))
    out = []
    t_prev = prev_t
    for i, t in enumerate(chunk.t.tolist()):
        gap = t_prev is not None and t - t_prev > MAX_GAP
        for c, name in enumerate(names):
            r = runs.get(name)
            if r is None or changed[c, i] or gap:
                if r is not None:
                    out += _close(ctx, name, r, natural)
                runs[name] = [float(cols[c, i]), t, t, 0, 0, False]
                continue
            r[2] = t
            r[3] += 1
            r[4] += int(n_changed[i] - changed[c, i] > 0)
            if not r[5] and _frozen(ctx, name, r, natural.get(name, 0.0), t - state["t0"] >= WARMUP_S):
                r[5] = True
                out.append(_detection(ctx, name, r))
        t_prev = t
    state["last_t"] = t_prev
    state["last"] = [float(x) for x in cols[:, -1]]
    return out


def _at_bound(ctx: Context, name: str, value: float) -> bool:
    ch = ctx.channels[name]
    return (math.isfinite(ch.min) and value <= ch.min) or (math.isfinite(ch.max) and value >= ch.max)


def _frozen(ctx: Context, name: str, r: list, natural: float, warm: bool) -> bool:
    need = MIN_SECONDS
    if _at_bound(ctx, name, r[0]):
        need = max(MIN_SECONDS, BOUND_FACTOR * natural) if warm else AT_BOUND_SECONDS
    return r[2] - r[1] >= need and r[4] >= 0.5 * r[3]


def _close(ctx: Context, name: str, r: list, natural: dict) -> list[Detection]:
    if r[5]:
        return [_detection(ctx, name, r)]
    if _at_bound(ctx, name, r[0]):
        natural[name] = max(natural.get(name, 0.0), r[2] - r[1])
    return []


def _detection(ctx: Context, name: str, r: list) -> Detection:
    duration = r[2] - r[1]
    score = min(1.0, duration / (4 * MIN_SECONDS))
    return Detection(ctx.session_id, ctx.entity_id, "frozen_sensor", "warning", score, r[1], r[2], NAME, VERSION,
                     channel=name, evidence={"value": r[0], "seconds": round(duration, 2), "samples": r[3] + 1})
