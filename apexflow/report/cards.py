"""What the report writes in words: the story from the session summary, the source's gaps in one line, and each
critical detection as sentences, in the order they happened."""
from __future__ import annotations

import re
from datetime import datetime

STREAMS = {"car_data": "car telemetry", "position_data": "car positions", "weather": "weather",
           "race_control_messages": "race-control messages", "track_status": "track status", "laps": "lap timing",
           "session_info": "session info", "driver_info": "driver names", "results": "results"}


def lacking(streams: list[str]) -> str:
    """``car telemetry, car positions and weather``: what the source did not give, in words."""
    words = [STREAMS.get(s, s.replace("_", " ")) for s in streams]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def story(summary: str) -> tuple[list[str], str]:
    """(the leading sentences, the rest): the lead runs to the first blank line, section heading or list."""
    lines = summary.strip().splitlines()
    for i, line in enumerate(lines):
        if not line.strip() or line.rstrip().endswith(":") or line.startswith((" ", "\t", "- ")):
            return [s for s in lines[:i] if s.strip()], "\n".join(lines[i:]).strip()
    return lines, ""


def _number(value, digits: int = 1) -> str:
    return f"{float(value):.{digits}f}"


def _sentence(d: dict, drivers: list[str]) -> str:
    """One detection, said the way an engineer would, from its evidence (its description where no template)."""
    e, who, lap = d["Evidence"] or {}, " and ".join(drivers) or "The session", d["Lap"]
    on_lap = f" on lap {lap}" if lap else ""
    try:
        match d["Kind"]:
            case "incident":
                return (f"{who} slowed to {_number(e['min_speed'], 0)} km/h {_number(e['distance'], 0)} m into lap "
                        f"{lap}, where the field ran {_number(e['field_speed'], 0)} km/h.")
            case "slow_puncture":
                laps, deltas = e["laps"], e["deltas"]
                then = f" and pitted on lap {e['pit_lap']}" if e.get("pit_lap") else ""
                return (f"{who} lost more time every lap from lap {laps[0]} to lap {laps[-1]} "
                        f"({_number(deltas[0])} s growing to {_number(deltas[-1])} s): a slow puncture{then}.")
            case "tyre_degradation":
                cliff = ("past the cliff" if e.get("crossed")
                         else f"{_number(e['laps_to_cliff'], 0)} laps from the cliff")
                return (f"{who}'s {str(e['compound']).lower()} tyres lost {_number(e['fall_off_s'])} s over "
                        f"{e['clean_laps']} clean laps ({_number(e['slope_s_per_lap'], 2)} s a lap), {cliff}"
                        f"{on_lap}.")
            case "throttle_brake_overlap":
                return (f"{who} had throttle and brake applied together for {_number(e['seconds'])} s{on_lap} "
                        f"({e.get('why') or 'overlap'}).")
            case "sudden_damage":
                then = {"pit_stop": ", then pitted", "retirement": ", then retired"}.get(e.get("then") or "", "")
                return f"{who} lost {_number(e['seconds_lost'])} s in one lap{on_lap}{then}."
            case "retirement":
                where = " in the pits" if e.get("in_pits") else ""
                return f"{who} retired{on_lap}{where}, running P{e['position']}."
            case "contact":
                told = e.get("race_control") or []
                return f"Contact between {' and '.join(e['cars'])}{on_lap}." + (
                    f" Race control: “{told[0]}”." if told else "")
            case "red_flag":
                return f"Red flag{on_lap}, the session stopped for {_number(e['seconds'], 0)} s."
    except (KeyError, IndexError, TypeError, ValueError):
        pass
    return f"{d['Description'] or d['Detection']}{'' if d['Description'] else f' for {who}{on_lap}'}."


def _explanation(insight: str | None) -> str:
    """The insight's own words without its key: value evidence block (the sentence states the evidence)."""
    if not insight:
        return ""
    said, block = [], None
    for line in insight.strip().splitlines():
        if re.fullmatch(r"[A-Z][\w ]*:", line.strip()):
            block = line.strip()[:-1]
            if block != "Evidence":
                said.append(block + ":")
        elif line.startswith((" ", "\t", "- ")) and block:
            if block != "Evidence":
                said.append(line.strip(" -\t") + ";")
        elif not re.match(r"^[\w ]+\((critical|warning|info)\) for ", line):  # the headline the card repeats
            block = None
            said.append(line.strip())
    text = " ".join(said).replace(":;", ":")
    return re.sub(r";(\s*$|\s+(?=[A-Z]))", r".\1", text).strip()


def place(detections: list[dict], lap_starts: dict[tuple[str, int], datetime]) -> None:
    """Each detection's ``At``: its start, or the start of its lap when that is later (a stint's wear is found
    at the stint's start, but it is told on the lap it was seen)."""
    for d in detections:
        d["At"] = max(filter(None, (d["Start Time"], lap_starts.get((d["Driver"], d["Lap"])))))


def critical(detections: list[dict]) -> list[dict]:
    """Critical detections (``place``d) as cards (when, lap, who, sentence, explanation) in the order they
    happened; one event seen by several cars (a contact) is one card."""
    cards: dict[tuple, dict] = {}
    for d in detections:
        if d["Severity"] != "critical":
            continue
        key = (d["Kind"], d["Lap"], d["Description"]) if d["Kind"] == "contact" else (d["Detection Key"],)
        card = cards.setdefault(key, {"at": d["At"], "lap": d["Lap"], "drivers": [], "detections": []})
        card["at"] = min(card["at"], d["At"])
        if d["Driver"]:
            card["drivers"].append(d["Driver"])
        card["detections"].append(d)
    for card in cards.values():
        first = card["detections"][0]
        card["sentence"] = _sentence(first, card["drivers"])
        said = dict.fromkeys(filter(None, (_explanation(d["Insight"]) for d in card["detections"])))
        card["explanation"] = " ".join(said)
        card["title"] = first["Detection"]
    return sorted(cards.values(), key=lambda c: (c["at"], c["drivers"]))
