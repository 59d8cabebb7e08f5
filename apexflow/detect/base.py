"""What every detector shares: the detection record and its deterministic id."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

from apexflow.contract import Severity
from apexflow.detect.field import Profile, Timeline


@dataclass
class Detection:
    session_id: str
    entity_id: str
    kind: str
    severity: Severity
    score: float
    t_start: float
    t_end: float
    detector: str
    detector_version: str
    channel: str | None = None
    lap: int | None = None
    distance: float | None = None
    evidence: dict = field(default_factory=dict)

    @property
    def detection_id(self) -> str:
        """Same event, same id: the start time (ms) names it, whichever batch reports it."""
        key = "|".join([self.session_id, self.entity_id, self.detector, self.kind, self.channel or "",
                        f"{self.t_start:.3f}"])
        return hashlib.sha256(key.encode()).hexdigest()[:24]

    def to_row(self) -> dict:
        return {**asdict(self), "detection_id": self.detection_id, "score": round(float(self.score), 4)}


@dataclass
class Context:
    """Where a chunk comes from: identifiers, the session's declared channels, and the field (a
    ``detect.field.Timeline``: the field of the minutes before each sample's, or a ``Profile`` fixed in time;
    None where there is none)."""

    session_id: str
    entity_id: str
    channels: dict
    field: Timeline | Profile | None = None


def severity(score: float) -> Severity:
    if score >= 0.8:
        return "critical"
    return "warning" if score >= 0.5 else "info"
