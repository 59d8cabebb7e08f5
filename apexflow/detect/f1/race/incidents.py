"""Where a car lost big time: one sector far off its own pace and the field's (see ``losses``)."""
from __future__ import annotations

from apexflow.detect.f1.race.losses import SectorLoss

INCIDENT_S = 5.0      # a sector this much off the car's expected time ...
INCIDENT_SIGMA = 5.0  # ... and this many robust sigmas of the field's losses there


def is_incident(loss: SectorLoss) -> bool:
    return loss.seconds >= max(INCIDENT_S, INCIDENT_SIGMA * loss.spread)


def incidents(losses: dict[tuple[str, int], list[SectorLoss]]) -> list[SectorLoss]:
    """Every sector in which a car lost big time, in time order."""
    return sorted((x for cells in losses.values() for x in cells if is_incident(x)), key=lambda x: (x.start, x.driver))
