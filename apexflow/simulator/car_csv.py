"""Laps of a synthetic race as a car-telemetry file like a FastF1 export, for the motorsport profile.

What real car data has and the simulator's own samples have not: car data at ~4 Hz with position
data at other times (rows with only X, Y, Z, in FastF1's tenths of a metre), Speed, RPM, nGear and
Throttle in whole numbers (full throttle read as 104 now and then), Brake as True/False that shows
a sample late at some braking zones, DRS as FastF1's codes (0 closed, 8 when it may open, 10/12/14
open), SessionTime written as pandas writes a timedelta, and holes of 1-2 s. ``frames`` builds
the columns per car (so tests can plant faults in them), ``write`` writes them with any column names.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from apexflow.simulator.race import SyntheticRace

CAR = ("Speed", "RPM", "nGear", "Throttle", "Brake", "DRS")
POSITION = ("X", "Y", "Z")
HOLES_PER_LAP = 0.5
HOLE_S = (1.0, 2.0)


def clean_laps(race: SyntheticRace) -> dict[str, list[int]]:
    """Racing laps (not the first, not under the safety car, not in or out of the pits) of the cars with
    no injected anomaly."""
    hit = {a["entity_id"] for a in race.ground_truth()}
    return {car.code: [lap for lap in range(2, race.laps + 1) if race.plan.clean(car, lap)]
            for car in race.plan.cars if car.code not in hit}


def frames(race: SyntheticRace, laps: dict[str, list[int]], seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Per car of ``laps``, its samples over those laps as FastF1-like columns: ``SessionTime`` (s), the car
    channels and ``Distance`` (NaN on position rows), ``X``/``Y``/``Z`` (NaN on car rows) and ``LapNumber``."""
    out = {}
    for k, (code, t, v) in enumerate((c, t, v) for c, t, v in race.samples() if c in laps):
        rng = np.random.default_rng([seed, k])
        keep = np.isin(v["LapNumber"], laps[code])
        t, v = t[keep], {name: col[keep].astype(np.float64) for name, col in v.items()}
        starts = np.sort(rng.uniform(t[0], t[-1], rng.poisson(HOLES_PER_LAP * len(laps[code]))))
        keep = np.ones(len(t), bool)
        for start in starts[np.diff(starts, prepend=-np.inf) > 10.0]:  # holes apart, never one long one
            keep &= (t < start) | (t > start + rng.uniform(*HOLE_S))
        t, v = t[keep], {name: col[keep] for name, col in v.items()}
        car = {"Speed": np.round(v["Speed"]), "RPM": np.round(v["RPM"]), "nGear": v["nGear"],
               "Throttle": np.where((v["Throttle"] == 100) & (rng.uniform(size=len(t)) < 0.1), 104.0,
                                    np.round(v["Throttle"])),
               "Brake": _late(rng, v["Brake"] > 0.5), "DRS": _drs_codes(rng, t, v["DRS"] > 0.5)}
        pos_t = np.sort(t[:-1] + rng.uniform(0.05, 0.2, len(t) - 1))
        pos_t = pos_t[np.isin(pos_t, t, invert=True)]
        times = np.concatenate([t, pos_t])
        order = np.argsort(times, kind="stable")
        cols = {"SessionTime": times[order]}
        for name in CAR:
            cols[name] = np.r_[car[name], np.full(len(pos_t), np.nan)][order]
        for name in POSITION:
            cols[name] = np.round(np.r_[np.full(len(t), np.nan), 10 * np.interp(pos_t, t, v[name])][order])
        cols["Distance"] = np.r_[v["Distance"], np.full(len(pos_t), np.nan)][order]
        cols["LapNumber"] = v["LapNumber"][np.clip(np.searchsorted(t, times[order], side="right") - 1, 0, None)]
        out[code] = cols
    return out


def _late(rng: np.random.Generator, brake: np.ndarray) -> np.ndarray:
    """The brake flag a sample late, on and off, at half the braking zones."""
    edges = np.diff(np.r_[0, brake.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    shift = rng.uniform(size=len(starts)) < 0.5
    late = brake.copy()
    late[starts[shift]] = False
    late[ends[shift & (ends < len(brake))]] = True
    return late


def _drs_codes(rng: np.random.Generator, t: np.ndarray, open_: np.ndarray) -> np.ndarray:
    """0 closed, 8 in the second before the flap opens, 10/12/14 open."""
    opens = t[open_ & ~np.r_[False, open_[:-1]]]
    soon = np.zeros(len(t), bool)
    for t0 in opens:
        soon |= (t >= t0 - 1.0) & (t < t0)
    return np.where(open_, rng.choice([10.0, 12.0, 14.0], len(t)), np.where(soon, 8.0, 0.0))


def _cell(name: str, x: float) -> str:
    if np.isnan(x):
        return ""
    if name == "SessionTime":
        minutes, seconds = divmod(x, 60.0)
        hours, minutes = divmod(int(minutes), 60)
        return f"0 days {hours:02d}:{minutes:02d}:{seconds:09.6f}"
    if name == "Brake":
        return "True" if x else "False"
    return f"{x:.3f}" if name == "Distance" else str(int(x))


def write(path, cars: dict[str, dict[str, np.ndarray]], names: dict[str, str] | None = None,
          columns: tuple[str, ...] = ("SessionTime", *CAR, *POSITION, "LapNumber")) -> Path:
    """The cars' columns as one CSV, with a ``Driver`` column; ``names`` renames columns in the header."""
    names = names or {}
    path = Path(path)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["Driver", *(names.get(c, c) for c in columns)])
        for code, cols in cars.items():
            for i in range(len(cols["SessionTime"])):
                out.writerow([code, *(_cell(c, cols[c][i]) for c in columns)])
    return path
