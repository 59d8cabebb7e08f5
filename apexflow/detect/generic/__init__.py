"""Domain-free detectors: any numeric telemetry, any industry.

Each module has a vectorised ``process`` core working on a channels x samples array (used
as is by ``apexflow.pipeline.detect_file`` on plain time series) and is wrapped here as a chunk
detector ``run(chunk, state, ctx) -> [Detection]`` for the streaming pipeline.

- ``novelty``: the calibrated novelty score of every row over all channels jointly (spikes, new
  levels, changes of period or shape, persistent abnormal states), with the channels that drove it.
- ``stuck``: a channel stuck on one value far longer than its usual runs.
- ``gaps``: dropouts, gaps against the stream's own recent sampling interval.
- ``out_of_range``: values outside the channel's physical range.

Discrete channels (units ``bool``, ``gear``, ``lap``, ``count``, ``flag``) are left out of
``novelty`` and ``stuck``.
"""
from __future__ import annotations

import numpy as np

from apexflow.chunk import Chunk
from apexflow.contract import DISCRETE_UNITS
from apexflow.detect.base import Context, Detection, severity
from apexflow.detect.generic import gaps, novelty, out_of_range, stuck


def continuous(chunk: Chunk) -> list[str]:
    return [n for n in chunk.values if chunk.units.get(n) not in DISCRETE_UNITS]


def _aux(chunk: Chunk) -> dict:
    aux = {}
    if "LapNumber" in chunk.values:
        aux["lap"] = chunk.values["LapNumber"]
    if "Distance" in chunk.values:
        aux["distance"] = chunk.values["Distance"]
    return aux


def to_detection(ctx: Context, name: str, version: str, ev: dict) -> Detection:
    score = min(1.0, max(0.0, float(ev["score"])))
    lap, dist = ev.get("lap"), ev.get("distance")
    return Detection(ctx.session_id, ctx.entity_id, ev["kind"], severity(score), score, float(ev["t_start"]),
                     float(ev["t_end"]), name, version, channel=ev.get("channel"),
                     lap=None if lap is None else int(lap), distance=None if dist is None else round(float(dist), 1),
                     evidence=ev.get("evidence", {}))


def _matrix(chunk: Chunk, names: list[str]) -> np.ndarray:
    return np.stack([chunk.values[n] for n in names]).astype(np.float64)


def _per_channel(module):
    """A detector over every continuous channel of a chunk, from a generic module's ``process``."""
    def run(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
        names = continuous(chunk)
        if not names:
            return []
        events, _ = module.process(state, chunk.t, _matrix(chunk, names), names, _aux(chunk))
        return [to_detection(ctx, module.NAME, module.VERSION, e) for e in events]
    return run


run_stuck = _per_channel(stuck)


def run_novelty(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    """The novelty score over all continuous channels of a chunk jointly; the state is kept packed."""
    names = continuous(chunk)
    if not names:
        return []
    events, _ = novelty.process(state, chunk.t, _matrix(chunk, names), names, _aux(chunk))
    state.update(novelty.freeze(state))
    return [to_detection(ctx, novelty.NAME, novelty.VERSION, e) for e in events]


def run_gaps(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    events, _ = gaps.process(state, chunk.t, _aux(chunk))
    return [to_detection(ctx, gaps.NAME, gaps.VERSION, e) for e in events]


_RANGES: dict = {}


def _ranges(chunk: Chunk, ctx: Context):
    """(names, rows, lo, hi) of the chunk's channels that have a physical range (``rows``: their rows in
    ``chunk.matrix()``); cached per channel layout."""
    key = (tuple(chunk.values), id(ctx.channels))
    hit = _RANGES.get(key)
    if hit is None or hit[0] is not ctx.channels:
        names, rows, lo, hi = [], [], [], []
        for i, n in enumerate(chunk.values):
            ch = ctx.channels.get(n)
            if ch is not None and (np.isfinite(ch.min) or np.isfinite(ch.max)):
                names.append(n)
                rows.append(i)
                lo.append(ch.min)
                hi.append(ch.max)
        if len(_RANGES) > 256:
            _RANGES.clear()
        hit = _RANGES[key] = (ctx.channels, names, rows, np.array(lo), np.array(hi))
    return hit[1:]


def run_out_of_range(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    names, rows, lo, hi = _ranges(chunk, ctx)
    if not names:
        return []
    m = chunk.matrix()
    x = m if len(rows) == len(m) else m[rows]
    if not state.get("open") and not ((x.min(axis=1) < lo) | (x.max(axis=1) > hi)).any():
        return []  # the common case: nothing impossible, nothing open
    events, _ = out_of_range.process(state, chunk.t, x.astype(np.float64), names, lo, hi, _aux(chunk))
    return [to_detection(ctx, out_of_range.NAME, out_of_range.VERSION, e) for e in events]


GENERIC = {
    novelty.NAME: run_novelty,
    stuck.NAME: run_stuck,
    gaps.NAME: run_gaps,
    out_of_range.NAME: run_out_of_range,
}
