"""Race-control messages as facts: penalties, investigations and their outcome, deleted laps, cars stopped on track,
the start procedure (formation behind the safety car, a suspended, delayed or aborted start, pit-lane starts).

Every item is a dict with ``kind``, ``driver`` or ``drivers`` (driver codes), ``lap`` and named fields; the message's
own words stay a field (``reason``, ``where``), never part of an instruction. Messages of other series run on the
same weekend (F2, F3, ...) are skipped. Drivers are by code: "CAR 1 (VER)", or the car number mapped through the
results where a message gives only the number.
"""
from __future__ import annotations

import re
from typing import Any

OTHER_SERIES = re.compile(r"\b(F2|F3|F1 ACADEMY|PORSCHE|SUPERCUP|W SERIES)\b")
_CAR = re.compile(r"\b(\d{1,2})\s*\(([A-Z]{3})\)")
_CARS_BARE = re.compile(r"\bCARS?\s+((?:\d{1,2}(?:\s*,\s*|\s+AND\s+)?)+)")
_PENALTY = re.compile(r"(?:(\d+) SECOND TIME|DRIVE THROUGH|STOP AND GO|(\d+) PLACE GRID|(\d+) SECOND STOP AND GO)"
                      r" PENALTY FOR CARS? ")
_SERVED = re.compile(r"PENALTY SERVED")
_DELETED = re.compile(r"^CAR \d+(?: \([A-Z]{3}\))? (?:TIME ([\d:.]+) |LAP )DELETED - (.+?)(?: AT TURN (\d+))?"
                      r"(?: \(NEXT LAP\))?(?: LAP (\d+))?(?: \d\d:\d\d:\d\d)?\s*$")
_REINSTATED = re.compile(r"^CAR \d+(?: \([A-Z]{3}\))? TIME ([\d:.]+) WILL BE REINSTATED")
_INCIDENT = re.compile(r"^(?:FIA STEWARDS: )?(?:CORRECTION: )?(.*?)\bINCIDENT INVOLVING CARS? (.+?)(?: (NOTED|UNDER "
                       r"INVESTIGATION|WILL BE INVESTIGATED AFTER THE \w+|REVIEWED NO FURTHER INVESTIGATION|NO FURTHER "
                       r"ACTION|NO FURTHER INVESTIGATION))\s*(?:-\s*(.*?))?\s*$")
_STOPPED = re.compile(r"^CAR \d+(?: \([A-Z]{3}\))? (STOPPED|CRASHED|SPUN|OFF TRACK)(?: AND CONTINUED)?"
                      r"(?: AT (.+?))?\s*$")
_PIT_START = re.compile(r"(?:WILL START FROM|START FROM|STARTS? FROM) THE PIT ?LANE|PIT ?LANE START")
# what a stewards' message can say of an incident, in the order it goes
OUTCOMES = {"NOTED": "noted", "UNDER INVESTIGATION": "under investigation",
            "REVIEWED NO FURTHER INVESTIGATION": "no further investigation",
            "NO FURTHER INVESTIGATION": "no further investigation", "NO FURTHER ACTION": "no further action"}
# incidents that cannot have caused a neutralisation
NOT_A_CAUSE = re.compile(r"PIT|IMPEDING|TRACK LIMITS|FALSE START|STARTING PROCEDURE|SAFETY CAR PROCEDURE|UNSAFE "
                         r"RELEASE|MAXIMUM DELTA|DOUBLE YELLOW|SPEEDING|INSTRUCTIONS")


def parse(messages: list[dict], results: list[dict] | None = None, finished: bool = True) -> dict:
    """The race-control facts of a session from its messages (``Time`` in session seconds, ``Lap``, ``Message``,
    ``Category``), with ``results`` mapping car numbers to codes."""
    numbers = {str(r.get("DriverNumber")): r.get("Driver") or r.get("Abbreviation") for r in results or []
               if r.get("DriverNumber") is not None}
    msgs = [m for m in sorted(messages, key=lambda m: (_time(m) is None, _time(m) or 0.0))
            if m.get("Message") and not OTHER_SERIES.search(_text(m))]
    penalties, deleted, stopped, start = [], [], [], []
    investigations: dict[tuple[tuple[str, ...], str], dict[str, Any]] = {}  # by (cars, where)
    for m in msgs:
        text, lap, t = _text(m), _lap(m), _time(m)
        drivers = _drivers(text, numbers)
        if (p := _PENALTY.search(text)) and not _SERVED.search(text):
            seconds, places, stop_go = p.group(1), p.group(2), p.group(3)
            kind = ("time" if seconds else "grid" if places else "stop_go" if stop_go or "STOP AND GO" in text
                    else "drive_through")
            penalties += [{"kind": "penalty", "driver": d, "lap": lap, "t": t, "penalty": kind,
                           "seconds": int(seconds or stop_go) if seconds or stop_go else None,
                           "places": int(places) if places else None, "reason": _reason(text), "status": "pending"}
                          for d in drivers]
        elif _SERVED.search(text):
            for pen in penalties:
                if pen["driver"] in drivers and pen["status"] == "pending":
                    pen["status"], pen["served_lap"] = "served", lap
        elif d := _DELETED.match(text):
            deleted += [{"kind": "deleted_lap", "driver": drv, "lap": int(d.group(4)) if d.group(4) else lap,
                         "lap_time_s": _seconds(d.group(1)), "reason": d.group(2).strip().lower(),
                         "turn": int(d.group(3)) if d.group(3) else None, "reinstated": False} for drv in drivers]
        elif r := _REINSTATED.match(text):
            for item in deleted:
                if item["driver"] in drivers and item["lap_time_s"] == _seconds(r.group(1)):
                    item["reinstated"] = True
        elif i := _INCIDENT.match(text):
            where, said, reason = i.group(1).strip(" -:") or None, i.group(3), (i.group(4) or "").strip() or None
            key = (tuple(sorted(drivers)), (where or "").replace("LAP 1 ", ""))
            item = investigations.setdefault(key, {"kind": "investigation", "drivers": drivers, "lap": lap, "t": t,
                                                   "where": where, "reason": reason, "outcome": "noted"})
            item["reason"] = reason or item["reason"]
            item["outcome"] = ("investigated after the session" if said.startswith("WILL BE INVESTIGATED")
                               else OUTCOMES[said] if said in OUTCOMES else item["outcome"])
        elif s := _STOPPED.match(text):
            stopped += [{"kind": "car_event", "driver": drv, "lap": lap, "t": t, "what": s.group(1).lower(),
                         "where": s.group(2)} for drv in drivers]
        if start_item := _start(text, lap, t, drivers):
            start.append(start_item)
    for inv in investigations.values():  # an investigation ends in the penalty given for its reason
        given = next((p for p in penalties if p["driver"] in inv["drivers"] and p["t"] >= inv["t"]
                      and (not inv["reason"] or p["reason"] == inv["reason"])), None)
        if given is not None:
            inv["outcome"], inv["penalised"] = "penalty", given["driver"]
    for pen in penalties:
        if pen["status"] == "pending" and finished:
            pen["status"] = {"time": "added to race time", "grid": "at the next race"}.get(pen["penalty"], "pending")
    return {"penalties": penalties, "investigations": list(investigations.values()),
            "deleted_laps": [d for d in deleted if not d["reinstated"]], "car_events": stopped, "start": start}


def causes(rc: dict, t_start: float, before_s: float = 180.0, after_s: float = 300.0) -> list[dict]:
    """What race control reported around ``t_start`` (a neutralisation's start) that could have caused it: cars
    stopped or crashed, and on-track incidents (not pit-lane, track-limits or procedure matters), nearest first."""
    found = [{"drivers": [e["driver"]], "lap": e["lap"], "what": e["what"], "where": e["where"], "t": e["t"]}
             for e in rc["car_events"] if e["what"] in ("stopped", "crashed")]
    found += [{"drivers": i["drivers"], "lap": i["lap"], "what": "incident", "where": i["where"],
               "reason": i["reason"], "t": i["t"]} for i in rc["investigations"]
              if not NOT_A_CAUSE.search(f"{i['where'] or ''} {i['reason'] or ''}")]
    near = [c for c in found if c["t"] is not None and t_start - before_s <= c["t"] <= t_start + after_s]
    return sorted(near, key=lambda c: abs(c["t"] - t_start))


def _start(text: str, lap, t, drivers) -> dict | None:
    if "FORMATION LAP" in text and "BEHIND THE SAFETY CAR" in text:
        what = "the formation lap behind the safety car"
    elif "STARTING PROCEDURE SUSPENDED" in text:
        what = "the start procedure suspended"
    elif "ABORTED START" in text:
        what = "aborted start"
    elif "EXTRA FORMATION LAP" in text:
        what = "extra formation lap"
    elif re.search(r"\bSTART\b.*\bDELAYED\b|\bDELAYED START\b", text) and not re.search(r"\b[SQ]\d\b", text):
        what = "start delayed"
    elif text.strip() in ("STANDING START", "ROLLING START"):
        what = text.strip().lower()
    elif _PIT_START.search(text) and drivers:
        return {"kind": "pit_lane_start", "drivers": drivers, "lap": lap, "t": t}
    else:
        return None
    return {"kind": "start_procedure", "what": what, "lap": lap, "t": t}


def _drivers(text: str, numbers: dict) -> list[str]:
    codes = [code for _, code in _CAR.findall(text)]
    if codes:
        return list(dict.fromkeys(codes))
    bare = _CARS_BARE.search(text)
    nums = re.findall(r"\d+", bare.group(1)) if bare else []
    return list(dict.fromkeys(numbers[n] for n in nums if numbers.get(n)))


def _reason(text: str) -> str | None:
    tail = text.rsplit(" - ", 1)
    return tail[1].strip() if len(tail) == 2 else None


def _seconds(text: str | None) -> float | None:
    if not text:
        return None
    m, _, s = text.rpartition(":")
    return round(int(m or 0) * 60 + float(s), 3)


def _text(m: dict) -> str:
    return " ".join(str(m.get("Message") or "").upper().split())


def _time(m: dict):
    t = m.get("Time")
    return float(t) if isinstance(t, (int, float)) else None


def _lap(m: dict):
    lap = m.get("Lap")
    return int(lap) if isinstance(lap, (int, float)) else None
