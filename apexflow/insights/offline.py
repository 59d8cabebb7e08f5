"""The offline provider: the same records from the same facts, by a fixed template (no network, no cost).

It is the default where no OpenAI key is configured and the fallback when OpenAI fails; it tells the same
race story, and every number it writes is taken from the facts (the grounding check holds for it).
"""
from __future__ import annotations

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
    s, story = facts["session"], facts["story"]
    name = " ".join(str(x) for x in (s.get("year"), s.get("event"), s.get("session")) if x)
    if story["podium"]:
        first = story["podium"][0]
        headline = f"{name}: {first['driver']} wins" + (f" from P{first['grid']}." if first["grid"] else ".")
    else:
        headline = f"{name} ({s['source']}): {s['drivers']} drivers, {s['laps']} laps."
    lines = _story_lines(story, facts["neutralisations"])
    if facts["missing"]:
        lines.append("Not available: " + ", ".join(facts["missing"]) + ".")
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(facts["detections_by_kind"].items()))
    lines.append(f"Detections: {kinds or 'none'}.")
    strat = facts["strategy"]
    strategy = [f"{w['driver']} stint {w['stint']} on {w['compound']}: {w['deg_s_per_lap']} s/lap, cliff at lap "
                f"{w['cliff_lap']}, " + (f"pitted on lap {w['pitted_lap']}." if w["pitted_lap"] else "ran to the flag.")
                for w in strat["pit_windows"]]
    strategy += [f"{u['kind'].capitalize()}: {u['by']} ahead of {u['on']} (stops on laps {u['pitted_lap']} and "
                 f"{u['other_pitted_lap']}, {u['gap_before_s']} s apart before)." for u in strat["undercuts"]]
    risk = [f"{r['driver']}: " + ", ".join(_flag(f) for f in r["flags"]) + "." for r in strat["at_risk"]]
    return SessionInsight(headline=headline, race_story=lines, strategy=strategy, cars_at_risk=risk)


def _story_lines(story: dict, neutral: list[dict]) -> list[str]:
    lines = []
    if story["podium"]:
        first, *rest = story["podium"]
        lines.append(f"Winner: {first['driver']}" + (f" from P{first['grid']}" if first["grid"] else "")
                     + (", ahead of " + " and ".join(r["driver"] for r in rest) if rest else "") + ".")
    if neutral:
        lines.append("Neutralised: " + ", ".join(
            f"{n['kind'].replace('_', ' ')} laps {n['from_lap']}-{n['to_lap']}"
            + (f" ({n['seconds']} s)" if n["seconds"] is not None else "") for n in neutral) + ".")
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
        lines.append(f"Fastest lap: {f['driver']}, lap {f['lap']}, {_time(f['lap_time_s'])}.")
    return lines


def _driver(facts: dict) -> DriverInsight:
    d = facts["driver"]
    head = f"{d['driver']} ({d['team'] or 'no team'})"
    if d["retired_lap"] is not None:
        headline = f"{head}: retired on lap {d['retired_lap']}" + (f" ({d['status']})." if d["status"] else ".")
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
