"""Tyre degradation: per stint, the pace trend over tyre life, the forecast of the "cliff" and whether
the tyres fell off it.

Severity says what to look at: wear along a steady trend is expected (``info``), heavy wear that has
crossed ``CLIFF_DELTA_S`` or will within ``SOON_LAPS`` is a ``warning``, and only a stint whose last
``FALL_LAPS`` clean laps all fell ``FALL_S`` or more off the trend of its earlier laps (the tyres
"went off") is ``critical``. Critical means someone must look now: once the session has taken the chequered flag,
a stint that ran to the flag is at most a ``warning`` (a driver easing off to the line, or wear nobody can act on
any more, never alerts).
"""
from __future__ import annotations

import numpy as np

from apexflow.detect.base import Detection, severity
from apexflow.detect.f1.lap import VERSION
from apexflow.detect.f1.lap_table import PUSH_FACTOR, LapTable, by_stint
from apexflow.detect.f1.stats import theil_sen

MIN_STINT_LAPS = 5
FUEL_S_PER_LAP = 0.05   # lap time gained per lap of fuel burnt (races: ~1.6 kg/lap x ~0.03 s/kg)
CLIFF_DELTA_S = 1.5     # the "cliff": fuel-corrected pace this much slower than the stint's start
MAX_FORECAST_LAPS = 60  # forecasts further out than this are "no cliff in sight"
HEAVY_S_PER_LAP = 0.15  # wear this fast is heavy
SOON_LAPS = 3           # a cliff this close is imminent
FALL_LAPS = 3           # the stint's last clean laps ...
FALL_S = 0.7            # ... each this much over the trend of the laps before: the tyres went off


def tyre_degradation(session_id: str, table: LapTable, finished: bool = False) -> list[Detection]:
    """Per stint with ``MIN_STINT_LAPS`` clean laps: the pace trend per lap of tyre life, fuel
    corrected in races, and the tyre life at which the trend crosses ``CLIFF_DELTA_S`` over
    the stint's starting pace (already crossed, or forecast beyond the stint's last lap).
    ``finished``: the session has taken the flag (its drivers' last stints are over)."""
    out = []
    fuel = FUEL_S_PER_LAP if table.race else 0.0
    for driver, laps in table.by_driver.items():
        for stint, slaps in by_stint(laps).items():
            clean = table.push([lap for lap in slaps if lap.clean])
            if clean:  # not a formation lap, a standing start or a spin: over 107 % of the stint's usual pace
                usual = float(np.median([lap.timed for lap in clean]))
                clean = [lap for lap in clean if lap.timed <= PUSH_FACTOR * usual]
            if len(clean) < MIN_STINT_LAPS:
                continue
            lapno = np.array([lap.lap_number for lap in clean], dtype=float)
            life = np.array([np.nan if lap.tyre_life is None else lap.tyre_life for lap in clean])
            x = life if np.isfinite(life).all() else lapno - lapno[0] + 1
            y = np.array([lap.lap_time for lap in clean]) + fuel * (lapno - lapno[0])
            slope, icpt = theil_sen(x.astype(float), y)
            start_pace = icpt + slope * float(x[0])
            cliff = float(x[0]) + CLIFF_DELTA_S / slope if slope > 1e-6 else None
            if cliff is not None and cliff - float(x[-1]) > MAX_FORECAST_LAPS:
                cliff = None  # no cliff in sight
            last = float(x[-1])
            laps_to_cliff = None if cliff is None else round(float(cliff - last), 1)
            fall = _fall_off(x.astype(float), y)
            if fall is not None and fall >= FALL_S:
                score = 0.9
            elif slope >= HEAVY_S_PER_LAP and laps_to_cliff is not None and laps_to_cliff <= SOON_LAPS:
                score = 0.6
            else:
                score = min(0.45, max(0.0, 0.45 * slope / HEAVY_S_PER_LAP))
            first, final = slaps[0], slaps[-1]
            at_flag = finished and final is laps[-1]
            if at_flag:
                score = min(score, 0.6)
            out.append(Detection(
                session_id, driver, "tyre_degradation", severity(score), score, first.start, final.end,
                "tyre_degradation", VERSION, channel="LapTime", lap=final.lap_number,
                evidence={"stint": stint, "compound": first.compound, "clean_laps": len(clean),
                          "slope_s_per_lap": round(slope, 4), "fuel_correction_s_per_lap": fuel,
                          "start_pace": round(float(start_pace), 3), "cliff_delta_s": CLIFF_DELTA_S,
                          "cliff_tyre_life": None if cliff is None else round(float(cliff), 1),
                          "laps_to_cliff": laps_to_cliff, "crossed": bool(cliff is not None and cliff <= last),
                          "fall_off_s": None if fall is None else round(fall, 3), "at_flag": at_flag,
                          "x": "TyreLife" if x is life else "lap_in_stint"}))
    return out


def _fall_off(x: np.ndarray, y: np.ndarray) -> float | None:
    """How far the stint's last ``FALL_LAPS`` laps all are over the trend of the laps before (the least of
    them; a falling trend counts as flat at its last laps' pace); None when the earlier laps are too few."""
    if len(x) < MIN_STINT_LAPS + FALL_LAPS:
        return None
    slope, icpt = theil_sen(x[:-FALL_LAPS], y[:-FALL_LAPS])
    if slope < 0:  # warming tyres, a drying track: no extrapolation of the gain
        slope, icpt = 0.0, float(np.median(y[-FALL_LAPS - 3:-FALL_LAPS]))
    return float(np.min(y[-FALL_LAPS:] - (icpt + slope * x[-FALL_LAPS:])))
