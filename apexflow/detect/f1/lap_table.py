"""A session's laps, parsed and flagged once, for every lap-level detector.

``LapTable.of(rows, track_status, race)`` parses FastF1's lap rows into typed ``Lap``s per driver
(ordered by lap number), computes the neutralised periods (yellow, SC, VSC, red) from the
track-status timeline once, and flags every lap ``green`` (no yellow, SC, VSC or red during it, by
its own ``TrackStatus`` and by the timeline) and ``clean`` (timed, green, neither in-lap, out-lap
nor opening lap).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from apexflow.detect.f1.lap import Lap
from apexflow.detect.f1.track_status import track_status_events

PUSH_FACTOR = 1.07  # outside races, laps over 107 % of the driver's best are not push laps
_NOT_GREEN = set("24567")


def neutralised(track_status: list[dict]) -> list[tuple[float, float, str]]:
    """(start, end, kind) of the periods with anything but a green track (from the session's status timeline)."""
    return [(d.t_start, d.t_end, d.kind) for d in track_status_events("x", track_status)]


def is_green(lap: Lap, neutral: list[tuple[float, float]] | None = None) -> bool:
    """No yellow, SC, VSC or red during the lap, by its own ``TrackStatus`` and by the status timeline."""
    if _NOT_GREEN & set(lap.track_status):
        return False
    t0, lt = lap.lap_start_time, lap.lap_time
    if neutral and t0 is not None and lt is not None:
        return not any(a < t0 + lt and b > t0 for a, b in neutral)
    return True


def is_clean(lap: Lap, neutral: list[tuple[float, float]] | None = None) -> bool:
    """A timed green-flag lap that is neither an in-lap, an out-lap nor the opening lap."""
    return (lap.lap_time is not None and not lap.pitted_in and not lap.pitted_out and lap.lap_number > 1
            and is_green(lap, neutral))


def by_stint(laps: list[Lap]) -> dict:
    """Laps grouped by ``Stint``, in order."""
    out: dict = defaultdict(list)
    for lap in laps:
        out[lap.stint].append(lap)
    return out


@dataclass(frozen=True)
class LapTable:
    by_driver: dict[str, list[Lap]]
    periods: list[tuple[float, float, str]]  # yellow, SC, VSC and red: (start, end, kind)
    race: bool = True

    @classmethod
    def of(cls, rows: list[dict], track_status: list[dict] | None = None, race: bool = True) -> LapTable:
        periods = neutralised(track_status or [])
        neutral = [(a, b) for a, b, _ in periods]
        by_driver: dict[str, list[Lap]] = defaultdict(list)
        for row in rows:
            lap = Lap.of(row)
            if lap is not None:
                by_driver[lap.driver].append(replace(lap, green=is_green(lap, neutral), clean=is_clean(lap, neutral)))
        for laps in by_driver.values():
            laps.sort(key=lambda lap: lap.lap_number)
        return cls(dict(sorted(by_driver.items())), periods, race)

    @property
    def neutral(self) -> list[tuple[float, float]]:
        return [(a, b) for a, b, _ in self.periods]

    @property
    def laps(self) -> list[Lap]:
        return [lap for laps in self.by_driver.values() for lap in laps]

    @property
    def end(self) -> float | None:
        """Session time at which the last lap ended."""
        return max((lap.end for lap in self.laps), default=None)

    def push(self, clean: list[Lap]) -> list[Lap]:
        """Outside races, only push laps (within ``PUSH_FACTOR`` of the fastest of ``clean``); in races, all."""
        if self.race or not clean:
            return clean
        best = min(lap.timed for lap in clean)
        return [lap for lap in clean if lap.timed <= PUSH_FACTOR * best]
