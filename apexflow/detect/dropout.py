"""Dropout: no samples for much longer than the entity's usual sampling interval, and over ``MIN_GAP``
(real car data has holes of 1-2 s). A gap across which ``LapNumber`` jumps by more than one, or
longer than ``CUT_S``, is a cut in the recording (laps left out of a file, a break), not a dropout.

The usual interval is the median of the entity's first ``LEARN`` intervals (until then, of
those seen so far), learnt across chunks so that any split of the stream gives the same
answer.
"""
from __future__ import annotations

import statistics

import numpy as np

from apexflow.chunk import Chunk
from apexflow.detect.base import Context, Detection

NAME, VERSION = "dropout", "3"
FACTOR = 8.0
MIN_GAP = 3.0
CUT_S = 60.0
LEARN = 16


def run(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    t = chunk.t if state.get("last_t") is None else np.concatenate([[state["last_t"]], chunk.t])
    dt = np.diff(t)
    state["last_t"] = float(chunk.t[-1])
    if "dt" in state:  # learnt: one limit for every interval
        expected = None
        gaps = np.flatnonzero(dt > max(MIN_GAP, FACTOR * state["dt"]))
    else:
        expected = _learn(state, dt)
        gaps = np.flatnonzero(dt > np.maximum(MIN_GAP, FACTOR * np.where(np.isnan(expected), MIN_GAP, expected)))
    if "LapNumber" in chunk.values:
        lap = chunk.values["LapNumber"]
        laps = lap if state.get("last_lap") is None else np.concatenate([[state["last_lap"]], lap])
        state["last_lap"] = float(lap[-1])
        gaps = gaps[np.abs(np.diff(laps))[gaps] <= 1]
    gaps = gaps[dt[gaps] <= CUT_S]
    out = []
    for k in gaps.tolist():
        gap = float(dt[k])
        exp = state.get("dt") if expected is None else None if np.isnan(expected[k]) else float(expected[k])
        out.append(Detection(ctx.session_id, ctx.entity_id, "dropout", "warning", min(1.0, gap / 30.0),
                             float(t[k]), float(t[k + 1]), NAME, VERSION,
                             evidence={"gap_seconds": round(gap, 3),
                                       "expected_interval": None if exp is None else round(exp, 4)}))
    return out


def _learn(state: dict, dt: np.ndarray) -> np.ndarray:
    """The usual interval before each of ``dt``: the median of the first ``LEARN`` intervals (of those
    seen so far until there are ``LEARN``)."""
    learnt = state.setdefault("learn", [])
    expected = np.full(len(dt), np.nan)
    i = 0
    while len(learnt) < LEARN and i < len(dt):
        expected[i] = statistics.median(learnt) if learnt else np.nan
        learnt.append(float(dt[i]))
        i += 1
    if len(learnt) == LEARN:
        state["dt"] = statistics.median(learnt)
        expected[i:] = state["dt"]
    return expected
