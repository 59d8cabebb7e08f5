"""The offline provider: the same records from the same facts, by a fixed template (no network, no cost).

It is the default where no OpenAI key is configured and the fallback when OpenAI fails; it tells the same
race story, and every number it writes is taken from the facts (the grounding check holds for it).
"""
from __future__ import annotations

from apexflow.insights import story
from apexflow.insights.provider import Reply
from apexflow.insights.schema import DetectionExplanation, DriverInsight, SessionInsight

CHECKS = {  # what an engineer looks at next, per kind of critical detection
    "retirement": ["the car's last laps and sectors for a loss before it stopped", "race control messages"],
    "did_not_start": ["the team's and race control's messages before the start"],
    "contact": ["onboard and sector times of both cars on that lap", "damage on the following laps"],
    "sudden_damage": ["the lap's sectors against the car's usual", "what the pit stop that followed changed"],
    "tyre_degradation": ["the stint's lap times against tyre life", "tyre temperatures and pressures"],
    "slow_puncture": ["lap times drifting up through the stint", "the tyre at the next stop"],
    "power_loss": ["top speed in each half of the lap against the car's usual", "power unit channels"],
    "incident": ["speed, brake and throttle around the moment", "the car's laps after it"],
    "red_flag": ["race control messages", "the restart order and tyre choices"],
}
GENERIC_CHECKS = ["the channels and laps named in the evidence", "race control messages on that lap"]


class OfflineProvider:
    name, model = "offline", "template-v2"

    def write(self, scope: str, facts: dict, feedback: str | None = None) -> Reply:
        return Reply({"session": _session, "driver": _driver, "detection": _detection}[scope](facts))


def _time(seconds) -> str:
    if seconds is None:
        return "n/a"
    m, s = divmod(float(seconds), 60)
    return f"{int(m)}:{s:06.3f}"


def _session(facts: dict) -> SessionInsight:
    """The headline, then the story in the order it happened (``story.tell``: each sentence with its claims), the
    incidents, what the source lacked and the detections; strategy; cars at risk (only while the session runs)."""
    lines = [s["text"] for s in story.tell(facts)]
    lines += _incident_lines(facts.get("story") or {})
    if facts["missing"]:
        lines.append("Not available: " + ", ".join(facts["missing"]) + ".")
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(facts["detections_by_kind"].items()))
    lines.append(f"Detections: {kinds or 'none'}.")
    strat = facts["strategy"]
    strategy = [f"{story.who(w['driver'])} stint {w['stint']} on {w['compound']}: {w['deg_s_per_lap']} s/lap, cliff at lap "
                f"{w['cliff_lap']}, " + (f"pitted on lap {w['pitted_lap']}." if w["pitted_lap"] else
                                         f"on that set until retiring on lap {w['retired_lap']}."
                                         if w.get("retired_lap") else "still on that set at the end.")
                for w in strat["pit_windows"]]
    strategy += [f"{u['kind'].capitalize()}: {story.who(u['by'])} ahead of {story.who(u['on'])} (stops on laps {u['pitted_lap']} and "
                 f"{u['other_pitted_lap']}, {u['gap_before_s']} s apart before)." for u in strat["undercuts"]]
    strategy += [f"{d['compound']}: median wear {d['median_s_per_lap']} s/lap over {d['stints']} stints"
                 + "".join(f"; {story.who(p['drivers'][0])} {p['deg_s_per_lap'][0]} against {story.who(p['drivers'][1])} "
                           f"{p['deg_s_per_lap'][1]} s/lap" for p in d["team_mates"]) + "."
                 for d in strat.get("degradation", [])]
    risk = [f"{story.who(r['driver'])}: " + ", ".join(_flag(f) for f in r["flags"]) + "." for r in strat["at_risk"]]
    return SessionInsight(headline=story.headline(facts)["text"], race_story=lines, strategy=strategy,
                          cars_at_risk=risk)


def _incident_lines(st: dict) -> list[str]:
    lines = []
    incidents = [("first-lap contact " if c["first_lap"] else "contact ") + "-".join(c["drivers"])
                 + f" (lap {c['lap']})" for c in st.get("contacts", [])]
    incidents += [f"sudden damage {d['driver']} (lap {d['lap']}, {d['seconds_lost']} s lost, then {d['then']})"
                  for d in st.get("damage", [])]
    incidents += [f"{d['kind'].replace('_', ' ')} {d['driver']} (lap {d['lap']})" for d in st.get("car_trouble", [])]
    if incidents:
        lines.append("Incidents: " + "; ".join(incidents) + ".")
    if st.get("pitted_under_neutralisation"):
        lines.append("Pitted under a safety car or VSC: " + ", ".join(st["pitted_under_neutralisation"]) + ".")
    return lines


def _driver(facts: dict) -> DriverInsight:
    d = facts["driver"]
    head = f"{story.who(d['driver'])} ({d['team'] or 'no team'})"
    said = d.get("incident")
    after = (f" after an incident involving {' and '.join(said['drivers'])}"
             + (f" at {said['where'].lower()}" if said.get("where") else "")
             + (f" ({said['reason'].lower()})" if said.get("reason") else "")) if said else ""
    if d.get("did_not_start"):
        headline = f"{head}: did not start{after}" + (f" ({d['status']})." if d["status"] and not said else ".")
    elif d["retired_lap"] is not None:
        headline = f"{head}: retired on lap {d['retired_lap']}{after}" + (
            f" ({d['status']})." if d["status"] and not said else ".")
    elif d["position"]:
        headline = f"{head}: P{d['position']}" + (f" from P{d['grid']}" if d["grid"] else "") + "."
    else:
        headline = f"{head}: {d['laps']} laps."
    points = []
    if d["median_green_lap_s"] is not None:
        points.append(f"Pace: median green lap {_time(d['median_green_lap_s'])}, "
                      f"{d['gap_to_field_s']:+.3f} s to the field's median; best {_time(d['best_lap_s'])} "
                      f"on lap {d['best_lap']}.")
    if d["stints"]:
        points.append("Stints: " + ", ".join(
            f"{s['compound'] or 'unknown compound'} laps {s['from_lap']}-{s['to_lap']}"
            + (f" ({s['deg_s_per_lap']} s/lap)" if s.get("deg_s_per_lap") is not None else "")
            for s in d["stints"]) + ".")
    if d["pit_stops"]:
        points.append("Pit stops: " + ", ".join(
            f"lap {p['lap']}" + (f" ({p['pit_lane_s']} s in the pit lane)" if p["pit_lane_s"] is not None else "")
            + (" from the lead" if p.get("position_before") == 1 else
               f" from P{p['position_before']}, {p['gap_to_leader_s']:.3f} s behind the leader"
               if p.get("position_before") and p.get("gap_to_leader_s") is not None else "")
            + (f", {p['compound_in']} {p['tyre_age_in']} laps old for {'new' if p['new_set'] else 'used'} "
               f"{p['compound_out']}" if p.get("compound_out") and p.get("tyre_age_in") is not None
               and p.get("new_set") is not None else "")
            + (" (no tyres changed)" if p.get("tyres_changed") is False and p.get("compound_in") else "")
            + (f" under the {p['under'].replace('_', ' ')}" if p["under"] else "") for p in d["pit_stops"]) + ".")
    if d["positions_gained"]:
        points.append(f"Positions: {abs(d['positions_gained'])} " + ("gained" if d["positions_gained"] > 0 else "lost")
                      + f" from the grid, {d['overtakes']} overtakes on track.")
    points.append("Flags: " + ("; ".join(_flag(f) for f in d["flags"]) or "none") + ".")
    return DriverInsight(headline=headline, points=points)


def _flag(f: dict) -> str:
    return f"{f['kind']} ({f['severity']}" + (f", lap {f['lap']})" if f["lap"] is not None else ")")


def _detection(facts: dict) -> DetectionExplanation:
    d = facts["detection"]
    who = d["driver"] or "the session"
    what = f"{d['kind'].replace('_', ' ').capitalize()} ({d['severity']}) for {who}" + (
        f" on lap {d['lap']}." if d["lap"] is not None else ".")
    units = d.get("units", {})
    evidence = [f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" + (f" {units[k]}" if k in units else "")
                for k, v in d["evidence"].items()]
    return DetectionExplanation(what_happened=what, evidence=evidence,
                                what_to_check=CHECKS.get(d["kind"], GENERIC_CHECKS))
