"""Insight summaries of a session and of each entity, written from what is stored.

``facts_for`` gathers the numbers a summary may use; a *provider* turns them into prose.
``OfflineProvider`` is deterministic and needs no network (local mode, tests); an LLM
provider implements the same ``write(scope, facts) -> str``.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from typing import Protocol

PROMPT_VERSION = "1"


class Provider(Protocol):
    name: str
    model: str

    def write(self, scope: str, facts: dict) -> str: ...


def facts_for(overview: dict, entity_id: str | None = None) -> dict:
    """The facts behind one summary: the session's, or one entity's."""
    dets = overview["detections"]
    if entity_id is None:
        return {"session": overview["identity"], "source": overview["source"], "start_time": overview["start_time"],
                "entities": len(overview["entities"]), "samples": overview["samples"],
                "missing": overview["missing"],
                "detections_by_kind": dict(sorted(Counter(d["kind"] for d in dets).items())),
                "most_affected": Counter(d["entity_id"] for d in dets).most_common(3),
                "critical": [_brief(d) for d in dets if d["severity"] == "critical"][:10]}
    entity = next(e for e in overview["entities"] if e["entity_id"] == entity_id)
    return {**entity, "detections": [_brief(d) for d in dets if d["entity_id"] == entity_id]}


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
                     f"Detections: {kinds}."]
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
