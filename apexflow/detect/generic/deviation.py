"""Spikes, level shifts and change points of any numeric channel against a robust rolling baseline.

Per channel, the baseline of a sample is a robust line (medians of the two halves) through
the previous ``W`` samples, extrapolated to it (block aligned, see ``_stream.BlockBaseline``),
and its noise scale the MAD of the residuals about that line; ``z`` is the sample's robust
deviation from the baseline.

- **Excursion** (``spike`` or ``level_shift``): opens when ``|z| >= Z_OPEN`` and lasts while
  ``|z| >= Z_HOLD``. One that ends within ``SHIFT_SAMPLES`` samples is a ``spike`` (reported
  when it ends); one that lasts that long is a ``level_shift`` (reported then, and again
  with its end once the baseline has caught up with the new level).
- **Change point** (``change_point``): two-sided CUSUM of the clipped ``z`` with allowance
  ``K`` and decision threshold ``H``, restarted after an alarm and quiet for one window
  while the baseline absorbs the change. The reported start is the last sample at which
  the CUSUM was zero: the estimated onset of the change.

All numbers are in units of the channel's own noise, so the same thresholds work for any
telemetry. The CUSUM is computed as ``C_n - min(C_j)`` over the running sum ``C`` (the
Lindley recursion in closed form): vectorised, and bit-identical for any split because
``C`` is accumulated in stream order from the value carried in the state.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from apexflow.detect.generic._stream import BlockBaseline, r, robust_sigma, runs

NAME, VERSION = "deviation", "1"
B, M = 8, 12  # baseline: 12 blocks of 8 samples (96 samples)
Z_OPEN, Z_HOLD = 7.0, 3.5
SHIFT_SAMPLES = 16
CLIP, K, H = 6.0, 3.0, 20.0
QUIET = B * M
LONG = 64  # noise scale: median over the scales of the previous 64 blocks
_baseline = BlockBaseline(B, M, trend=True)


def process(state: dict, t: np.ndarray, x: np.ndarray, names: list[str], aux: dict | None = None,
            want_scores: bool = False):
    """``x``: channels x n. Returns ``(events, scores)``; scores (channels x n, in [0, 1]) only if asked."""
    rows, n = x.shape
    if state.get("names") != names:
        state.clear()
        state["names"] = list(names)
    base = state.setdefault("base", {})
    n0 = int(base.get("n", 0))
    pred, level, mad, mean_ad, j, valid = _baseline(base, x)
    z = np.zeros((rows, n))
    if valid.any():
        sig = _scale(state, robust_sigma(level, mad, mean_ad), max(n0 // B, M))
        z[:, valid] = (x[:, valid] - pred[:, valid]) / sig[:, j[valid]]
    events: list[dict] = []
    az = np.abs(z)
    _excursions(state, t, z, az, names, aux, events)
    s_cusum = _cusum(state, t, z, valid, n0, names, aux, events, want_scores)
    scores = None
    if want_scores:
        scores = np.clip((az - 3.0) / 6.0, 0.0, 1.0)
        if s_cusum is not None:
            scores = np.maximum(scores, s_cusum)
    return events, scores


def _scale(state: dict, sig: np.ndarray, first: int) -> np.ndarray:
    """Noise scale of each block: the median of its own window's scale and the previous ``LONG`` blocks'.

    A window that contains a step (its residual spread balloons) or happens to be flat (a
    stuck or idle stretch, spread ~0) would otherwise hide the step or make the first
    ordinary wiggle after it look huge. ``first`` is the block id of ``sig[:, 0]``; the
    history holds the scales of blocks up to ``state["sb"]``.
    """
    hist = np.asarray(state.get("sh") or np.empty((sig.shape[0], 0)), dtype=np.float64).reshape(sig.shape[0], -1)
    sb = int(state.get("sb", first - 1))
    fresh = sig[:, sb + 1 - first:] if sb + 1 - first < sig.shape[1] else sig[:, :0]
    allh = np.concatenate([hist, fresh], axis=1)
    id0 = sb - hist.shape[1] + 1  # block id of allh[:, 0]
    out = sig.copy()
    p0 = first - id0  # allh position of sig[:, 0]
    steady = max(0, min(sig.shape[1], LONG - p0))  # columns before this one have a short history
    for col in range(steady):
        p = p0 + col
        win = allh[:, max(0, p - LONG):max(0, p)]
        if win.shape[1]:
            out[:, col] = np.median(np.concatenate([win, sig[:, col:col + 1]], axis=1), axis=1)
    if steady < sig.shape[1]:  # full history: all remaining blocks at once
        wins = sliding_window_view(allh, LONG, axis=1)[:, p0 + steady - LONG:p0 + sig.shape[1] - LONG]
        both = np.concatenate([wins, sig[:, steady:, None]], axis=2)
        out[:, steady:] = np.median(both, axis=2)
    state["sh"] = allh[:, -(LONG + 1):].tolist()  # a chunk may start inside block sb
    state["sb"] = first + sig.shape[1] - 1
    return out


def _where(aux: dict | None, i: int) -> dict:
    if not aux:
        return {}
    return {k: float(v[i]) for k, v in aux.items()}


def _excursions(state, t, z, az, names, aux, events) -> None:
    opened = state.setdefault("exc", {})
    n = len(t)
    on_all = az >= Z_HOLD
    hi_any = (az >= Z_OPEN).any(axis=1)
    for c in np.flatnonzero(hi_any | np.array([nm in opened for nm in names])):
        name = names[c]
        ev = opened.get(name)
        on = on_all[c]
        if ev is not None and not on[0]:
            _close(opened.pop(name), name, events)
            ev = None
        starts, ends = runs(on)
        for s, e in zip(starts.tolist(), ends.tolist()):
            if ev is None:
                hits = np.flatnonzero(az[c, s:e] >= Z_OPEN)
                if not len(hits):
                    continue
                s += int(hits[0])
                ev = {"t0": float(t[s]), "z": 0.0, "len": 0, "shift": False, "t1": float(t[s]), **_where(aux, s)}
                opened[name] = ev
            if not ev["shift"] and ev["len"] + (e - s) >= SHIFT_SAMPLES:
                p = s + SHIFT_SAMPLES - ev["len"]
                _extend(ev, z[c, s:p], t[p - 1])
                ev["shift"] = True
                events.append(_event(ev, name, "level_shift"))
                s = p
            if e > s:
                _extend(ev, z[c, s:e], t[e - 1])
            if e < n:
                _close(opened.pop(name), name, events)
                ev = None


def _extend(ev: dict, seg: np.ndarray, t_last) -> None:
    k = int(np.argmax(np.abs(seg)))
    if abs(seg[k]) > abs(ev["z"]):
        ev["z"] = float(seg[k])
    ev["len"] += len(seg)
    ev["t1"] = float(t_last)


def _close(ev: dict, name: str, events: list) -> None:
    events.append(_event(ev, name, "level_shift" if ev["shift"] else "spike"))


def _event(ev: dict, name: str, kind: str) -> dict:
    score = min(1.0, 0.3 + (abs(ev["z"]) - 3.0) / 12.0)
    return {"kind": kind, "channel": name, "t_start": ev["t0"], "t_end": ev["t1"], "score": score,
            "lap": ev.get("lap"), "distance": ev.get("distance"),
            "evidence": {"peak_z": r(ev["z"], 2), "samples": ev["len"], "z_open": Z_OPEN}}


def _cusum(state, t, z, valid, n0, names, aux, events, want_scores):
    rows, n = z.shape
    zc = np.clip(z, -CLIP, CLIP)
    d = np.concatenate([zc - K, -zc - K])  # 2*rows: upward then downward
    d[:, ~valid] = 0.0
    cs = state.get("cusum")
    if cs is None or len(cs) != 2 * rows:
        cs = [[0.0, 0.0, float(t[0]), 0] for _ in range(2 * rows)]
    carry = np.asarray(cs, dtype=np.float64)
    idx = np.arange(n0, n0 + n)
    quiet = idx[None, :] < carry[:, 3:4]
    d[quiet] = 0.0
    c = np.cumsum(np.concatenate([carry[:, :1], d], axis=1), axis=1)[:, 1:]
    cmin = np.minimum(np.minimum.accumulate(c, axis=1), carry[:, 1:2])
    s = c - cmin
    alarm_rows = np.flatnonzero((s > H).any(axis=1))
    new = [[float(c[k, -1]), float(cmin[k, -1]), cs[k][2], cs[k][3]] for k in range(2 * rows)]
    zero = s == 0.0
    has_zero = zero.any(axis=1)
    last_zero = n - 1 - np.argmax(zero[:, ::-1], axis=1)
    for k in np.flatnonzero(has_zero).tolist():
        new[k][2] = float(t[last_zero[k]])
    for k in alarm_rows.tolist():
        new[k] = _cusum_row(k, cs[k], d[k], t, idx, names, aux, events, s if want_scores else None)
    state["cusum"] = new
    if not want_scores:
        return None
    sc = np.clip(s / H, 0.0, 1.0)
    return np.maximum(sc[:rows], sc[rows:])


def _cusum_row(k, carry, d, t, idx, names, aux, events, s_out):
    """Sequential pass over one row with alarms: alarm, restart, stay quiet, repeat."""
    rows = len(names)
    name, up = names[k % rows], k < rows
    c0, cmin0, tzero, quiet_until = carry
    pos, n = 0, len(t)
    while pos < n:
        seg = d[pos:].copy()
        seg[idx[pos:] < quiet_until] = 0.0
        c = np.cumsum(np.concatenate([[c0], seg]))[1:]
        cmin = np.minimum(np.minimum.accumulate(c), cmin0)
        s = c - cmin
        if s_out is not None:
            s_out[k, pos:] = s
        over = np.flatnonzero(s > H)
        zero = np.flatnonzero(s[: over[0] if len(over) else len(s)] == 0.0)
        if len(zero):
            tzero = float(t[pos + zero[-1]])
        if not len(over):
            return [float(c[-1]), float(cmin[-1]), tzero, quiet_until]
        a = pos + int(over[0])
        score = min(1.0, 0.5 + float(s[over[0]]) / (4 * H))
        ev = {"kind": "change_point", "channel": name, "t_start": tzero, "t_end": float(t[a]), "score": score,
              **_where(aux, a),
              "evidence": {"direction": "up" if up else "down", "cusum": r(s[over[0]], 2), "k": K, "h": H}}
        events.append(ev)
        c0, cmin0, quiet_until = 0.0, 0.0, int(idx[a]) + 1 + QUIET
        tzero = float(t[a])
        if s_out is not None:
            s_out[k, a + 1:] = 0.0
        pos = a + 1
    return [c0, cmin0, tzero, quiet_until]
