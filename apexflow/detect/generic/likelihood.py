"""Anomaly likelihood and alarms: the novelty core's raw surprise calibrated on the series' own history.

The novelty core says how surprising a row is *in general* (its raw surprise, bits base 10) and how
far a persistent excursion lies from the usual level (``z``); this module says how unlikely that is
*for this series*, as Numenta's HTM anomaly likelihood does: against what the same quantities did over
a long history of the series (the ``HISTORY`` blocks of ``BLOCK`` rows before the row's block). Three
views, the least likely counts:

- **sustained**: the mean raw surprise of the last ``SHORT`` rows against how often that moving mean
  reached each level of ``LEVELS`` before (HTM's likelihood: the recent short-window mean against the
  distribution over the history);
- **moment**: the row's raw surprise against how often rows reached each level before;
- **state**: an excursion's ``z`` (the largest over the channels, the peak since it opened; ``Z_BITS``
  per unit) against the peaks of the excursions of the history; rows of an excursion do not count as
  history.

From a level ``u`` below the surprise ``s``: ``p = rate(u) * exp(-(s - u) / beta(u))``, ``beta(u)`` the
mean excess of the series' own surprises over ``u`` (an exponential tail fitted to its history), rates
and slopes shrunk towards those of a perfectly calibrated score (``10**-u``, ``1 / ln 10``) while the
history is short (``PRIOR_ROWS``, ``TAIL_PRIOR``); the largest ``p`` over the levels. "How often"
counts episodes: a row counts at the levels the row before had not reached, so a surprise lasting 50
rows is one, and one long anomaly does not teach the series to ignore the next.

``score = -log10(p) / S_FULL`` clipped to [0, 1]: 0.5 is a one-in-a-million moment for this series.
Sums are integers per absolute row and block, so any split of the stream gives the same scores, bit
for bit.

**Alarms** (``anomalies``, ``alarms``): an anomaly is raised on the first row scoring 0.5 or more once
the probation (the first ``PROBATION`` rows) is over; it stays raised (alarm 0) while rows keep scoring
0.5 or more with fewer than ``QUIET`` rows between them, and at least ``HOLD`` rows from where it was
raised (the hold-off); only then can a new one be raised.
"""
from __future__ import annotations

import math

import numpy as np

QUANT, BITS_MAX = 256, 1000.0  # the raw surprise in integer steps of 1/256 bit, at most 1,000 bits
SHORT = 8                     # rows of the short-window mean (sustained surprise)
BLOCK = 32                    # the history is summed per block of this many rows ...
HISTORY = 256                 # ... over this many blocks (8,192 rows) before the row's block
PRIOR_ROWS = 512              # weight, in rows, of the quiet prior while the history is short
TAIL_PRIOR = 2                # weight, in rows, of a calibrated tail's slope in each level's fitted slope
LEVELS = tuple(range(2, 13))  # raw-surprise levels (bits, base 10) whose rates are learnt
Z_BITS = 6.0 / 4.6           # an excursion's z in bits (base 10): z = 4.6 scores 0.5
S_FULL = 12.0                 # -log10 p that scores 1.0 (0.5: one in a million)
WARMUP = 256                  # rows whose raw surprise is 0 (the core's warm-up): not learnt
PROBATION = 384               # rows during which no alarm is raised
QUIET = 64                    # rows under 0.5 that end an anomaly ...
HOLD = 300                    # ... no sooner than this many rows after it was raised

_NSTAT = 1 + 2 * len(LEVELS)  # per block: rows learnt, then the rows whose surprise and whose moving mean reached each
#                               level


def init() -> dict:
    return {"tail": [0] * (SHORT - 1), "part": [0] * _NSTAT, "mem": [], "prev": [0, 0], "open": None, "past": []}


def log10_q(z: np.ndarray) -> np.ndarray:
    """``-log10`` of the normal upper tail at ``z`` (taken as 0 below 0; Borjesson-Sundberg, within 0.3 %)."""
    z = np.maximum(z, 0.0)
    ln_q = -0.5 * z * z - np.log(0.339 * z + 0.661 * np.sqrt(z * z + 5.51)) - 0.5 * math.log(2 * math.pi)
    return np.maximum(-ln_q / math.log(10.0), math.log10(2.0))


def _history(st: dict, learn: np.ndarray, buckets: list[np.ndarray], n0: int) -> tuple[np.ndarray, np.ndarray]:
    """Per block of the chunk, sums over its history (the ``HISTORY`` complete blocks before it): rows
    learnt and, per ``buckets`` array (per row: how many ``LEVELS`` it reached), the episodes that
    reached each level (a row counts at the levels the row before had not reached: a surprise lasting
    50 rows is one episode, not 50); blocks x (1 + len(buckets) * len(LEVELS)), integers, so exact in
    any order; and each row's block. Carries the partial block, the memory of blocks and the last row's
    buckets."""
    n, nl = len(learn), len(LEVELS)
    local = np.arange(n0, n0 + n) // BLOCK - n0 // BLOCK   # 0: the carried partial block
    nblk = int(local[-1]) + 1
    sums = np.empty((nblk, _NSTAT), dtype=np.int64)
    sums[:, 0] = np.bincount(local, weights=learn, minlength=nblk)
    last = []
    for i, k in enumerate(buckets):
        prev = np.concatenate([[st["prev"][i]], k[:-1]])
        up = learn & (k > prev)
        key = local * (nl + 1)
        hist = (np.bincount(key + k, weights=up, minlength=nblk * (nl + 1))
                - np.bincount(key + prev, weights=up, minlength=nblk * (nl + 1))).reshape(nblk, nl + 1)
        sums[:, 1 + i * nl:1 + (i + 1) * nl] = np.cumsum(hist[:, :0:-1], axis=1)[:, ::-1]  # crossed level i
        last.append(int(k[-1]))
    st["prev"] = last
    sums[0] += np.asarray(st["part"], dtype=np.int64)
    mem = np.asarray(st["mem"], dtype=np.int64).reshape(-1, _NSTAT)
    allb = np.concatenate([mem, sums])
    cs = np.concatenate([np.zeros((1, _NSTAT), dtype=np.int64), np.cumsum(allb, axis=0)])
    j = np.arange(nblk) + len(mem)
    done = (n0 + n) % BLOCK == 0
    st["mem"] = (allb if done else allb[:-1])[-HISTORY:].tolist()
    st["part"] = [0] * _NSTAT if done else allb[-1].tolist()
    return cs[j] - cs[np.maximum(j - HISTORY, 0)], local


def _excursions(st: dict, b: np.ndarray, rows: np.ndarray, n0: int) -> np.ndarray:
    """``-log10 p`` of each row of an excursion (a run of positive ``b``, bits) from its running peak
    ``v`` and the peaks ``q`` of the excursions that ended in the ``HISTORY * BLOCK`` rows before it
    began: ``p = rate(>= v)``, or ``rate(>= q) * 10**-(v - q)`` from a smaller one, the largest (rates
    per row of history, shrunk towards ``10**-q``); 0 outside excursions. Carries the open run and the
    past runs' ends and peaks."""
    out = np.zeros(len(b))
    pos = b > 0
    past = [p for p in st["past"] if p[0] >= n0 - HISTORY * BLOCK]
    if pos.any():
        d = np.diff(pos.astype(np.int8), prepend=0, append=0)
        for a, e in zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()):
            seg = b[a:e].copy()
            if a == 0 and st["open"] is not None:
                seg[0] = max(seg[0], st["open"][0])
                seen = st["open"][1]
            else:
                seen = sorted(p[1] for p in past if p[0] >= n0 + a - HISTORY * BLOCK)
            v = np.minimum(np.maximum.accumulate(seg), 300.0)
            w = rows[a:e] + PRIOR_ROWS
            ge = len(seen) - np.searchsorted(seen, v)            # past peaks at or above v
            bits = np.minimum(v, -np.log10((ge + PRIOR_ROWS * 10.0 ** -v) / w))
            for i, q in enumerate(seen):
                rate = (len(seen) - i + PRIOR_ROWS * 10.0 ** -q) / w
                bits = np.where(v >= q, np.minimum(bits, -np.log10(rate) + (v - q)), bits)
            out[a:e] = bits
            st["open"] = [float(v[-1]), seen]
            if e < len(b):  # ended: remembered
                past.append([n0 + e, float(v[-1])])
                st["open"] = None
    elif st["open"] is not None and len(b):
        past.append([n0, st["open"][0]])
        st["open"] = None
    st["past"] = past
    return out


def _tail(s: np.ndarray, counts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``-log10 p`` of surprises ``s`` (bits) given how many of ``rows`` earlier rows reached each level
    (``counts``: rows x levels): from each level ``u <= s``, ``p = rate(u) * exp(-(s - u) / beta(u))``
    with ``beta(u)`` the mean excess over ``u`` of the rows that reached it (an exponential tail fitted
    to the series' own surprises, shrunk towards a calibrated score's ``1 / ln 10``); the largest."""
    out = s.copy()                                   # level 0: the raw surprise taken at its word
    w = rows + PRIOR_ROWS
    above = np.zeros(len(s))
    for i in range(len(LEVELS) - 1, -1, -1):         # from the top level down: the excess above each
        u, c = LEVELS[i], counts[:, i]
        beta = (above + 0.5 * c + TAIL_PRIOR / math.log(10.0)) / (c + TAIL_PRIOR)
        rate = (c + PRIOR_ROWS * 10.0 ** -u) / w
        out = np.where(s >= u, np.minimum(out, -np.log10(rate) + (s - u) / (beta * math.log(10.0))), out)
        above = above + c
    return out


def calibrate(st: dict, bits: np.ndarray, z: np.ndarray, excursion: np.ndarray, n0: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Scores of absolute rows ``n0..`` (``-log10 p / S_FULL`` in [0, 1]) and those of their state
    part alone, from the raw surprise (``bits``, base 10), the largest ``z`` over the channels and
    whether the row is in an excursion (``z`` then being the excursion's)."""
    n, nl = len(bits), len(LEVELS)
    ai = np.rint(np.clip(bits, 0.0, BITS_MAX) * QUANT).astype(np.int64)
    full = np.concatenate([np.asarray(st["tail"], dtype=np.int64), ai])
    c = np.concatenate([[0], np.cumsum(full)])
    m = c[SHORT:] - c[:-SHORT]                       # sum of the last SHORT raw surprises, per row
    st["tail"] = full[len(full) - (SHORT - 1):].tolist()
    learn = np.arange(n0, n0 + n) >= WARMUP
    s_row = ai / QUANT
    s_mean = m / (QUANT * SHORT)
    edges = np.asarray(LEVELS, dtype=np.float64)
    h, local = _history(st, learn, [np.searchsorted(edges, s_row, side="right"),
                                    np.searchsorted(edges, s_mean, side="right")], n0)
    sig = np.zeros(n)
    at = np.flatnonzero((s_row >= LEVELS[0]) | (s_mean >= LEVELS[0]))  # below the first level: as it is
    if len(at):
        hb = h[local[at]]
        sig[at] = np.maximum(_tail(s_row[at], hb[:, 1:1 + nl], hb[:, 0]), _tail(s_mean[at], hb[:, 1 + nl:], hb[:, 0]))
    low = np.ones(n, dtype=bool)
    low[at] = False
    sig[low] = np.maximum(s_row[low], s_mean[low])
    state = (_excursions(st, np.where(excursion, Z_BITS * z, 0.0), h[local, 0], n0)
             if excursion.any() or st["open"] is not None else None)
    if state is not None:
        sig = np.maximum(sig, state)
        state = np.clip(state / S_FULL, 0.0, 1.0) * learn
    score = np.clip(sig / S_FULL, 0.0, 1.0) * learn
    return score, (np.zeros(n) if state is None else state)


def anomalies(st: dict, hot: np.ndarray, n0: int, n: int) -> tuple[list[tuple[np.ndarray, bool]], bool]:
    """The alarm rules over the ``n`` rows from ``n0`` on, ``hot`` (indices in the chunk) those scoring
    0.5 or more: ``(runs, ended)``, each run of hot rows with whether it raises a new anomaly (else it
    extends the open one), and whether the last one has ended by the chunk's end. ``st["at"]`` and
    ``st["last"]`` (absolute rows where the open anomaly was raised and last hot) carry it across chunks."""
    hot = hot[hot + n0 >= PROBATION]
    out = []
    if len(hot):
        first = np.flatnonzero(np.diff(hot, prepend=-(10 ** 12)) > QUIET)
        for i0, i1 in zip(first.tolist(), np.r_[first[1:], len(hot)].tolist()):
            a = int(hot[i0]) + n0
            new = st.get("at") is None or (a - st["last"] > QUIET and a - st["at"] >= HOLD)
            if new:
                st["at"] = a
            st["last"] = int(hot[i1 - 1]) + n0
            out.append((hot[i0:i1], new))
    end = n0 + n - 1
    ended = st.get("at") is not None and end - st["last"] >= QUIET and end - st["at"] >= HOLD
    if ended:
        st["at"] = st["last"] = None
    return out, ended


def alarms(st: dict, score: np.ndarray, n0: int) -> np.ndarray:
    """The alarm (1 where an anomaly is raised, else 0) of each of the rows from ``n0`` on."""
    out = np.zeros(len(score), dtype=np.int8)
    runs, _ = anomalies(st, np.flatnonzero(score >= 0.5), n0, len(score))
    for rows, new in runs:
        out[rows[0]] = new
    return out
