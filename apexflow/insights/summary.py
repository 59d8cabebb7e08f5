"""Insight summaries of a session and of each entity, written from what is stored.

``facts_for`` gathers the numbers a summary may use; a *provider* turns them into prose.
``OfflineProvider`` is deterministic and needs no network (local mode, tests); an LLM
provider implements the same ``write(scope, facts) -> str``.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from typing import Protocol

from apexflow.detect.base import SEVERITIES

PROMPT_VERSION = "2"
NEUTRALISATIONS = ("safety_car", "virtual_safety_car", "red_flag")


class Provider(Protocol):
    name: str
    model: str

    def write(self, scope: str, facts: dict) -> str: ...


def facts_for(overview: dict, entity_id: str | None = None) -> dict:
    """The facts behind one summary: the session's (its story first), or one entity's."""
    dets = overview["detections"]
    if entity_id is None:
        story = story_of(overview)
        told = {d["detection_id"] for d in dets if d["kind"] in STORY_KINDS}
        return {"session": overview["identity"], "source": overview["source"], "start_time": overview["start_time"],
                "entities": len(overview["entities"]), "samples": overview["samples"],
                "missing": overview["missing"], "story": story,
                "detections_by_kind": dict(sorted(Counter(d["kind"] for d in dets).items())),
                "most_affected": Counter(d["entity_id"] for d in dets
                                         if d["entity_id"] and d["severity"] != "info").most_common(3),
                "critical": [_brief(d) for d in dets
                             if d["severity"] == "critical" and d["detection_id"] not in told][:10]}
    entity = next(e for e in overview["entities"] if e["entity_id"] == entity_id)
    own = sorted((d for d in dets if d["entity_id"] == entity_id),
                 key=lambda d: (-SEVERITIES.index(d["severity"]), d["t_start"]))
    return {**entity, "detections": [_brief(d) for d in own]}  # most severe first, each in time order


CAR_TROUBLE = ("incident", "power_loss")  # from car telemetry, where the session has it
STORY_KINDS = frozenset({*NEUTRALISATIONS, *CAR_TROUBLE, "retirement", "did_not_start", "contact", "sudden_damage",
                         "fastest_lap"})


def story_of(overview: dict) -> dict:
    """What a race engineer tells first: the result, the neutralisations, who retired and why, the
    incidents (contact, sudden damage, and from car telemetry crashes and power losses), who pitted
    under a safety car or VSC, the fastest lap."""
    dets = overview["detections"]
    of = {k: [d for d in dets if d["kind"] == k] for k in STORY_KINDS}
    ranked = sorted((r for r in overview.get("results") or [] if isinstance(r.get("Position"), (int, float))),
                    key=lambda r: r["Position"])
    neutral = [d for k in NEUTRALISATIONS for d in of[k]]
    contacts: dict = {}
    for d in of["contact"]:
        contacts.setdefault((d["lap"], tuple(d["evidence"].get("cars", [d["entity_id"]]))), d)
    return {
        "podium": [{"driver": r.get("Driver"), "grid": r.get("GridPosition")} for r in ranked[:3]],
        "neutralisations": [{"kind": d["kind"], "t_start": round(d["t_start"], 1),
                             "seconds": d["evidence"].get("seconds")}
                            for d in sorted(neutral, key=lambda d: d["t_start"])],
        "retirements": [{"driver": d["entity_id"], "lap": d["lap"], "cause": d["evidence"].get("cause"),
                         "status": d["evidence"].get("status")} for d in of["retirement"]],
        "did_not_start": [{"driver": d["entity_id"], "status": d["evidence"].get("status")}
                          for d in of["did_not_start"]],
        "contacts": [{"lap": lap, "cars": list(cars), "first_lap": d["evidence"].get("first_lap")}
                     for (lap, cars), d in contacts.items()],
        "damage": [{"driver": d["entity_id"], "lap": d["lap"], "seconds_lost": d["evidence"].get("seconds_lost"),
                    "then": d["evidence"].get("then")} for d in of["sudden_damage"]],
        "car_trouble": [{"kind": d["kind"], "driver": d["entity_id"], "lap": d["lap"]}
                        for d in sorted((d for k in CAR_TROUBLE for d in of[k]), key=lambda d: d["t_start"])],
        "pitted_under_neutralisation": sorted({d["entity_id"] for d in dets if d["kind"] == "pit_stop" and any(
            n["kind"] != "red_flag" and n["t_start"] <= d["t_start"] <= n["t_end"] for n in neutral)}),
        "fastest_lap": [{"driver": d["entity_id"], "lap": d["lap"], "lap_time": d["evidence"].get("lap_time")}
                        for d in of["fastest_lap"]][:1],
    }


def _brief(d: dict) -> dict:
    return {"entity_id": d["entity_id"], "kind": d["kind"], "severity": d["severity"], "lap": d["lap"],
            "t_start": round(d["t_start"], 1), "channel": d["channel"]}


def _time(seconds) -> str:
    if seconds is None:
        return "n/a"
    m, s = divmod(float(seconds), 60)
    return f"{int(m)}:{s:06.3f}"


class OfflineProvider:
    """Plain-language summaries from a fixed template: same facts, same words."""

    name, model = "offline", "template-v1"

    def write(self, scope: str, facts: dict) -> str:
        if scope == "session":
            ident = facts["session"]
            kinds = ", ".join(f"{n} {k}" for k, n in facts["detections_by_kind"].items()) or "none"
            lines = [f"{ident.get('event', 'Session')} {ident.get('session', '')} ({facts['source']}): "
                     f"{facts['entities']} entities, {facts['samples']:,} samples analyzed.",
                     *_story_lines(facts["story"]), f"Detections: {kinds}."]
            if facts["most_affected"]:
                lines.append("Most affected: " + ", ".join(f"{e} ({n})" for e, n in facts["most_affected"]) + ".")
            for d in facts["critical"]:
                lines.append(f"Critical {d['kind']} for {d['entity_id']} on lap {d['lap']} at {d['t_start']} s.")
            if facts["missing"]:
                lines.append("Not available: " + ", ".join(sorted(facts["missing"])) + ".")
            return "\n".join(lines)
        text = (f"{facts['entity_id']} ({facts['team'] or 'no team'}): {facts['laps']} laps, best "
                f"{_time(facts['best_lap_time'])}, {facts['pit_stops']} pit stop(s), compounds "
                f"{', '.join(sorted(facts['compounds'])) or 'n/a'}.")
        if not facts["detections"]:
            return text + " No anomalies detected."
        by_kind = Counter(d["kind"] for d in facts["detections"])
        events = "; ".join(f"{d['kind']} ({d['severity']}) lap {d['lap']}" + (f" on {d['channel']}" if d["channel"]
                                                                                 else "")
                           for d in facts["detections"][:6])
        return text + f" {sum(by_kind.values())} detection(s): {events}."


def _story_lines(story: dict) -> list[str]:
    lines = []
    if story["podium"]:
        first, *rest = story["podium"]
        lines.append(f"Winner: {first['driver']}" + (f" from P{first['grid']}" if first["grid"] else "")
                     + (", ahead of " + " and ".join(r["driver"] for r in rest) if rest else "") + ".")
    if story["neutralisations"]:
        lines.append("Neutralised: " + ", ".join(
            f"{n['kind'].replace('_', ' ')} at {_time(n['t_start'])} for {_time(n['seconds'])}"
            for n in story["neutralisations"]) + ".")
    if story["retirements"] or story["did_not_start"]:
        out = [f"{r['driver']} (lap {r['lap']}" + (f", {r['cause']}" if r["cause"] else "") + ")"
               for r in story["retirements"]]
        out += [f"{r['driver']} (did not start, {r['status']})" for r in story["did_not_start"]]
        lines.append("Retirements: " + ", ".join(out) + ".")
    incidents = [("first-lap contact " if c["first_lap"] else "contact ") + "-".join(c["cars"]) + f" (lap {c['lap']})"
                 for c in story["contacts"]]
    incidents += [f"sudden damage {d['driver']} (lap {d['lap']}, {d['seconds_lost']} s lost, then {d['then']})"
                  for d in story["damage"]]
    incidents += [f"{d['kind'].replace('_', ' ')} {d['driver']} (lap {d['lap']})" for d in story["car_trouble"]]
    if incidents:
        lines.append("Incidents: " + "; ".join(incidents) + ".")
    if story["pitted_under_neutralisation"]:
        lines.append("Pitted under a safety car or VSC: " + ", ".join(story["pitted_under_neutralisation"]) + ".")
    for f in story["fastest_lap"]:
        lines.append(f"Fastest lap: {f['driver']}, lap {f['lap']}, {_time(f['lap_time'])}.")
    return lines


def insight_id(session_id: str, entity_id: str | None, provider: Provider) -> str:
    key = "|".join([session_id, entity_id or "", provider.name, provider.model, PROMPT_VERSION])
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def summarize(overview: dict, entity_id: str | None, provider: Provider) -> dict:
    """One insight row (see the ``insights`` table)."""
    facts = facts_for(overview, entity_id)
    return {"insight_id": insight_id(overview["session_id"], entity_id, provider),
            "session_id": overview["session_id"], "entity_id": entity_id, "provider": provider.name,
            "model": provider.model, "prompt_version": PROMPT_VERSION,
            "content": provider.write("session" if entity_id is None else "entity", facts), "facts": facts}
