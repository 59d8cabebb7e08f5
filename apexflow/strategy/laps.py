"""The strategy models' input: one completed lap of one car, in FastF1's terms."""
from __future__ import annotations

from dataclasses import dataclass

GREEN, VSC, SC = "green", "vsc", "sc"


@dataclass(frozen=True)
class LapRow:
    """A completed lap. ``time`` is the session time at the line at its end (FastF1's ``Time``), in seconds."""

    driver: str
    lap_number: int
    time: float | None
    lap_time: float | None
    stint: int | None
    compound: str | None
    tyre_life: float | None
    pit_in: bool
    pit_out: bool
    track_status: str
    position: int | None

    @property
    def regime(self) -> str:
        return regime(self.track_status)

    @property
    def racing(self) -> bool:
        """A lap that says something about pace: green, timed, neither an in- nor an out-lap, not the start."""
        return (self.regime == GREEN and self.lap_time is not None and not self.pit_in and not self.pit_out
                and self.lap_number > 1)


def regime(track_status: str | None) -> str:
    """FastF1's track status string -> green, vsc or sc (yellow flags stay green)."""
    status = track_status or "1"
    if "4" in status:
        return SC
    if "6" in status or "7" in status:
        return VSC
    return GREEN


def from_fastf1(rows: list[dict]) -> list[LapRow]:
    """FastF1 lap records (``SessionFacts.laps``: its column names, seconds) -> lap rows, by lap then position."""
    out = []
    for r in rows:
        if r.get("LapNumber") is None or not r.get("Driver"):
            continue
        out.append(LapRow(
            driver=str(r["Driver"]), lap_number=int(r["LapNumber"]), time=r.get("Time"), lap_time=r.get("LapTime"),
            stint=int(r["Stint"]) if r.get("Stint") is not None else None,
            compound=(str(r["Compound"]).upper() if r.get("Compound") else None),
            tyre_life=r.get("TyreLife"),
            pit_in=r.get("PitInTime") is not None,
            pit_out=r.get("PitOutTime") is not None and int(r["LapNumber"]) > 1,
            track_status=str(r.get("TrackStatus") or "1"),
            position=int(r["Position"]) if r.get("Position") is not None else None))
    return sorted(out, key=lambda x: (x.lap_number, x.time if x.time is not None else float("inf")))


def by_lap(rows: list[LapRow]) -> dict[int, list[LapRow]]:
    laps: dict[int, list[LapRow]] = {}
    for r in rows:
        laps.setdefault(r.lap_number, []).append(r)
    return dict(sorted(laps.items()))
