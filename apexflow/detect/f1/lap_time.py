"""Lap-time outliers: laps far off the driver's own local pace in the same stint."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from apexflow.detect.base import Detection, severity
from apexflow.detect.f1.lap import VERSION
from apexflow.detect.f1.lap_table import LapTable, by_stint
from apexflow.detect.f1.stats import robust_sigma

NEIGHBOURS = 3        # clean laps each side that make the local stint pace
MIN_REF = 3           # at least this many of them
OUT_ABS_S = 1.5       # an outlier is off by at least this much ...
OUT_SIGMA = 5.0       # ... and this many robust sigmas of the stint's lap-to-pace spread
FIELD_SLOW = 0.02     # a lap on which the field's median car is 2 % off its own pace is no one's outlier
FIELD_MIN_CARS = 5


def lap_time_outliers(session_id: str, table: LapTable) -> list[Detection]:
    """Laps far off the driver's own local pace in the same stint, slow or fast.

    Candidates and references are clean laps, not the restart lap after a yellow, SC, VSC or
    red. The reference of a lap is the median of up to ``NEIGHBOURS`` clean laps either side in
    its stint (so tyre wear and fuel burn do not look like outliers); the spread is the robust
    sigma of all clean laps' deviations from their references in the stint. Outside races only
    push laps count: cool-down laps are not outliers. A lap on which the field's median car is
    ``FIELD_SLOW`` off its own pace is skipped (rain, an unflagged neutralisation). A slow lap is a
    ``warning`` (a mistake, traffic, a problem starting), a fast one ``info``.
    """
    found = []
    for laps in table.by_driver.values():
        # the restart lap after a neutralisation is green but not representative
        clean = table.push([lap for k, lap in enumerate(laps) if lap.clean and (k == 0 or laps[k - 1].green)])
        for slaps in by_stint(clean).values():
            times = np.array([lap.lap_time for lap in slaps])
            refs = np.full(len(times), np.nan)
            for i in range(len(times)):
                near = np.r_[times[max(0, i - NEIGHBOURS):i], times[i + 1:i + 1 + NEIGHBOURS]]
                if len(near) >= MIN_REF:
                    refs[i] = np.median(near)
            ok = np.isfinite(refs)
            if ok.sum() < MIN_REF + 1:
                continue
            sigma = max(robust_sigma(times[ok] - refs[ok]), 0.05)
            limit = max(OUT_ABS_S, OUT_SIGMA * sigma)
            for i in np.flatnonzero(ok).tolist():
                found.append((slaps[i], float(refs[i]), sigma, limit))
    # the field's pace on each lap: when most cars are off their own pace, it is the track, not the driver
    field: dict = defaultdict(list)
    for lap, ref, *_ in found:
        field[lap.lap_number].append(lap.lap_time / ref - 1.0)
    field_delta = {k: float(np.median(v)) for k, v in field.items() if len(v) >= FIELD_MIN_CARS}
    out = []
    for lap, ref, sigma, limit in found:
        delta = lap.lap_time - ref
        fd = field_delta.get(lap.lap_number)
        if abs(delta) <= limit or (fd is not None and abs(fd) > FIELD_SLOW):
            continue
        score = (0.5 if delta > 0 else 0.2) + min(0.29, 0.29 * (abs(delta) - limit) / (2 * limit))
        out.append(Detection(
            session_id, lap.driver, "lap_time_outlier", severity(score), score, lap.start, lap.end, "lap_time",
            VERSION, channel="LapTime", lap=lap.lap_number,
            evidence={"lap_time": round(lap.lap_time, 3), "reference": round(ref, 3),
                      "delta": round(delta, 3), "direction": "slow" if delta > 0 else "fast",
                      "sigma": round(sigma, 3), "limit": round(limit, 3), "stint": lap.stint,
                      "field_delta_pct": None if fd is None else round(100 * fd, 2), "deleted": lap.deleted}))
    return out
