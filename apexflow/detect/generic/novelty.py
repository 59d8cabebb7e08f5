"""Calibrated streaming novelty: how unlikely each moment is, given everything the series showed before.

One score per row in [0, 1], for one channel or for many channels jointly, from two parts:

- **Surprise** (what happens now, ``_surprise``): per channel, the value is quantised into coarse
  levels and predicted by count tables of the contexts already seen: the previous value (in quarter
  levels) with its move, the previous level with the level 4, 16 and 64 rows before (the phase of
  any periodic signal, square waves included), and the level at this time of day once that time is
  known from an earlier day. On top come the bits of what the memory never showed (``_state``): a
  value beyond its range, a change beyond its largest, a cycle faster or slower than its regular
  ones. The joint surprise in bits is calibrated against its own recent distribution
  (``_calibrate``) into ``s``, ``-log10`` of a tail probability; ``score = s / S_FULL``, so 0.5 is a
  one-in-a-million moment. A repeat of a pattern already seen is likely, hence not novel; novelty
  fades after ``HABIT`` rows of it.
- **State** (what has been going on, ``_state``): per channel, the mean of the last ``B`` rows
  against the median and MAD of the previous ``MEM`` block means. An excursion opens on a change
  from a settled level and holds while it lasts; its rows score 0.5-0.75 (a warning: a persistent
  abnormal state) unless its level is one the memory spanned before it began (the other half of a
  square wave, a daily high). It falls once behaviour is normal again, or once the new level fills
  half of the memory: the new normal.

Counts are integers learnt per block of ``LEARN`` rows and halved every ``HALVE`` rows; the other
memories hold ``MEM`` block summaries: the state is constant in size whatever the stream's length.
Every quantity is computed per absolute row or block of the stream (sums in a fixed order), so any
split of the stream gives bit-identical scores. The first ``WARMUP`` rows fix each channel's
quantisation and train the memories; they score 0.

That is the core's raw score (``raw``). The row's ``score`` is its calibration on the series' own
history, an anomaly likelihood (``likelihood``: 0.5 is a one-in-a-million moment for this series),
and the alarms follow ``likelihood.anomalies``' rules (probation, end after quiet rows, hold-off).
``process`` returns the events (one ``anomaly`` per raised anomaly, reported when raised and when it
ends, with the channels that drove it) and, if asked, per row the score, the alarm, the raw score and
its parts and the driving channel.
"""
from __future__ import annotations

import base64
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from apexflow.detect.generic import likelihood
from apexflow.detect.generic._stream import r

NAME, VERSION = "novelty", "1"
WARMUP = 256                  # rows that fix the quantisation and train the memories (score 0)
LEVELS, SPAN_LEVELS = 24, 8   # quantisation: the warm-up's 2-98 % range spans 8 of 24 levels
LAGS = (1, 4, 16, 64)         # context: the previous value with its move; its level against 4, 16, 64 rows before
MOVE = 2                      # the move over one row is clipped to +-2 levels
FINE = 4                      # the previous value's level, in quarters of a level
TOD = 48                      # time-of-day buckets (30 min)
ALPHA, BETA = 2.0, 4.0        # back-off weights of the context and level tables
NEAR = 0.25                   # weight of a neighbouring level's count in a level's probability
EXTREME_BITS = 1.0 / math.log(2.0)  # beyond the range of the memory, each level further is e times rarer
JUMPS = (1, 4, 16)            # changes over these many rows are compared with the memory's largest
LEARN = 64                    # the count tables learn in blocks of this many rows ...
HALVE = 4096                  # ... and are halved every this many rows
SUB = 2048                    # rows computed at a time (a multiple of LEARN; no effect on results)
B, MEM = 16, 64               # calibration and state memories: 64 blocks of 16 rows ...
EVERY = 4                     # ... their slower references recomputed every 4 blocks ...
SLOW = 16                     # ... and the slowest (the usual size of a change) every 16
S_FULL = 12.0                 # -log10 tail probability that scores 1.0 (0.5: one in a million)
THETA_MIN = 1.0               # bits: the tail's scale is never taken as narrower than this
Z_ON, Z_OFF = 3.5, 2.0        # state excursion: opens at |z| >= 3.5, holds while |z| >= 2 ...
RECENT = 8                    # ... and opens only if the last 8 blocks are as far (a change, not a drift)
SETTLED = 10.0                # ... from a level whose block means spread at most 10x what noise explains
STATE_WARMUP = 512            # ... once the stream has this many rows
FAMILIAR = 2                  # memory blocks at or beyond a level on each side that make it a known one
STATE_CAP = 0.75              # a persistent state is a warning, never more
CYCLES, CYCLE_BITS, CYCLE_TOL = 32, 32.0, 0.1  # cycle lengths: memory, bits per doubling, tolerance
MERGE = 8                     # hot rows closer than this are one run (habituation)
HABIT = 32                    # novelty fades after this many rows of it (state tells whether it lasts)

# contexts: the previous value's fine level and its move over one row; its level and the level k rows before
_CTX = [FINE * LEVELS * (2 * MOVE + 1) if k == 1 else LEVELS * LEVELS for k in LAGS]
_OFFS = [LEVELS]
for _size in _CTX:
    _OFFS += [_OFFS[-1] + _size, _OFFS[-1] + _size + _size * LEVELS]
_TOD_CTX = _OFFS[-1]
_TOD_JOINT = _TOD_CTX + TOD
TABLE = _TOD_JOINT + TOD * LEVELS
_HIST = max(LAGS) + 1


# -- state encoding ------------------------------------------------------------------------------

def _pack(a: np.ndarray) -> dict:
    return {"dtype": a.dtype.str, "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode()}


def freeze(state: dict) -> dict:
    """The state as JSON-able data (numpy arrays packed; the count table as its non-zero entries);
    ``thaw`` undoes it."""
    out = {k: (_pack(v) if isinstance(v, np.ndarray) else v) for k, v in state.items() if k != "table"}
    table = state.get("table")
    if isinstance(table, dict) or table is None:
        out.update({} if table is None else {"table": table})
    else:
        nz = np.flatnonzero(table)
        out["table"] = {"shape": list(table.shape), "at": _pack(nz.astype(np.int32)),
                        "count": _pack(table.reshape(-1)[nz])}
    return out


def thaw(state: dict) -> dict:
    """Unpack in place what ``freeze`` packed."""
    for k, v in state.items():
        if isinstance(v, dict) and set(v) == {"dtype", "shape", "data"}:
            raw = base64.b64decode(v["data"])
            state[k] = np.frombuffer(raw, dtype=np.dtype(v["dtype"])).reshape(v["shape"]).copy()
    table = state.get("table")
    if isinstance(table, dict):
        thaw(table)
        full = np.zeros(int(np.prod(table["shape"])), dtype=np.int32)
        full[table["at"]] = table["count"]
        state["table"] = full.reshape(table["shape"])
    return state


# -- quantisation ----------------------------------------------------------------------------------

def _quantiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel (rows of ``x``): the centre and the step of its levels."""
    lo, centre, hi = np.quantile(x, [0.02, 0.5, 0.98], axis=1)
    d = np.diff(x, axis=1)
    noise = 1.4826 * np.median(np.abs(d - np.median(d, axis=1, keepdims=True)), axis=1) / math.sqrt(2)
    step = np.maximum.reduce([(hi - lo) / SPAN_LEVELS, noise, 1e-9 * (1.0 + np.abs(centre))])
    return centre, step


def _fine_levels(x: np.ndarray, centre: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Levels in quarters: ``level = fine // FINE``."""
    f = np.floor((x - centre[:, None]) / (step[:, None] / FINE)) + FINE * (LEVELS // 2)
    return np.clip(f, 0, FINE * LEVELS - 1).astype(np.int64)


# -- surprise --------------------------------------------------------------------------------------

_KINDS = 1 + 2 * len(LAGS) + 2


def _keys(ff: np.ndarray, tod: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Table keys (rows x kinds x channels) of the rows whose fine levels are ``ff[_HIST:]`` (rows x
    channels, after the ``_HIST`` before them), then the keys of the level below and above (looked up,
    not learnt); a lag reaching before the stream gets the unused key ``TABLE``."""
    n = ff.shape[0] - _HIST
    qq = ff // FINE
    q, prev = qq[_HIST:], qq[_HIST - 1:-1]
    fine_prev = ff[_HIST - 1:-1]
    keys = np.empty((n, _KINDS + 2, ff.shape[1]), dtype=np.intp)
    keys[:, 0] = q
    for j, k in enumerate(LAGS):
        before = qq[_HIST - 1 - k:-1 - k]
        if k == 1:
            ctx = fine_prev * (2 * MOVE + 1) + np.clip(prev - before, -MOVE, MOVE) + MOVE
        else:
            ctx = prev * LEVELS + before
        young = (idx <= k)[:, None]
        keys[:, 1 + 2 * j] = np.where(young, TABLE, _OFFS[2 * j] + ctx)
        keys[:, 2 + 2 * j] = np.where(young, TABLE, _OFFS[2 * j + 1] + ctx * LEVELS + q)
    keys[:, _KINDS - 2] = _TOD_CTX + tod[:, None]
    keys[:, _KINDS - 1] = _TOD_JOINT + tod[:, None] * LEVELS + q
    keys[:, _KINDS] = np.maximum(q - 1, 0)
    keys[:, _KINDS + 1] = np.minimum(q + 1, LEVELS - 1)
    return keys


def _counts(st: dict, keys: np.ndarray, n0: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the ``keys`` (rows x kinds x channels) in the table as it stood at the start of each
    row's block of ``LEARN`` rows, and of all levels.

    The table learns the first ``_KINDS`` keys of a block once the block is complete (the keys of an
    incomplete one wait in ``st["pending"]``) and is halved every ``HALVE`` rows."""
    n, _, rows = keys.shape
    table = st["table"]
    flat = table.reshape(-1)
    gidx = keys + np.arange(rows, dtype=np.intp) * table.shape[1]
    got = np.empty(gidx.shape, dtype=np.int64)
    total = np.empty((n, rows), dtype=np.int64)
    pending = st["pending"]
    a = 0
    while a < n:
        b = min(n, a + LEARN - (n0 + a) % LEARN)
        got[a:b] = flat[gidx[a:b]]
        total[a:b] = table[:, :LEVELS].sum(axis=1)
        pending = np.concatenate([pending, gidx[a:b, :_KINDS].reshape(-1)])
        if (n0 + b) % LEARN == 0:  # the block is complete: learn it
            np.add.at(flat, pending, np.int32(1))
            pending = pending[:0]
            if (n0 + b) % HALVE == 0:
                table >>= 1
        a = b
    st["pending"] = pending
    return got, total


def _tod_known(st: dict, tod: np.ndarray, day: np.ndarray, n0: int) -> np.ndarray:
    """Whether each row's time of day was learnt (in an earlier block) on an earlier day: before that,
    the time-of-day expert knows nothing of the day's pattern."""
    first_row, first_day = st["tod_first_row"], st["tod_first_day"]
    new, at = np.unique(tod, return_index=True)
    fresh = first_row[new] < 0
    first_row[new[fresh]] = n0 + at[fresh]
    first_day[new[fresh]] = day[at[fresh]]
    block_start = (np.arange(n0, n0 + len(tod)) // LEARN) * LEARN
    return (first_row[tod] >= 0) & (first_row[tod] < block_start) & (first_day[tod] < day)


def _surprise(st: dict, f: np.ndarray, tod: np.ndarray, day: np.ndarray, n0: int) -> tuple[np.ndarray, np.ndarray]:
    """Bits of surprise (channels x rows) of the fine levels ``f`` at absolute rows ``n0..``: ``-log2``
    of the mean of the context experts' probabilities (each backing off to the level's probability),
    and of the time-of-day expert's alone (what a day without its usual rise shows). Learns them.

    A level's probability counts its neighbours' counts at ``NEAR`` weight, so the next level up or
    down is less surprising than a far one."""
    rows, n = f.shape
    bits, tod_bits = np.empty((n, rows)), np.empty((n, rows))
    known = _tod_known(st, tod, day, n0)
    for a in range(0, n, SUB):  # a few thousand rows at a time, so that all of it stays in cache
        b = min(n, a + SUB)
        ff = np.concatenate([st["fhist"], f[:, a:b].T])
        st["fhist"] = ff[-_HIST:]
        keys = _keys(ff, tod[a:b], np.arange(n0 + a, n0 + b))
        cnt, total = _counts(st, keys, n0 + a)
        q = keys[:, 0]
        near = (q > 0) * cnt[:, _KINDS] + (q < LEVELS - 1) * cnt[:, _KINDS + 1]
        p0 = (cnt[:, 0] + NEAR * near + BETA / LEVELS) / ((1 + 2 * NEAR) * total + BETA)
        pool = np.zeros(q.shape)
        m = np.zeros(q.shape)
        for j in range(1, _KINDS - 2, 2):
            live = keys[:, j] != TABLE
            pool += np.where(live, (cnt[:, j + 1] + ALPHA * p0) / (cnt[:, j] + ALPHA), 0.0)
            m += live
        live = known[a:b, None]
        tod_p = np.where(live, (cnt[:, _KINDS - 1] + ALPHA * p0) / (cnt[:, _KINDS - 2] + ALPHA), p0)
        m += live
        bits[a:b] = -np.log2(np.where(m > 0, (pool + tod_p * live) / np.maximum(m, 1), p0))
        tod_bits[a:b] = np.where(live, -np.log2(tod_p), bits[a:b])  # no day known yet: no more to say
    return bits.T, tod_bits.T


# -- block memories ---------------------------------------------------------------------------------

def _blocks(st: dict, key: str, x: np.ndarray, n0: int, summarise) -> tuple[np.ndarray, np.ndarray]:
    """Summaries of the complete blocks of ``B`` rows (the carried ones first) and, for each row, the
    end of its memory among them (the number of summaries before its block). ``x``: channels x rows;
    ``summarise``: (channels, blocks, B) -> (summaries, blocks)."""
    part = st[key + "_part"]
    need = (B - part.shape[1]) % B  # rows that complete the carried block
    new = [st[key + "_mem"]]
    if need and x.shape[1] >= need:
        new.append(summarise(np.concatenate([part, x[:, :need]], axis=1)[:, None, :]))
        part, rest = part[:, :0], x[:, need:]
    elif need:
        part, rest = np.concatenate([part, x], axis=1), x[:, :0]
    else:
        rest = x
    done = rest.shape[1] // B
    if done:
        new.append(summarise(rest[:, :done * B].reshape(rest.shape[0], done, B)))
    mem = np.concatenate(new, axis=1) if len(new) > 1 else new[0]
    base = n0 // B - st[key + "_mem"].shape[1]  # absolute block of mem[:, 0]
    k = np.arange(n0, n0 + x.shape[1]) // B - base
    st[key + "_part"] = np.concatenate([part, rest[:, done * B:]], axis=1)
    st[key + "_mem"] = mem[:, -(MEM + SLOW):]
    return mem, k


def _every(k: np.ndarray, n0: int, every: int) -> np.ndarray:
    """Memory ends held for ``every`` blocks (a reference recomputed once per group of blocks)."""
    return k - (np.arange(n0, n0 + len(k)) // B) % every


def _windows(mem: np.ndarray, k: np.ndarray, wants, keep: slice | None = None, length: int = MEM):
    """Statistics of the memory window of each distinct reference end among ``k`` (the up to ``MEM``
    summaries before it): ``(values, windows, enough, inverse)``. ``wants``: ``(rows, fn)`` pairs, ``fn``
    reducing the last axis; ``windows`` (rows x ends x MEM, +inf where the stream is younger) only if
    ``keep``; ``enough``: at least ``WARMUP // B`` summaries."""
    ends, inverse = np.unique(k, return_inverse=True)
    full = ends >= length
    vals = []
    for rows, fn in wants:
        v = np.full((len(range(mem.shape[0])[rows]), len(ends)), np.nan)
        if full.any():
            v[:, full] = fn(sliding_window_view(mem[rows], length, axis=1)[:, ends[full] - length])
        vals.append(v)
    young = np.flatnonzero(~full & (ends >= WARMUP // B))
    for i in young.tolist():  # the stream's first blocks
        part = mem[:, None, max(0, ends[i] - length):ends[i]]
        for v, (rows, fn) in zip(vals, wants):
            v[:, i] = fn(part[rows])[:, 0]
    windows = None
    if keep is not None:
        part = mem[keep]
        windows = np.full((part.shape[0], len(ends), MEM), np.inf)
        if full.any():
            windows[:, full] = sliding_window_view(part, MEM, axis=1)[:, ends[full] - MEM]
        for i in young.tolist():
            windows[:, i, :ends[i]] = part[:, :ends[i]]
    return vals, windows, ends >= WARMUP // B, inverse


def _sliding_max(mem: np.ndarray, k: np.ndarray) -> np.ndarray:
    """For each row (``k``: its memory's end among ``mem``'s columns), the largest of the up to ``MEM``
    summaries before it; van Herk's running maxima, two passes whatever the window."""
    rows, length = mem.shape
    pad = -length % MEM
    seg = np.concatenate([mem, np.full((rows, pad), -np.inf)], axis=1).reshape(rows, -1, MEM)
    fwd = np.maximum.accumulate(seg, axis=2).reshape(rows, -1)
    bwd = np.maximum.accumulate(seg[:, :, ::-1], axis=2)[:, :, ::-1].reshape(rows, -1)
    ends, inverse = np.unique(k, return_inverse=True)
    out = np.full((rows, len(ends)), -np.inf)
    some = ends >= 1
    out[:, some] = fwd[:, ends[some] - 1]
    full = ends >= MEM
    out[:, full] = np.maximum(bwd[:, ends[full] - MEM], fwd[:, ends[full] - 1])
    return out[:, inverse]


def _median(a: np.ndarray) -> np.ndarray:
    return np.median(a, axis=-1)


def _mad(a: np.ndarray) -> np.ndarray:
    return 1.4826 * np.median(np.abs(a - np.median(a, axis=-1, keepdims=True)), axis=-1)


def _mean(a: np.ndarray) -> np.ndarray:
    """Mean over the last axis, summed in order: numpy's own reductions may round differently
    depending on where the data sits in memory, and any split must give the same bits."""
    acc = a[..., 0].copy()
    for i in range(1, a.shape[-1]):
        acc += a[..., i]
    return acc / a.shape[-1]


def _trailing_mean(st: dict, key: str, x: np.ndarray) -> np.ndarray:
    """Mean of each row's last ``B`` values (NaN before the stream has ``B``); carries the tail in ``st[key]``."""
    rows, n = x.shape
    full = np.concatenate([st[key], x], axis=1)
    out = np.full((rows, n), np.nan)
    have = min(n, full.shape[1] - B + 1)
    if have > 0:
        out[:, n - have:] = _mean(sliding_window_view(full, B, axis=1)[:, -have:])
    st[key] = full[:, -(B - 1):]
    return out


def _calibrate(st: dict, streams: np.ndarray, bits: np.ndarray, n0: int) -> tuple[np.ndarray, np.ndarray]:
    """Significance (``-log10`` of a tail probability) of each row's joint surprise, the largest over
    the ``streams`` (rows: joint surprises, e.g. all experts' and time of day's), and each channel's
    ``bits`` over its own typical.

    Two views of a stream, the larger counts: the row alone, against the median of the previous blocks'
    means and of their maxima (a tail taken as exponential through both), and the mean of the last
    ``B`` rows against the previous block means (median, MAD; a normal tail): a moment, or a
    sustained rise."""
    k_, rows = streams.shape[0], bits.shape[0]
    R = np.concatenate([streams, bits])
    mean = _trailing_mean(st, "cal_tail", streams)
    mem, k = _blocks(st, "cal", R, n0, lambda b: np.concatenate([_mean(b), b[:k_].max(axis=2)]))
    (med, mad), _, enough, inv = _windows(mem, _every(k, n0, EVERY), [(slice(None), _median), (slice(0, k_), _mad)])
    loc, top, spread = med[:k_, inv], med[k_ + rows:, inv], mad[:, inv]
    theta = np.maximum((top - loc) / math.log(B / math.log(2.0) / 2.0), THETA_MIN)
    s_row = math.log10(2.0) + (streams - loc) / (theta * math.log(10.0))
    z = (np.nan_to_num(mean) - loc) / np.maximum(spread, THETA_MIN / math.sqrt(B))
    s_mean = np.where(z > 0, z * z / (2.0 * math.log(10.0)), 0.0)
    ok = enough[inv] & np.isfinite(mean[0])
    excess = np.where(ok, bits - np.nan_to_num(med[k_:k_ + rows, inv]), 0.0)
    return np.where(ok, np.maximum(np.maximum(s_row, s_mean).max(axis=0), 0.0), 0.0), excess


def _state(st: dict, t: np.ndarray, x: np.ndarray, n0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per channel and row: ``|z|`` of the mean of the last ``B`` rows against the memory of block means;
    whether the row is in an excursion to a level the memory did not know before it; and, in bits, how
    far the value lies beyond the range of the memory (``EXTREME_BITS`` per eighth of that range, or per
    level of the channel if more) and
    its change over each of ``JUMPS`` rows beyond the largest such change in the memory (per typical
    change; over k rows and k + 1 rows both, so that the rows after a spike do not echo it); and how
    far a cycle's length lies outside the lengths before it (``_cycles``)."""
    rows, n = x.shape
    h = st["xhist"].shape[1]
    full = np.concatenate([st["xhist"], x], axis=1)
    st["xhist"] = full[:, -(max(JUMPS) + 1):]

    def change(k):  # over k rows; rows with fewer than k before them in the stream have none
        d = np.zeros((rows, n))
        d[:, max(0, k - h):] = np.abs(full[:, max(h, k):] - full[:, max(h, k) - k:full.shape[1] - k])
        return d

    jumps = [change(k) for k in JUMPS]
    earlier = [change(k + 1) for k in JUMPS]  # against one row earlier: a spike's later rows do not echo it
    wm = _trailing_mean(st, "tail", x)
    mem, k = _blocks(st, "sm", x, n0, _mean)
    (med,), win, enough, inv = _windows(mem, _every(k, n0, 2), [(slice(None), _median)], keep=slice(None))
    (mad,), _, _, inv_mad = _windows(mem, _every(k, n0, EVERY), [(slice(None), _mad)])
    mad = mad[:, inv_mad]
    (recent,), _, _, inv_recent = _windows(mem, k, [(slice(None), _median)], length=RECENT)
    grown = k >= STATE_WARMUP // B
    J = len(JUMPS)
    mem, k = _blocks(st, "jm", np.concatenate(jumps), n0, lambda b: np.concatenate([b.max(axis=2), _mean(b)]))
    most_jump = _sliding_max(mem[:J * rows], k)
    (typ,), _, _, inv_typ = _windows(mem, _every(k, n0, SLOW), [(slice(J * rows, None), _median)])
    typ = typ[:, inv_typ]
    sd = np.maximum(np.nan_to_num(mad), st["floor"][:, None])
    ok = grown & np.isfinite(wm)  # a state needs a longer history to know its normal
    z = np.where(ok, np.abs(np.nan_to_num(wm) - np.nan_to_num(med)[:, inv]) / sd, 0.0)
    # a change, not a drift, opens an excursion: away from the last few blocks as well
    z_new = np.minimum(z, np.where(ok, np.abs(np.nan_to_num(wm) - np.nan_to_num(recent)[:, inv_recent])
                                   / sd, 0.0))
    # ... and only from a settled level: block means spread about as much as the row-to-row noise makes
    # them (a random walk or a wandering temperature has no level to leave)
    settled = np.nan_to_num(mad) <= SETTLED * 0.149 * np.maximum(typ[:rows], st["floor"][:, None])
    z_new = np.where(settled, z_new, 0.0)
    # the range of the memory, as fresh as each block: its largest and smallest values
    mem, k = _blocks(st, "rng", x, n0, lambda b: np.concatenate([b.max(axis=2), -b.min(axis=2)]))
    top = _sliding_max(mem, k)
    step = st["step"][:, None]
    hi, lo = top[:rows], -top[rows:]
    span = np.maximum(step, np.nan_to_num(hi - lo, posinf=0.0, neginf=0.0) / SPAN_LEVELS)  # a level of its range
    beyond = np.maximum(np.maximum(x - hi, lo - x), 0.0) / span
    jumped = np.zeros((rows, n))
    for j, (jump, jump1) in enumerate(zip(jumps, earlier)):
        usual, most = np.maximum(typ[j * rows:(j + 1) * rows], step / 8.0), most_jump[j * rows:(j + 1) * rows]
        jumped = np.maximum(jumped, np.maximum(np.minimum(jump, jump1) - most, 0.0) / usual)
    beyond += jumped
    extreme = np.where(enough[inv] & (k >= WARMUP // B), EXTREME_BITS * np.nan_to_num(beyond), 0.0)
    extreme += _cycles(st, t, x, np.where(enough[inv], np.nan_to_num(med)[:, inv], np.nan))
    novel = np.zeros((rows, n), dtype=bool)
    for c in range(rows):
        _excursions(st, c, z[c], z_new[c], wm[c], win[c], sd[c], inv, novel[c])
    return z, novel, extreme


def _cycles(st: dict, t: np.ndarray, x: np.ndarray, mid: np.ndarray) -> np.ndarray:
    """Bits (channels x rows) at each crossing of the memory's median ``mid`` (with a hysteresis of one
    level): ``CYCLE_BITS`` per doubling by which the time since the previous crossing lies outside the
    range of the last ``CYCLES`` such times (beyond a tolerance of ``CYCLE_TOL``), where those times were
    regular (the longest under twice the shortest): a cycle faster or slower than any before, whatever
    the signal's period. Noise has no regular cycle, so it gets none of these bits."""
    rows, n = x.shape
    step = st["step"][:, None]
    side = np.where(x > mid + step, 1, np.where(x < mid - step, -1, 0))
    at = np.maximum.accumulate(np.where(side != 0, np.arange(n), -1), axis=1)
    carried = np.asarray(st["cyc_side"], dtype=np.int64)
    filled = np.where(at >= 0, np.take_along_axis(side, np.maximum(at, 0), axis=1), carried[:, None])
    before = np.concatenate([carried[:, None], filled[:, :-1]], axis=1)
    cross = (filled != before) & (before != 0)
    out = np.zeros((rows, n))
    for c in np.flatnonzero(cross.any(axis=1)).tolist():
        at_c = np.flatnonzero(cross[c])
        lengths = np.diff(np.concatenate([[st["cyc_last"][c]], t[at_c]]))
        lengths[lengths <= 0] = np.nan  # rows out of time order: no cycle length
        past = np.asarray(st["cyc_hist"][c], dtype=np.float64)
        allv = np.concatenate([np.full(CYCLES, np.nan), past, lengths])
        win = sliding_window_view(allv, CYCLES)[len(past):len(past) + len(lengths)]
        known = np.sum(np.isfinite(win), axis=1) >= CYCLES // 4
        with np.errstate(invalid="ignore", divide="ignore"):
            seen = np.where(known[:, None], win, 1.0)
            lo, hi = np.nanmin(seen, axis=1), np.nanmax(seen, axis=1)
            off = np.maximum(np.log2(lo / lengths), np.log2(lengths / hi)) - CYCLE_TOL
        regular = np.log2(hi / lo) <= 1.0  # the cycle has a length: its longest is under twice its shortest
        out[c, at_c] = np.where(known & regular & np.isfinite(off), CYCLE_BITS * np.maximum(off, 0.0), 0.0)
        st["cyc_last"][c] = float(t[at_c[-1]])
        keep = np.concatenate([past, lengths])
        st["cyc_hist"][c] = keep[np.isfinite(keep)][-CYCLES:].tolist()
    st["cyc_side"] = filled[:, -1].tolist()
    return out


def _excursions(st, c, z, z_new, wm, win, sd, inv, novel) -> None:
    """Mark channel ``c``'s rows in an excursion (opens where ``z_new >= Z_ON``, holds while
    ``z >= Z_OFF``) whose level the memory at its opening did not span: fewer than ``FAMILIAR`` of its
    blocks at or below it, or at or above it (both halves of a square wave, a daily rise and everything
    between are known)."""
    hold = z >= Z_OFF
    edges = np.diff(hold.astype(np.int8), prepend=0, append=0)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    carried = st["open"][c] and len(starts) and starts[0] == 0
    if len(starts):
        peak = np.maximum.reduceat(z_new, starts)
        live = np.flatnonzero(peak >= Z_ON)
        if carried and (not len(live) or live[0] != 0):
            live = np.r_[0, live]
    else:
        live = np.empty(0, dtype=np.int64)
    is_open = False
    for i in live.tolist():
        a, e = int(starts[i]), int(ends[i])
        if not (i == 0 and carried):
            a += int(np.argmax(z_new[a:e] >= Z_ON))
            st["snap"][c] = win[inv[a]]
            st["tol"][c] = 2.0 * float(sd[a])
        snap, tol = st["snap"][c][None, :], st["tol"][c]
        below = np.sum(snap <= wm[a:e, None] + tol, axis=1)
        above = np.sum((snap >= wm[a:e, None] - tol) & np.isfinite(snap), axis=1)
        novel[a:e] = np.minimum(below, above) < FAMILIAR
        is_open = e == len(z)
    st["open"][c] = bool(is_open)


def _run_position(st: dict, hot: np.ndarray) -> np.ndarray:
    """For each row, how many hot rows precede it in its run of hot rows (gaps of up to ``MERGE`` quiet
    rows do not end a run); carries the open run in ``st["run"]`` as ``[hot rows, quiet rows since]``."""
    count, quiet = st["run"]
    pos = np.zeros(len(hot), dtype=np.int64)
    idx = np.flatnonzero(hot)
    if len(idx):
        gap = np.diff(idx, prepend=-quiet - 1) - 1
        new = gap > MERGE
        if count == 0:
            new[0] = True
        start = np.maximum.accumulate(np.where(new, np.arange(len(idx)), 0))
        base = np.where(start == 0, 0 if new[0] else count, 0)
        pos[idx] = np.arange(len(idx)) - start + base
        count, quiet = int(pos[idx[-1]]) + 1, len(hot) - 1 - int(idx[-1])
    else:
        quiet += len(hot)
    if quiet > MERGE:
        count = 0
    st["run"] = [count, quiet]
    return pos


# -- the detector ---------------------------------------------------------------------------------------

def _init(st: dict, x: np.ndarray) -> None:
    rows = x.shape[0]
    centre, step = _quantiser(x)
    st.update(centre=centre, step=step, floor=step / 8.0,
              table=np.zeros((rows, TABLE + 1), dtype=np.int32), pending=np.empty(0, dtype=np.intp),
              tod_first_row=np.full(TOD, -1, dtype=np.int64), tod_first_day=np.zeros(TOD),
              fhist=np.zeros((_HIST, rows), dtype=np.int64),
              cal_part=np.empty((rows + 2, 0)), cal_mem=np.empty((rows + 4, 0)), cal_tail=np.empty((2, 0)),
              xhist=np.empty((rows, 0)), sm_part=np.empty((rows, 0)), sm_mem=np.empty((rows, 0)),
              jm_part=np.empty((len(JUMPS) * rows, 0)), jm_mem=np.empty((2 * len(JUMPS) * rows, 0)),
              rng_part=np.empty((rows, 0)), rng_mem=np.empty((2 * rows, 0)), tail=np.empty((rows, 0)),
              run=[0, 0], cyc_side=[0] * rows, cyc_last=[math.nan] * rows, cyc_hist=[[] for _ in range(rows)],
              open=[False] * rows, snap=np.full((rows, MEM), np.inf), tol=[0.0] * rows, event=None,
              lik=likelihood.init())


def _core(st: dict, t: np.ndarray, x: np.ndarray, n0: int) -> dict:
    tod = (np.mod(t, 86400.0) // (86400.0 / TOD)).astype(np.int64) % TOD
    day = np.floor(t / 86400.0)
    bits, tod_bits = _surprise(st, _fine_levels(x, st["centre"], st["step"]), tod, day, n0)
    z, novel, extreme = _state(st, t, x, n0)
    bits += extreme
    s, excess = _calibrate(st, np.stack([bits.sum(axis=0), tod_bits.sum(axis=0)]), bits, n0)
    level = np.where(novel, np.minimum(STATE_CAP, 0.5 + 0.25 * (z - Z_OFF) / Z_ON),
                     np.minimum(0.45, 0.5 * z / Z_ON))
    s = np.where(_run_position(st, s >= 0.5 * S_FULL) >= HABIT, np.minimum(s, 0.45 * S_FULL), s)
    surprise = np.clip(s / S_FULL, 0.0, 1.0)
    state = level.max(axis=0)
    excursion = np.any(novel, axis=0)
    zrow = np.where(excursion, np.where(novel, z, 0.0).max(axis=0), z.max(axis=0))
    score, state_score = likelihood.calibrate(st["lik"], s, zrow, excursion, n0)
    driver = np.where(state_score >= score, np.argmax(level, axis=0), np.argmax(excess, axis=0))
    return {"score": score, "raw": np.maximum(surprise, state), "surprise": surprise, "state": state,
            "driver": driver}


def process(state: dict, t: np.ndarray, x: np.ndarray, names: list[str], aux: dict | None = None,
            want_scores: bool = False):
    """``x``: channels x rows (float64, finite), ``t``: seconds. Returns ``(events, scores)``; ``scores``
    (if asked) holds per row ``score`` (calibrated), ``alarm`` (1 where an anomaly is raised), ``raw``
    (the core's score before calibration), ``surprise``, ``state`` and ``driver`` (a channel index)."""
    rows, n = x.shape
    if state.get("names") != list(names):
        state.clear()
        state.update(names=list(names), n=0, warm_t=np.empty(0), warm_x=np.empty((rows, 0)))
    thaw(state)
    n0 = state["n"]
    out: dict[str, np.ndarray] = {"score": np.zeros(n), "alarm": np.zeros(n, dtype=np.int8), "raw": np.zeros(n),
                                  "surprise": np.zeros(n), "state": np.zeros(n), "driver": np.zeros(n, dtype=np.int64)}
    start = 0
    if "table" not in state:
        start = min(n, WARMUP - state["warm_x"].shape[1])
        state["warm_t"] = np.concatenate([state["warm_t"], t[:start]])
        state["warm_x"] = np.concatenate([state["warm_x"], x[:, :start]], axis=1)
        state["n"] = n0 + start
        if state["warm_x"].shape[1] < WARMUP:
            return [], (out if want_scores else None)
        _init(state, state["warm_x"])
        _core(state, state.pop("warm_t"), state.pop("warm_x"), 0)
    events: list[dict] = []
    if start < n:
        res = _core(state, t[start:], x[:, start:], n0 + start)
        for key in res:
            out[key][start:] = res[key]
        out["alarm"][start:] = _events(state, t[start:], res, names, aux and {k: v[start:] for k, v in aux.items()},
                                       events, n0 + start)
    state["n"] = n0 + n
    return events, (out if want_scores else None)


def _events(st, t, res, names, aux, events, n0) -> np.ndarray:
    """Anomalies (``likelihood.anomalies``' rules) from the rows scoring 0.5 or more: reported when
    raised and again when they end; returns the alarm of each row (1 where one is raised)."""
    alarm = np.zeros(len(t), dtype=np.int8)
    ev = st["event"]
    runs, ended = likelihood.anomalies(st["lik"], np.flatnonzero(res["score"] >= 0.5), n0, len(t))
    for rows_g, new in runs:
        a = int(rows_g[0])
        if new:
            if ev is not None:
                events.append(_report(ev))
            alarm[a] = 1
            ev = {"t0": float(t[a]), "t1": float(t[a]), "peak": 0.0, "rows": 0, "surprise": 0.0, "state": 0.0,
                  "channel": names[int(res["driver"][a])], "drivers": {},
                  **({k: float(v[a]) for k, v in aux.items()} if aux else {})}
            events.append(_report({**ev, "peak": float(res["score"][a]), "rows": 1,
                                   "surprise": float(res["surprise"][a]), "state": float(res["state"][a])}))
        ev["t1"] = float(t[rows_g[-1]])
        ev["rows"] += len(rows_g)
        ev["peak"] = max(ev["peak"], float(res["score"][rows_g].max()))
        ev["surprise"] = max(ev["surprise"], float(res["surprise"][rows_g].max()))
        ev["state"] = max(ev["state"], float(res["state"][rows_g].max()))
        for d, cnt in zip(*np.unique(res["driver"][rows_g], return_counts=True)):
            ev["drivers"][names[int(d)]] = ev["drivers"].get(names[int(d)], 0) + int(cnt)
    if ended and ev is not None:
        events.append(_report(ev))
        ev = None
    st["event"] = ev
    return alarm


def _report(ev: dict) -> dict:
    drivers = sorted(ev["drivers"], key=lambda k: (-ev["drivers"][k], k)) or [ev["channel"]]
    shape = ("spike" if ev["rows"] <= 3 and ev["surprise"] >= ev["state"] else
             "level" if ev["state"] >= 0.5 else "pattern")
    return {"kind": "anomaly", "channel": ev["channel"], "t_start": ev["t0"], "t_end": ev["t1"],
            "score": ev["peak"], "lap": ev.get("lap"), "distance": ev.get("distance"),
            "evidence": {"shape": shape, "rows": ev["rows"], "channels": drivers[:4],
                         "surprise": r(ev["surprise"], 3), "state": r(ev["state"], 3)}}
