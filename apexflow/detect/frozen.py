"""Frozen sensor: a continuous channel repeats exactly while the entity's other channels move.

A run of identical values is flagged once it lasts ``MIN_SECONDS`` and other continuous
channels changed on most of its steps. At the channel's physical limit real signals do
saturate (full throttle down a straight), so there a run must also outlast the entity's own
longest natural run at a limit by ``BOUND_FACTOR`` (``AT_BOUND_SECONDS`` until ``WARMUP_S``
seconds of data have shown what natural is). A gap of more than ``MAX_GAP`` seconds ends a run.
Positions (``POSITION``) count as channels that move but are never judged themselves: they come
from another system, interpolated onto the car's clock, and a car's altitude, to the decimetre
FastF1 gives, stays put for seconds on a flat straight.
"""
from __future__ import annotations

import math

import numpy as np

from apexflow.chunk import Chunk
from apexflow.contract import DISCRETE_UNITS
from apexflow.detect.base import Context, Detection

NAME, VERSION = "frozen_sensor", "3"
POSITION = frozenset({"X", "Y", "Z"})
MIN_SECONDS = 8.0
AT_BOUND_SECONDS = 30.0
BOUND_FACTOR = 1.25
WARMUP_S = 90.0
MAX_GAP = 2.0


def run(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    names = [n for n in chunk.values if n in ctx.channels and ctx.channels[n].unit not in DISCRETE_UNITS]
    if len(names) < 2:
        return []
    block = chunk.matrix()
    cols = block if len(names) == len(block) else block[[list(chunk.values).index(n) for n in names]]
    t = chunk.t
    prev_t, prev_vals = state.get("last_t"), state.get("last")
    changed = np.empty(cols.shape, dtype=bool)  # channel x step
    np.not_equal(cols[:, 1:], cols[:, :-1], out=changed[:, 1:])
    carried = prev_vals is not None and len(prev_vals) == len(names)
    changed[:, 0] = cols[:, 0] != np.asarray(prev_vals, dtype=cols.dtype) if carried else False
    gap = np.empty(len(t), dtype=bool)  # a hole in the data before each sample
    np.greater(t[1:] - t[:-1], MAX_GAP, out=gap[1:])
    gap[0] = prev_t is not None and t[0] - prev_t > MAX_GAP
    runs = state.setdefault("runs", {})
    natural = state.setdefault("natural", {})  # channel -> longest unflagged run at a limit (s)
    state.setdefault("t0", float(t[0]))
    out: list[Detection] = []
    moving = np.asarray(changed.all(axis=1)).tolist()  # changed at every step: only the runs' ends matter
    walk = []
    for c, name in enumerate(names):
        if name in POSITION:
            continue
        if moving[c] and name in runs:
            out += _close(ctx, name, runs[name], natural)
            runs[name] = [float(cols[c, -1]), float(t[-1]), float(t[-1]), 0, 0, False]
        else:
            walk.append(c)
    if walk:
        _walk(ctx, state, names, walk, t, cols, changed, gap, out)
    state["last_t"], state["last"] = float(t[-1]), cols[:, -1].tolist()
    return out


def _walk(ctx: Context, state: dict, names: list[str], walk: list[int], t: np.ndarray, cols: np.ndarray,
          changed: np.ndarray, gap: np.ndarray, out: list) -> None:
    """The runs of channels ``walk``: carried from the last chunk, started here, flagged, closed."""
    runs, natural, t0, n = state["runs"], state["natural"], state["t0"], len(t)
    moved = np.asarray(changed.any(axis=0))  # inside a run its own channel holds, so "the others moved" is "any moved"
    starts = changed[walk] | gap
    starts[[k for k, c in enumerate(walk) if names[c] not in runs], 0] = True
    table = _Runs(starts, t, cols[walk], [names[c] for c in walk], ctx, natural)
    for k, c in enumerate(walk):
        name = names[c]
        held, rows = table.of(k)
        spans = [(runs[name], 0, held)] if name in runs else []  # the carried run goes on while the value holds
        for j in rows:  # then the runs that may be flagged or stay open; the others can only teach "natural"
            table.learn(natural, name, k, j)
            spans.append((None, int(table.start[j]), int(table.end[j])))
        for r, a, b in spans:
            if r is None:  # a new run starts at sample a
                r = [float(cols[c, a]), float(t[a]), float(t[a]), 0, 0, False]
                a += 1
            _extend(ctx, name, r, t[a:b], moved[a:b], natural.get(name, 0.0), t0, out)
            if b < n:
                out += _close(ctx, name, r, natural)
            else:
                runs[name] = r
        table.learn(natural, name, k, None)
        if not spans or spans[-1][2] < n:  # the last sample starts a run of its own
            runs[name] = [float(cols[c, -1]), float(t[-1]), float(t[-1]), 0, 0, False]


class _Runs:
    """The runs of two samples or more in the chunk, for all walked channels at once.

    They are the stretches where a channel holds its value (no start), each with the sample
    before it; one held from the chunk's first sample continues the carried run. A run that ends
    inside the chunk shorter than the least a run could need to be flagged (``_least``, with the
    natural runs known at the chunk's start: they only grow) never is: all it can do is lengthen
    its channel's natural run at a limit, which ``learn`` applies in stream order. Only the other
    runs (``of``) are walked one by one.
    """

    def __init__(self, starts: np.ndarray, t: np.ndarray, cols: np.ndarray, names: list[str], ctx: Context,
                 natural: dict):
        rows, n = starts.shape
        held = np.zeros((rows, n + 2), dtype=np.int8)
        held[:, 1:-1] = ~starts
        edge = held[:, 1:] - held[:, :-1]  # +1 where a held stretch begins, -1 just past its end
        self.chan, first = np.nonzero(edge == 1)  # ordered by channel, then sample
        self.end = np.nonzero(edge == -1)[1]
        self.start = first - 1  # the run's first sample; -1: the carried run
        new = self.start >= 0
        self.seconds = t[self.end - 1] - t[np.maximum(self.start, 0)]
        lo, hi = (np.array([getattr(ctx.channels[nm], k) for nm in names]) for k in ("min", "max"))
        value, c = cols[self.chan, np.maximum(self.start, 0)], self.chan
        bound = (value <= lo[c]) | (value >= hi[c])
        least = np.array([_least(True, natural.get(nm, 0.0)) for nm in names])
        short = (self.end < n) & (self.seconds < np.where(bound, least[c], MIN_SECONDS))
        self.teaches = new & short & bound
        self.walked = np.flatnonzero(new & ~short)
        self.bounds = np.searchsorted(self.chan, np.arange(rows + 1))
        self.taught = self.bounds[:-1].copy()  # per channel: runs up to here are learnt from

    def of(self, c: int) -> tuple[int, list[int]]:
        """Where channel ``c``'s carried run ends (0: at once), and its runs to walk."""
        a, b = self.bounds[c], self.bounds[c + 1]
        carried = int(self.end[a]) if b > a and self.start[a] < 0 else 0
        return carried, self.walked[(self.walked >= a) & (self.walked < b)].tolist()

    def learn(self, natural: dict, name: str, c: int, upto: int | None) -> None:
        """Natural runs of channel ``c`` that ended before run ``upto`` (all of them when None)."""
        a = self.taught[c]
        b = self.bounds[c + 1] if upto is None else upto
        seconds = self.seconds[a:b][self.teaches[a:b]]
        if len(seconds):
            natural[name] = max(natural.get(name, 0.0), float(seconds.max()))
        self.taught[c] = b


def _extend(ctx: Context, name: str, r: list, t: np.ndarray, others: np.ndarray, natural: float, t0: float,
            out: list) -> None:
    """Samples ``t`` repeat the run's value: lengthen it, flagging it at the first step it counts as frozen."""
    if not len(t):
        return
    bound = _at_bound(ctx, name, r[0])
    if r[5] or t[-1] - r[1] < _least(bound, natural):  # flagged already, or too short to be yet: lengthen it
        r[2:5] = [float(t[-1]), r[3] + len(t), r[4] + int(np.count_nonzero(others))]
        return
    steps = r[3] + np.arange(1, len(t) + 1)
    moving = r[4] + np.cumsum(others)
    need: float | np.ndarray = MIN_SECONDS
    if bound:
        need = np.where(t - t0 >= WARMUP_S, max(MIN_SECONDS, BOUND_FACTOR * natural), AT_BOUND_SECONDS)
    hit = np.flatnonzero((t - r[1] >= need) & (moving >= 0.5 * steps))
    if len(hit):
        k = int(hit[0])
        r[2:6] = [float(t[k]), int(steps[k]), int(moving[k]), True]
        out.append(_detection(ctx, name, r))
    r[2:5] = [float(t[-1]), int(steps[-1]), int(moving[-1])]


def _least(bound: bool, natural: float) -> float:
    """The shortest a run (at a limit or not) could need to last to be flagged, ``natural`` being known."""
    return min(AT_BOUND_SECONDS, max(MIN_SECONDS, BOUND_FACTOR * natural)) if bound else MIN_SECONDS


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
