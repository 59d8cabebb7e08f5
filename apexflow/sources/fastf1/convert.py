"""FastF1's tables (laps, results, track status, messages) -> rows of JSON-safe scalars under FastF1's column
names, times as float seconds (``None`` for NaT)."""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np


def isna(v) -> bool:
    try:
        import pandas as pd

        r = pd.isna(v)
        return bool(r) if np.ndim(r) == 0 else False
    except (TypeError, ValueError):
        return False


def py(v):
    """A JSON-safe Python scalar from a pandas/numpy value: timedeltas as seconds, NaN/NaT as None."""
    import pandas as pd

    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (pd.Timedelta, np.timedelta64, timedelta)):
        return None if isna(v) else pd.Timedelta(v).total_seconds()
    if isinstance(v, (pd.Timestamp, np.datetime64, datetime)):
        if isna(v):
            return None
        ts = pd.Timestamp(v)
        return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).isoformat()
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    if isna(v):
        return None
    return str(v)


_INT_COLUMNS = {"LapNumber", "Stint", "Position", "GridPosition", "Lap", "Laps"}


def rows_of(df, entity_of: dict | None = None, driver_col: str = "DriverNumber") -> list[dict]:
    """DataFrame -> rows of JSON-safe scalars; ``Driver`` set to the entity id when ``entity_of`` is given."""
    out = []
    for rec in df.to_dict("records"):
        row = {str(k): py(v) for k, v in rec.items()}
        for k in _INT_COLUMNS & row.keys():
            if isinstance(row[k], float) and row[k].is_integer():
                row[k] = int(row[k])
        if entity_of is not None:
            row["Driver"] = entity_of.get(str(row.get(driver_col)), row.get("Driver"))
        out.append(row)
    return out
