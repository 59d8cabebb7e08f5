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
    t = chunk.t
    prev_t, prev_vals = state.get("last_t"), state.get("last")
    if prev_vals is not None and len(prev_vals) == len(names):
        full = np.concatenate([np.asarray(prev_vals, dtype=np.float32)[:, None], cols], axis=1)
    else:
        full = np.concatenate([cols[:, :1], cols], axis=1)
    changed = full[:, 1:] != full[:, :-1]  # channel x step
    n_changed = changed.sum(axis=0)
    gap = np.diff(t, prepend=t[0] if prev_t is None else prev_t) > MAX_GAP
    runs = state.setdefault("runs", {})
    natural = state.setdefault("natural", {})  # channel -> longest unflagged run at a limit (s)
    t0 = state.setdefault("t0", float(t[0]))
    out: list[Detection] = []
    moving = changed.all(axis=1)  # channels that changed at every step: only their runs' ends matter
    for c, name in enumerate(names):
        if moving[c] and name in runs:
            out += _close(ctx, name, runs[name], natural)
            runs[name] = [float(cols[c, -1]), float(t[-1]), float(t[-1]), 0, 0, False]
            continue
        others = (n_changed - changed[c]) > 0
        starts = changed[c] | gap
        if name not in runs:
            starts[0] = True
        cuts = np.flatnonzero(starts)
        # the carried run goes on until the first cut; every cut starts a run that goes on until the next
        spans = [(runs[name], 0, cuts[0] if len(cuts) else len(t))] if name in runs else []
        ends = [*cuts[1:].tolist(), len(t)]
        spans += [(None, a, b) for a, b in zip(cuts.tolist(), ends) if b - a > 1 or b == len(t)]
        for r, a, b in spans:
            if r is None:  # a new run starts at sample a
                r = [float(cols[c, a]), float(t[a]), float(t[a]), 0, 0, False]
                a += 1
            _extend(ctx, name, r, t[a:b], others[a:b], natural.get(name, 0.0), t0, out)
            if b < len(t):
                out += _close(ctx, name, r, natural)
            else:
                runs[name] = r
    state["last_t"] = float(t[-1])
    state["last"] = [float(x) for x in cols[:, -1]]
    return out


def _extend(ctx: Context, name: str, r: list, t: np.ndarray, others: np.ndarray, natural: float, t0: float,
            out: list) -> None:
    """Samples ``t`` repeat the run's value: lengthen it, flagging it at the first step it counts as frozen."""
    if not len(t):
        return
    if r[5] or t[-1] - r[1] < MIN_SECONDS:  # flagged already, or too short to be yet: just lengthen it
        r[2:5] = [float(t[-1]), r[3] + len(t), r[4] + int(np.count_nonzero(others))]
        return
    steps = r[3] + np.arange(1, len(t) + 1)
    moving = r[4] + np.cumsum(others)
    need = MIN_SECONDS
    if _at_bound(ctx, name, r[0]):
        need = np.where(t - t0 >= WARMUP_S, max(MIN_SECONDS, BOUND_FACTOR * natural), AT_BOUND_SECONDS)
    hit = np.flatnonzero((t - r[1] >= need) & (moving >= 0.5 * steps))
    if len(hit):
        k = int(hit[0])
        r[2:6] = [float(t[k]), int(steps[k]), int(moving[k]), True]
        out.append(_detection(ctx, name, r))
    r[2:5] = [float(t[-1]), int(steps[-1]), int(moving[-1])]


def _at_bound(ctx: Context, name: str, value: float) -> bool:
    ch = ctx.channels[name]
    return (math.isfinite(ch.min) and value <= ch.min) or (math.isfinite(ch.max) and value >= ch.max)


def _close(ctx: Context, name: str, r: list, natural: dict) -> list[Detection]:
    if r[5]:
        return [_detection(ctx, name, r)]
    if r[2] > r[1] and _at_bound(ctx, name, r[0]):
        natural[name] = max(natural.get(name, 0.0), r[2] - r[1])
    return []


def _detection(ctx: Context, name: str, r: list) -> Detection:
    duration = r[2] - r[1]
    score = min(1.0, duration / (4 * MIN_SECONDS))
    return Detection(ctx.session_id, ctx.entity_id, "frozen_sensor", "warning", score, r[1], r[2], NAME, VERSION,
                     channel=name, evidence={"value": r[0], "seconds": round(duration, 2), "samples": r[3] + 1})
