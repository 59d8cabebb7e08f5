"""One driver's FastF1 car and position data -> samples on the car-data clock."""
from __future__ import annotations

import numpy as np

CAR_CHANNELS = ("Speed", "RPM", "nGear", "Throttle", "Brake", "DRS", "Distance", "LapNumber")
POS_CHANNELS = ("X", "Y", "Z")


def _seconds(series) -> np.ndarray:
    return series.dt.total_seconds().to_numpy(dtype=np.float64)


def lap_starts(laps) -> tuple[np.ndarray, np.ndarray]:
    """(lap start session seconds, lap numbers) of one driver's laps, sorted; laps without a start are skipped."""
    start = laps["LapStartTime"]
    fallback = laps["Time"] - laps["LapTime"]
    start = start.where(start.notna(), fallback)
    s = _seconds(start)
    n = laps["LapNumber"].to_numpy(dtype=np.float64)
    ok = np.isfinite(s) & np.isfinite(n)
    order = np.argsort(s[ok], kind="stable")
    return s[ok][order], n[ok][order]


def car_samples(car, pos=None, laps=None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One driver's FastF1 car data (+ position data, + laps) -> (t, channels) on the car-data clock.

    ``t`` is ``SessionTime`` in seconds, strictly increasing (duplicates dropped). Brake and DRS
    become 0/1 (DRS codes 10, 12 and 14 mean the flap is open). X/Y/Z are interpolated from the
    position stream onto the car-data timestamps, in metres (FastF1 gives tenths of a metre).
    ``Distance`` is integrated from speed and restarts at every lap start; ``LapNumber`` is the lap
    in progress (0 before the first).
    """
    t = _seconds(car["SessionTime"])
    cols = {"Speed": car["Speed"], "RPM": car["RPM"], "nGear": car["nGear"], "Throttle": car["Throttle"],
            "Brake": car["Brake"].astype(float), "DRS": (car["DRS"].astype(float) >= 10).astype(float)}
    values = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
    ok = np.isfinite(t)
    for v in values.values():
        ok &= np.isfinite(v)
    t = t[ok]
    values = {k: v[ok] for k, v in values.items()}
    order = np.argsort(t, kind="stable")
    t = t[order]
    keep = np.concatenate([[True], np.diff(t) > 0]) if len(t) else np.zeros(0, bool)
    t = t[keep]
    values = {k: v[order][keep] for k, v in values.items()}
    if pos is not None and len(pos):
        pt = _seconds(pos["SessionTime"])
        p_order = np.argsort(pt, kind="stable")
        for name in POS_CHANNELS:
            pv = pos[name].to_numpy(dtype=np.float64)[p_order]
            good = np.isfinite(pt[p_order]) & np.isfinite(pv)
            if good.any():
                values[name] = np.interp(t, pt[p_order][good], pv[good]) / 10  # FastF1: 1/10 m
    starts, numbers = (lap_starts(laps) if laps is not None and len(laps) else (np.zeros(0), np.zeros(0)))
    idx = np.searchsorted(starts, t, side="right") - 1  # lap in progress, -1 before the first
    values["LapNumber"] = np.where(idx >= 0, numbers[np.clip(idx, 0, None)] if len(numbers) else 0, 0)
    step = np.diff(t, prepend=t[0] if len(t) else 0.0) * values["Speed"] / 3.6
    total = np.cumsum(step)
    if len(starts) and len(t):
        first = np.searchsorted(t, starts)  # first sample of each lap
        before = total[np.clip(first, 0, len(t) - 1)]  # distance at the lap's first sample
        values["Distance"] = np.where(idx >= 0, total - before[np.clip(idx, 0, None)], total)
    else:
        values["Distance"] = total
    return t, values
