"""One lap as the lap-level detectors read it: a FastF1 lap row (``SessionFacts.laps``), parsed once.

Fields are FastF1's lap columns in snake case, times in session seconds, ``None`` where FastF1 has
NaT/NaN. ``green`` and ``clean`` are the lap's flags in its session (see ``lap_table.LapTable``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

VERSION = "2"  # of the lap-level detectors


def num(v) -> float | None:
    """A finite float, or None."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@dataclass(frozen=True)
class Lap:
    driver: str
    lap_number: int
    lap_time: float | None = None
    lap_start_time: float | None = None
    time: float | None = None  # session time at the end of the lap (FastF1's ``Time``)
    stint: float | None = None
    compound: str | None = None
    tyre_life: float | None = None
    pit_in_time: float | None = None
    pit_out_time: float | None = None
    track_status: str = "1"
    sector_times: tuple = (None, None, None)
    sector_session_times: tuple = (None, None, None)
    position: int | None = None
    deleted: bool = False
    fastf1_generated: bool = False
    green: bool = True
    clean: bool = False

    @classmethod
    def of(cls, row: dict) -> Lap | None:
        """The lap of a FastF1 lap row; None without a driver or a lap number."""
        n = num(row.get("LapNumber"))
        if row.get("Driver") is None or n is None:
            return None
        position = num(row.get("Position"))
        return cls(str(row["Driver"]), int(n), num(row.get("LapTime")), num(row.get("LapStartTime")),
                   num(row.get("Time")), num(row.get("Stint")), row.get("Compound"), num(row.get("TyreLife")),
                   num(row.get("PitInTime")), num(row.get("PitOutTime")), str(row.get("TrackStatus") or "1"),
                   tuple(num(row.get(f"Sector{k}Time")) for k in (1, 2, 3)),
                   tuple(num(row.get(f"Sector{k}SessionTime")) for k in (1, 2, 3)),
                   None if position is None else int(position), bool(row.get("Deleted") or False),
                   bool(row.get("FastF1Generated") or False))

    @property
    def timed(self) -> float:
        """The lap time of a timed lap (every clean lap is one); ValueError on an untimed lap."""
        if self.lap_time is None:
            raise ValueError(f"lap {self.lap_number} of {self.driver} has no lap time")
        return self.lap_time

    @property
    def ended(self) -> float:
        """FastF1's ``Time`` of a lap that has one; ValueError on a lap without."""
        if self.time is None:
            raise ValueError(f"lap {self.lap_number} of {self.driver} has no completion time")
        return self.time

    @property
    def pitted_in(self) -> bool:
        return self.pit_in_time is not None

    @property
    def pitted_out(self) -> bool:
        return self.pit_out_time is not None

    @property
    def end(self) -> float:
        """Session time at the lap's end: start plus lap time, else FastF1's ``Time``."""
        if self.lap_start_time is not None and self.lap_time is not None:
            return self.lap_start_time + self.lap_time
        return self.time or self.lap_start_time or 0.0

    @property
    def start(self) -> float:
        """Session time at the lap's start: ``LapStartTime``, else its end minus its lap time."""
        return self.lap_start_time if self.lap_start_time is not None else self.end - (self.lap_time or 0.0)

    @property
    def s12(self) -> float | None:
        """The first two sectors' time (before any pit entry)."""
        a, b = self.sector_times[0], self.sector_times[1]
        return None if a is None or b is None else a + b
