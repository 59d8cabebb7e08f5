"""The telemetry contract: what every source produces and every consumer reads.

A *session* is one recording (an F1 session, a test-bench run, a day of a machine's
sensors). It has *entities* (cars, drivers, devices) whose *samples* are timestamped
values of named *channels*, each with a unit. Sources may add session-level *facts*
(laps, stints, pit stops, track status) in FastF1's own naming.

Time inside a session is seconds since ``Session.start_time`` (float64). Samples move
as *chunks* (see ``apexflow.chunk``): one entity's consecutive samples, columnar.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime

SCHEMA_VERSION = 2  # of the chunk (``apexflow.chunk``) and the manifest; 2: chunks name their run

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"  # channel names
_NAME = re.compile(NAME_PATTERN)
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"  # session, entity and detection ids
_ID = re.compile(ID_PATTERN)


class ContractError(ValueError):
    """Data that breaks the telemetry contract; the message says what and how to fix it, ``parameter`` which
    field of a request is at fault (when one is)."""

    def __init__(self, message: str, parameter: str | None = None):
        super().__init__(message)
        self.parameter = parameter


class BadMessage(ContractError):
    """One live message (or recorded line) that cannot be read: skipped and counted by ``kind`` (``unparseable``,
    ``no_timestamp``, ``undecodable_payload``, ``bad_time``, ``bad_value``, ``malformed``), never the end of a run."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


# Detector profiles: which detector set a session's telemetry goes through (``apexflow.detect.detectors_for``).
# ``motorsport``: car telemetry in the F1 channels below; ``generic``: any telemetry. Sessions of these
# sources are car telemetry unless they say otherwise.
PROFILES = ("generic", "motorsport")
MOTORSPORT_SOURCES = frozenset({"synthetic", "fastf1"})

# Units of channels that take a few discrete values (states, counts): never "frozen", never a level to track.
DISCRETE_UNITS = frozenset({"bool", "gear", "lap", "count", "flag"})


@dataclass(frozen=True)
class Channel:
    """A named signal with its unit and the physically possible range of its values."""

    name: str
    unit: str
    min: float = -math.inf
    max: float = math.inf
    description: str = ""

    def __post_init__(self):
        if not _NAME.match(self.name):
            raise ContractError(
                f"channel name {self.name!r} is invalid: use a letter then letters, digits or '_' (max 64)"
            )

    def to_dict(self) -> dict:
        d = {"name": self.name, "unit": self.unit}
        if math.isfinite(self.min):
            d["min"] = self.min
        if math.isfinite(self.max):
            d["max"] = self.max
        if self.description:
            d["description"] = self.description
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Channel":
        return cls(d["name"], d["unit"], d.get("min", -math.inf), d.get("max", math.inf), d.get("description", ""))


# Car telemetry channels in FastF1's naming (``Session.car_data`` / ``pos_data``).
F1_CHANNELS: tuple[Channel, ...] = (
    Channel("Speed", "km/h", 0, 400, "car speed"),
    Channel("RPM", "1/min", 0, 15000, "engine speed"),
    Channel("nGear", "gear", 0, 8, "gear number, 0 = neutral"),
    Channel("Throttle", "%", 0, 100, "throttle pedal"),
    Channel("Brake", "bool", 0, 1, "brake pedal pressed"),
    Channel("DRS", "bool", 0, 1, "DRS flap open"),
    Channel("X", "m", -20000, 20000, "position east"),
    Channel("Y", "m", -20000, 20000, "position north"),
    Channel("Z", "m", -1000, 5000, "position up"),
    Channel("Distance", "m", 0, 20000, "distance driven in the current lap"),
    Channel("LapNumber", "lap", 0, 200, "current lap"),
)


@dataclass(frozen=True)
class Entity:
    """Something that produces samples: a car, a driver, a device."""

    entity_id: str
    name: str = ""
    team: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        check_id("entity_id", self.entity_id)


@dataclass
class Session:
    """One recording from one source.

    ``session_id`` is stable for the same recording (re-ingesting replaces it).
    ``identity`` says what it is in the source's terms, e.g. ``{"year": 2025,
    "event": "Miami Grand Prix", "session": "Sprint"}`` for F1. ``profile`` (one of ``PROFILES``)
    says which detectors it gets; by default ``motorsport`` for ``MOTORSPORT_SOURCES``, else ``generic``.
    """

    session_id: str
    source: str
    start_time: datetime
    channels: tuple[Channel, ...]
    entities: tuple[Entity, ...]
    identity: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    profile: str = ""

    def __post_init__(self):
        check_id("session_id", self.session_id)
        if not self.profile:
            self.profile = "motorsport" if self.source in MOTORSPORT_SOURCES else "generic"
        if self.profile not in PROFILES:
            raise ContractError(f"session {self.session_id}: profile {self.profile!r} is not one of {list(PROFILES)}")
        if self.start_time.tzinfo is None:
            raise ContractError(f"session {self.session_id}: start_time must be timezone-aware (UTC)")
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ContractError(f"session {self.session_id}: duplicate channel names in {names}")

    def channel_map(self) -> dict[str, Channel]:
        return {c.name: c for c in self.channels}


def check_id(what: str, value: str) -> None:
    if not isinstance(value, str) or not _ID.match(value):
        raise ContractError(
            f"{what} {value!r} is invalid: use letters, digits, '.', '_' or '-' (1-128, starting alphanumeric)"
        )


def partition_key(session_id: str, entity_id: str) -> str:
    """Kinesis partition key: one entity of one session always lands on one shard, in order."""
    return f"{session_id}/{entity_id}"


# FastF1 track-status codes (``Session.track_status``).
TRACK_STATUS = {
    "1": "AllClear",
    "2": "Yellow",
    "4": "SCDeployed",
    "5": "Red",
    "6": "VSCDeployed",
    "7": "VSCEnding",
}


@dataclass
class SessionFacts:
    """Session-level facts a source may have, as rows keyed by FastF1's column names.

    Times are seconds since the session start (``None`` where unknown).

    - ``laps``: one row per lap; at least ``Driver`` (the entity id), ``LapNumber``,
      ``LapStartTime``, ``LapTime``; F1 sources add ``Stint``, ``Compound``, ``TyreLife``,
      ``PitInTime``, ``PitOutTime``, ``TrackStatus``, sector times and the rest.
    - ``track_status``: ``Time``, ``Status`` (see ``TRACK_STATUS``), ``Message``.
    - ``race_control_messages``, ``results``, ``weather``: as the source gives them.
    - ``missing``: stream name -> why it is absent (recorded in the session manifest).
    """

    laps: list[dict] = field(default_factory=list)
    track_status: list[dict] = field(default_factory=list)
    race_control_messages: list[dict] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)
    weather: list[dict] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
