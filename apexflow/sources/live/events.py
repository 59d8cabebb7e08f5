"""What a live adapter tells the live stage (``apexflow.pipeline.live``): the session, its cars, samples and facts.

Times are UTC instants as POSIX seconds; the live stage turns them into session time. Rows use
FastF1's column names (``LapTime``, ``Stint``, ``Compound``, ``Category``...). Entity ids are what
the rest of ApexFlow uses: the driver's abbreviation (``VER``), the car number where none is known.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from apexflow.contract import Entity


@dataclass(frozen=True)
class SessionKnown:
    session_id: str
    source: str
    start_time: datetime  # UTC instant of session time 0 (the scheduled start)
    identity: dict
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Driver:
    entity: Entity


@dataclass(frozen=True)
class CarSample:
    """One car-data sample in the contract's channels and units (Speed km/h, Brake and DRS 0/1...)."""

    entity_id: str
    utc: float
    values: dict


def car_sample(entity_id: str, utc: float, *, speed, rpm, gear, throttle, brake, drs) -> CarSample:
    """A sample from the values both live sources send: brake 0/100 (on above 0), DRS codes (open from 10,
    as FastF1 reads them), throttle up to 104 (capped at 100)."""
    return CarSample(entity_id, utc, {"Speed": float(speed), "RPM": float(rpm), "nGear": float(gear),
                                      "Throttle": min(float(throttle), 100.0), "Brake": float(brake > 0),
                                      "DRS": float((drs or 0) >= 10)})


@dataclass(frozen=True)
class Position:
    entity_id: str
    utc: float
    x: float
    y: float
    z: float


@dataclass(frozen=True)
class LapDone:
    """A completed lap: ``times`` are UTC instants for FastF1's session-time columns (``LapStartTime``,
    ``Time``, ``PitInTime``, ``PitOutTime``, sector session times); ``values`` everything else."""

    entity_id: str
    lap_number: int
    times: dict
    values: dict


@dataclass(frozen=True)
class TrackStatus:
    utc: float
    status: str  # FastF1's code, see ``contract.TRACK_STATUS``
    message: str


@dataclass(frozen=True)
class RaceControl:
    utc: float
    row: dict  # Category, Message, Status, Flag, Scope, Sector, RacingNumber, Lap


@dataclass(frozen=True)
class Tick:
    """A message's own time: the stream clock moves on even when no car data comes."""

    utc: float


@dataclass(frozen=True)
class Missing:
    stream: str
    reason: str


@dataclass(frozen=True)
class Ended:
    utc: float
    reason: str
