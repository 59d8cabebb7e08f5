"""Dropout: no samples for much longer than the entity's usual sampling interval."""
from __future__ import annotations

import numpy as np

from apexflow.chunk import Chunk
from apexflow.detect.base import Context, Detection

NAME, VERSION = "dropout", "1"
FACTOR = 8.0
MIN_GAP = 2.0


def run(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    t = chunk.t if state.get("last_t") is None else np.concatenate([[state["last_t"]], chunk.t])
    dt = np.diff(t)
    if len(dt) and "dt" not in state:
        state["dt"] = float(np.median(dt))
    out = []
    for i in np.flatnonzero(dt > max(MIN_GAP, FACTOR * state.get("dt", MIN_GAP))):
        gap = float(dt[i])
        out.append(Detection(ctx.session_id, ctx.entity_id, "dropout", "warning", min(1.0, gap / 30.0),
                             float(t[i]), float(t[i + 1]), NAME, VERSION,
                             evidence={"gap_seconds": round(gap, 3), "expected_interval": state["dt"]}))
    state["last_t"] = float(chunk.t[-1])
    return out
