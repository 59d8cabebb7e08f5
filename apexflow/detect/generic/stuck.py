"""Stuck sensor: a numeric channel that keeps exactly one value far longer than it normally does.

Per channel the detector learns how long a value usually lasts (the mean length of the
completed runs of identical values, ignoring runs of ``CAP`` samples or more) and flags a
run once it reaches ``max(MIN_RUN, RATIO x that mean)`` samples. The threshold of a run is
fixed when the run starts, so the same data always gives the same answer. A channel must
have changed ``MIN_HIST`` times before it can be called stuck (a constant channel is just
constant). Works on quantised and slowly varying signals: their usual runs are long, so
is their threshold.
"""
from __future__ import annotations

import numpy as np

NAME, VERSION = "stuck", "1"
MIN_RUN, RATIO, MIN_HIST, CAP = 20, 10.0, 10, 10_000


def process(state: dict, t: np.ndarray, x: np.ndarray, names: list[str], aux: dict | None = None,
            want_scores: bool = False):
    rows, n = x.shape
    chans = state.setdefault("ch", {})
    events: list[dict] = []
    scores = np.zeros((rows, n)) if want_scores else None
    for c, name in enumerate(names):
        col = x[c]
        st = chans.get(name)
        new = np.empty(n, dtype=bool)
        new[0] = st is None or col[0] != st["v"]
        new[1:] = col[1:] != col[:-1]
        starts = np.flatnonzero(new)
        cont = not new[0]  # the first run continues the carried one
        starts_all = np.concatenate([[0], starts]) if cont else starts
        ends = np.append(starts_all[1:], n)
        lens = ends - starts_all
        carried = st["len"] if cont else 0
        total = lens.copy()
        total[0] += carried
        hn0, hs0 = (st["hn"], st["hs"]) if st else (0, 0)
        if st and not cont:  # the carried run ended with the previous chunk
            if st["ev"].get("flag"):
                events.append(_event(st["ev"], name, st["t1"], st["len"], st["thr"]))
            if st["len"] < CAP:
                hn0, hs0 = hn0 + 1, hs0 + st["len"]
        done = np.ones(len(total), dtype=bool)
        done[-1] = False
        incl = done & (total < CAP)
        cn = hn0 + np.concatenate([[0], np.cumsum(incl)[:-1]])
        cs = hs0 + np.concatenate([[0], np.cumsum(np.where(incl, total, 0))[:-1]])
        thr = np.where(cn >= MIN_HIST, np.maximum(MIN_RUN, np.ceil(RATIO * cs / np.maximum(cn, 1))), 0)
        thr = thr.astype(np.int64)
        if cont:
            thr[0] = st["thr"]
        hit = (thr > 0) & (total >= thr)
        for k in np.flatnonzero(hit).tolist():
            a, b = int(starts_all[k]), int(ends[k])
            if k == 0 and cont:
                ev = st["ev"]
                flagged = ev.get("flag", False)
            else:
                ev = {"t0": float(t[a]), "v": float(col[a]), **({kk: float(vv[a]) for kk, vv in aux.items()}
                                                               if aux else {})}
                flagged = False
            if not flagged:
                i_flag = a + int(thr[k]) - (carried if (k == 0 and cont) else 0) - 1
                ev["flag"] = True
                events.append(_event(ev, name, float(t[i_flag]), int(thr[k]), int(thr[k])))
            if done[k]:
                events.append(_event(ev, name, float(t[b - 1]), int(total[k]), int(thr[k])))
            elif k == 0 and cont:
                st["ev"] = ev
            else:
                last_ev = ev
        if scores is not None:
            rid = np.cumsum(np.isin(np.arange(n), starts_all)) - 1
            pos = np.arange(n) - starts_all[rid] + 1 + np.where(rid == 0, carried, 0)
            th = thr[rid]
            scores[c] = np.where(th > 0, np.clip(2.0 * pos / np.maximum(th, 1) - 1.0, 0.0, 1.0), 0.0)
        k = len(total) - 1
        a = int(starts_all[k])
        if k == 0 and cont:
            ev = st["ev"]
        elif hit[k]:
            ev = last_ev
        else:
            ev = {"t0": float(t[a]), "v": float(col[a]), **({kk: float(vv[a]) for kk, vv in aux.items()}
                                                           if aux else {})}
        chans[name] = {"v": float(col[-1]), "t1": float(t[-1]), "len": int(total[k]), "thr": int(thr[k]),
                       "hn": int(cn[k]), "hs": float(cs[k]), "ev": ev}
    return events, scores


def _event(ev: dict, name: str, t_end: float, samples: int, thr: int) -> dict:
    score = min(1.0, 0.5 + 0.5 * samples / (4.0 * thr))
    return {"kind": "frozen_sensor", "channel": name, "t_start": ev["t0"], "t_end": t_end, "score": score,
            "lap": ev.get("lap"), "distance": ev.get("distance"),
            "evidence": {"value": ev["v"], "samples": samples, "threshold_samples": thr,
                         "seconds": round(t_end - ev["t0"], 3)}}
