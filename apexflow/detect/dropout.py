"""Dropout: no samples for much longer than the entity's usual sampling interval.

The usual interval is the median of the entity's first ``LEARN`` intervals (until then, of
those seen so far), learnt across chunks so that any split of the stream gives the same
answer.
"""
from __future__ import annotations

import numpy as np

from apexflow.chunk import Chunk
from apexflow.detect.base import Context, Detection

NAME, VERSION = "dropout", "2"
FACTOR = 8.0
MIN_GAP = 2.0
LEARN = 16


def run(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    t = chunk.t if state.get("last_t") is None else np.concatenate([[state["last_t"]], chunk.t])
    dt = np.diff(t)
    state["last_t"] = float(chunk.t[-1])
    learnt = state.setdefault("learn", [])
    expected = np.full(len(dt), state.get("dt", np.nan))
    i = 0
    while len(learnt) < LEARN and i < len(dt):  # the first LEARN intervals: median of those before each
        expected[i] = float(np.median(learnt)) if learnt else np.nan
        learnt.append(float(dt[i]))
        i += 1
        if len(learnt) == LEARN:
            state["dt"] = float(np.median(learnt))
            expected[i:] = state["dt"]
    limit = np.maximum(MIN_GAP, FACTOR * np.where(np.isnan(expected), MIN_GAP, expected))
    out = []
    for k in np.flatnonzero(dt > limit):
        gap = float(dt[k])
        exp = None if np.isnan(expected[k]) else round(float(expected[k]), 4)
        out.append(Detection(ctx.session_id, ctx.entity_id, "dropout", "warning", min(1.0, gap / 30.0),
                             float(t[k]), float(t[k + 1]), NAME, VERSION,
                             evidence={"gap_seconds": round(gap, 3), "expected_interval": exp}))
    return out
