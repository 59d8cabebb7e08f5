"""The motorsport profile of file sources: a car's telemetry columns as the contract's F1 channels.

A column becomes a channel by ``mapping`` (``{column: channel}``, from ``--map vCar=Speed``) or by
a recognised name (``ALIASES``; case, spaces, ``_``, ``-`` and a ``[unit]`` suffix do not matter).
Other columns are left out and listed in the session's meta. ``Speed`` is required.

Values are brought to what the car detectors read (FastF1's conventions):

- ``Brake``: 0/1 or true/false as given; a pressure (values over 1) is on above ``BRAKE_ON`` of
  the car's own hard braking (its 99th percentile).
- ``DRS``: FastF1's codes (0, 1, 8, 10, 12, 14) are 1 from 10 up (flap open); 0/1 as given.
- ``Throttle``: readings up to ``THROTTLE_OVER`` % over 100 (FastF1 cars read 104) are 100.
- ``Speed``: km/h; a column whose unit says m/s or mph is converted.
- Empty cells (a car export merged with position data, each stream at its own times): continuous
  channels are interpolated in time, discrete ones keep their last value. Samples at one time are
  merged, the first value of each channel winning. Rows without a speed inside a hole in the car
  data (readings more than ``MAX_FILL_S`` apart) are dropped: a hole stays a hole, it is never
  bridged by made-up speeds and a brake flag held off.
- ``Distance``: into the lap. With ``LapNumber``, a distance that runs on across laps restarts at
  each lap, and without a ``Distance`` column one is integrated from speed. Without ``LapNumber``
  a distance running past one lap (the contract's range) is left out.
"""
from __future__ import annotations

import re

import numpy as np

from apexflow.contract import DISCRETE_UNITS, F1_CHANNELS
from apexflow.errors import ContractError

CHANNELS = {c.name: c for c in F1_CHANNELS}
ALIASES = {
    "Speed": ("speed", "vcar", "speedkph", "speedkmh", "vehiclespeed"),
    "RPM": ("rpm", "nengine", "enginerpm", "enginespeed"),
    "nGear": ("ngear", "gear"),
    "Throttle": ("throttle", "aps", "throttlepedal", "throttlepct"),
    "Brake": ("brake", "brakepressure", "pbrake", "brakeon"),
    "DRS": ("drs",),
    "X": ("x",), "Y": ("y",), "Z": ("z",),
    "Distance": ("distance", "lapdistance", "distancelap"),
    "LapNumber": ("lapnumber", "lap", "nlap", "lapno"),
}
_BY_ALIAS = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
_SPEED_UNITS = {"km/h": 1.0, "kph": 1.0, "kmh": 1.0, "m/s": 3.6, "mph": 1.609344}
BRAKE_ON = 0.1
THROTTLE_OVER = 5.0
MAX_FILL_S = 0.6


def _key(column: str) -> str:
    return re.sub(r"[^a-z0-9]", "", re.sub(r"\s*[\[(].*$", "", column).lower())


def channels_of(columns: list[str], mapping: dict[str, str], where: str) -> dict[str, str]:
    """{column: channel} for the columns that carry car channels, by ``mapping`` first, then by alias."""
    known = {n.lower(): n for n in CHANNELS}
    out: dict[str, str] = {}
    for column, name in mapping.items():
        if column not in columns:
            raise ContractError(f"{where}: --map {column}={name}: there is no column {column!r}; columns are {columns}")
        if name.lower() not in known:
            raise ContractError(f"{where}: --map {column}={name}: {name!r} is not a motorsport channel; "
                                f"use one of {', '.join(CHANNELS)}")
        out[column] = known[name.lower()]
    taken = {name: column for column, name in out.items()}
    if len(taken) < len(out):
        twice = next(n for n in taken if sum(v == n for v in out.values()) > 1)
        raise ContractError(f"{where}: --map gives {twice} twice (from {[c for c, n in out.items() if n == twice]}); "
                            "map one column to each channel")
    for column in columns:
        alias = _BY_ALIAS.get(_key(column))
        if column in out or alias is None or alias in taken:
            continue
        if alias in out.values():
            other = next(c for c, n in out.items() if n == alias)
            raise ContractError(f"{where}: columns {other!r} and {column!r} both look like {alias}; "
                                f"pick one with --map COLUMN={alias}")
        out[column] = alias
    if "Speed" not in out.values():
        raise ContractError(f"{where}: the motorsport profile needs the car's speed: name a column with "
                            f"--map COLUMN=Speed (recognised names: {', '.join(ALIASES['Speed'])}); "
                            f"columns are {columns}")
    return out


CAR_SIGNS = frozenset({"RPM", "nGear", "Throttle", "Brake", "DRS"})


def looks_like_a_car(columns: list[str]) -> list[str]:
    """The car channels recognised by name among ``columns`` when they make a car's telemetry (a speed
    and at least two of engine speed, gear, throttle, brake, DRS), else []."""
    found = sorted({_BY_ALIAS[_key(c)] for c in columns if _key(c) in _BY_ALIAS})
    return found if "Speed" in found and len(CAR_SIGNS.intersection(found)) >= 2 else []


def speed_factor(unit: str, where: str) -> float:
    """km/h per unit of a speed column ('' is km/h)."""
    factor = _SPEED_UNITS.get(unit.strip().lower() or "km/h")
    if factor is None:
        raise ContractError(f"{where}: speed unit {unit!r} is not one of {', '.join(_SPEED_UNITS)}")
    return factor


def merge_same_times(t: np.ndarray, values: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Samples sorted by time, one per time: the first finite value of each channel at that time."""
    times, group = np.unique(t, return_inverse=True)
    if len(times) == len(t):
        return t, values
    out = {}
    for name, x in values.items():
        finite = np.flatnonzero(np.isfinite(x))
        first_groups, first = np.unique(group[finite], return_index=True)
        merged = np.full(len(times), np.nan)
        merged[first_groups] = x[finite[first]]
        out[name] = merged
    return times, out


def within_car_data(t: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """Rows to keep: those with a speed, and those between two speed readings at most ``MAX_FILL_S`` apart."""
    ok = np.isfinite(speed)
    if not ok.any():
        return ok
    seen = t[ok]
    k = np.searchsorted(seen, t)  # the next reading at or after each row
    before, after = seen[np.clip(k - 1, 0, None)], seen[np.clip(k, None, len(seen) - 1)]
    return ok | ((k > 0) & (k < len(seen)) & (after - before <= MAX_FILL_S))


def fill(t: np.ndarray, values: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
    """Empty cells filled: continuous channels interpolated in time, discrete ones held (the first
    ones take the first value); ``Distance`` is left to ``lap_distance``."""
    out = {}
    for name, x in values.items():
        ok = np.isfinite(x)
        if ok.all() or (name == "Distance" and ok.any()):
            out[name] = x
            continue
        if not ok.any():
            raise ContractError(f"{where}: channel {name} has no value at all; drop the column or map another")
        if CHANNELS[name].unit in DISCRETE_UNITS:
            idx = np.maximum.accumulate(np.where(ok, np.arange(len(x)), -1))
            out[name] = x[np.where(idx < 0, np.argmax(ok), idx)]
        else:
            out[name] = np.interp(t, t[ok], x[ok])
    return out


def car_values(t: np.ndarray, values: dict[str, np.ndarray], speed_unit: str, where: str) -> dict[str, np.ndarray]:
    """One car's channels (sorted, merged, filled) in the car detectors' conventions."""
    v = dict(values)
    v["Speed"] = v["Speed"] * speed_factor(speed_unit, where)
    if "Brake" in v and v["Brake"].max() > 1:
        v["Brake"] = (v["Brake"] > BRAKE_ON * np.percentile(v["Brake"], 99)).astype(np.float64)
    if "DRS" in v and v["DRS"].max() > 1:
        v["DRS"] = (v["DRS"] >= 10).astype(np.float64)
    if "Throttle" in v:
        thr = v["Throttle"]
        v["Throttle"] = np.where((thr > 100) & (thr <= 100 + THROTTLE_OVER), 100.0, thr)
    if "LapNumber" in v or "Distance" in v:
        v["Distance"] = lap_distance(t, v.get("LapNumber"), v.get("Distance"), v["Speed"])
    return v


def lap_distance(t: np.ndarray, lap: np.ndarray | None, distance: np.ndarray | None, speed: np.ndarray) -> np.ndarray:
    """Metres into the lap: the given distance (its empty cells carried on from the sample before by the
    speed; restarted at each lap if it runs on across laps), or speed integrated over time."""
    run = np.cumsum(np.diff(t, prepend=t[0]) * speed / 3.6)  # metres driven since the first sample
    if distance is None:
        distance = run
    elif not np.isfinite(distance).all():
        ok = np.isfinite(distance)
        known = np.maximum.accumulate(np.where(ok, np.arange(len(t)), -1))
        known = np.where(known < 0, np.argmax(ok), known)
        distance = np.maximum(distance[known] + run - run[known], 0.0)
    if lap is None:
        return distance
    starts = np.flatnonzero(np.diff(lap, prepend=np.nan) != 0)  # first sample of each lap
    if len(starts) > 1 and np.all(distance[starts[1:]] >= distance[starts[1:] - 1]):  # never restarts: running on
        distance = distance - distance[starts][np.searchsorted(starts, np.arange(len(t)), side="right") - 1]
    return distance


def past_one_lap(values: dict[str, np.ndarray]) -> bool:
    """A Distance without LapNumber that runs past the contract's range (a session's running total)."""
    return "Distance" in values and "LapNumber" not in values and values["Distance"].max() > CHANNELS["Distance"].max
