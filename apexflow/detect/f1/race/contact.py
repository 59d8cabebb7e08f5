"""Contact: two or more cars losing big time or stopping on the same lap, at the same place.

From timing alone: cars whose big losses (``incidents``) are on the same lap and in the same
sector, entered within ``SAME_PLACE_S`` of each other, and a car that stopped on track on a lap it
started within ``SAME_PLACE_S`` of another car that lost big time or stopped on that lap. The first lap is flagged
(``first_lap``): a standing start packs the field. Race control's messages naming two of the
cars are added as evidence, and a collision race control names (``INCIDENT INVOLVING CARS
... COLLISION``) is reported when one of its cars lost big time or stopped (on track or in the
pit lane) in the laps before.
"""
from __future__ import annotations

import re

from apexflow.detect.base import Detection
from apexflow.detect.f1.lap import VERSION
from apexflow.detect.f1.race.losses import SectorLoss
from apexflow.detect.f1.race.retirements import Retirement

SAME_PLACE_S = 10.0   # cars this close together on track (entering the sector, or the lap) are at one place
MESSAGE_LAPS = 3      # race control names an incident up to this many laps after it
_CARS = re.compile(r"\b\d+ \(([A-Z][A-Z0-9]{2})\)")  # "CARS 30 (LAW) AND 14 (ALO)"


def _events(hits: list[SectorLoss], retired: list[Retirement], in_pits: bool = False) -> list[dict]:
    """Big losses and stops on track (and in the pit lane with ``in_pits``), in time order."""
    out = [{"driver": h.driver, "lap": h.lap, "lap_start": h.lap_start, "start": h.start, "end": h.end,
            "sector": h.sector, "seconds_lost": round(h.seconds, 3)} for h in hits]
    out += [{"driver": r.driver, "lap": r.lap, "lap_start": r.lap_start, "start": r.last_seen, "end": r.last_seen,
             "sector": None, "retired": True} for r in retired if in_pits or not r.in_pits]
    return sorted(out, key=lambda e: (e["start"], e["driver"]))


def _same_place(a: dict, b: dict) -> bool:
    if a["driver"] == b["driver"] or a["lap"] != b["lap"]:
        return False
    if a["sector"] is not None and b["sector"] is not None:
        return a["sector"] == b["sector"] and abs(a["start"] - b["start"]) <= SAME_PLACE_S
    return abs(a["lap_start"] - b["lap_start"]) <= SAME_PLACE_S  # a stop: where in the lap is unknown


def _groups(events: list[dict]) -> list[list[dict]]:
    parent = list(range(len(events)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, a in enumerate(events):
        for j in range(i + 1, len(events)):
            if _same_place(a, events[j]):
                parent[root(j)] = root(i)
    groups: dict[int, list[dict]] = {}
    for i, e in enumerate(events):
        groups.setdefault(root(i), []).append(e)
    return [g for g in groups.values() if len({e["driver"] for e in g}) >= 2]


def _named(messages: list[dict]) -> list[tuple[dict, list[str]]]:
    return [(m, _CARS.findall(str(m.get("Message") or ""))) for m in messages
            if "INCIDENT INVOLVING CARS" in str(m.get("Message") or "")]


def contacts(session_id: str, hits: list[SectorLoss], retired: list[Retirement],
             messages: list[dict]) -> list[Detection]:
    groups = _groups(_events(hits, retired))
    signs_of = _events(hits, retired, in_pits=True)
    named = _named(messages)
    covered = {frozenset(e["driver"] for e in g) for g in groups}
    for m, cars in named:  # collisions race control names, with a sign of them in the timing
        lap = m.get("Lap")
        if "COLLISION" not in str(m.get("Message")) or len(cars) < 2 or lap is None \
                or any(set(cars) <= c for c in covered):
            continue
        signs = [e for e in signs_of if e["driver"] in cars and int(lap) - MESSAGE_LAPS <= e["lap"] <= int(lap)]
        if signs:
            first = min(signs, key=lambda e: e["start"])
            groups.append([first] + [{**first, "driver": c, "named_only": True, "retired": False,
                                      "seconds_lost": None} for c in cars if c != first["driver"]])
            covered.add(frozenset(cars))
    out = []
    for g in groups:
        cars = sorted({e["driver"] for e in g})
        said = [str(m["Message"]) for m, named_cars in named if len(set(named_cars) & set(cars)) >= 2]
        lap = min(e["lap"] for e in g)
        for driver in cars:
            e = min((e for e in g if e["driver"] == driver), key=lambda e: e["start"])
            out.append(Detection(session_id, driver, "contact", "critical", 0.9, e["start"], e["end"], "contact",
                                 VERSION, lap=lap,
                                 evidence={"cars": cars, "with": [c for c in cars if c != driver],
                                           "first_lap": lap == 1, "sector": e["sector"],
                                           "seconds_lost": e.get("seconds_lost"), "retired": bool(e.get("retired")),
                                           "seen_in_timing": not e.get("named_only"), "race_control": said}))
    return out
