"""The offline provider: the same records from the same facts, by a fixed template (no network, no cost).

It is the default where no OpenAI key is configured and the fallback when OpenAI fails; it tells the same
race story, and every statement carries the claims it rests on (the grounding check holds for it).
"""
from __future__ import annotations

from apexflow.insights.grounding import unit_of
from apexflow.insights.provider import Reply
from apexflow.insights.schema import DetectionExplanation, DriverInsight, SessionInsight, Statement, say

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
    name, model = "offline", "template-v3"

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
    about = _about(s)
    if story["podium"]:
        first = story["podium"][0]
        won = {"subject": first["driver"], "kind": "winner", "fact": "story.podium[0]"}
        headline = say(f"{name}: {first['driver']} wins" + (f" from P{first['grid']}." if first["grid"] else "."),
                       *about, won, *_grid(won, first))
    else:
        headline = say(f"{name} ({s['source']}): {s['drivers']} drivers, {s['laps']} laps.", *about,
                       {"kind": "session", "value": s["drivers"], "fact": "session"},
                       {"kind": "session", "value": s["laps"], "unit": "laps", "fact": "session"})
    lines = _story_lines(story, facts["neutralisations"])
    if facts["missing"]:
        lines.append(say("Not available: " + ", ".join(facts["missing"]) + "."))
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(facts["detections_by_kind"].items()))
    lines.append(say(f"Detections: {kinds or 'none'}.", *({"kind": "count", "value": n,
                                                           "fact": f"detections_by_kind.{k}"}
                                                          for k, n in facts["detections_by_kind"].items())))
    strat = facts["strategy"]
    strategy = []
    for i, w in enumerate(strat["pit_windows"]):
        at = {"subject": w["driver"], "kind": "pit_window", "fact": f"strategy.pit_windows[{i}]"}
        strategy.append(say(
            f"{w['driver']} stint {w['stint']} on {w['compound']}: {w['deg_s_per_lap']} s/lap, cliff at lap "
            f"{w['cliff_lap']}, " + (f"pitted on lap {w['pitted_lap']}." if w["pitted_lap"] else "ran to the flag."),
            {**at, "value": w["stint"]}, {**at, "value": w["deg_s_per_lap"], "unit": "s/lap"},
            {**at, "lap": w["cliff_lap"]}, *([{**at, "lap": w["pitted_lap"]}] if w["pitted_lap"] else [])))
    for i, u in enumerate(strat["undercuts"]):
        at = {"subject": u["by"], "kind": u["kind"], "fact": f"strategy.undercuts[{i}]"}
        strategy.append(say(f"{u['kind'].capitalize()}: {u['by']} ahead of {u['on']} (stops on laps {u['pitted_lap']}"
                            f" and {u['other_pitted_lap']}, {u['gap_before_s']} s apart before).",
                            {**at, "lap": u["pitted_lap"]}, {**at, "lap": u["other_pitted_lap"]},
                            {**at, "value": u["gap_before_s"], "unit": "s"}))
    risk = [say(f"{r['driver']}: " + ", ".join(_flag(f) for f in r["flags"]) + ".",
                {"subject": r["driver"], "kind": "at_risk", "fact": f"strategy.at_risk[{i}]"},
                *_flag_claims(r["driver"], f"strategy.at_risk[{i}].flags", r["flags"]))
            for i, r in enumerate(strat["at_risk"])]
    return SessionInsight(headline=headline, race_story=lines, strategy=strategy, cars_at_risk=risk)


def _about(session: dict) -> list[dict]:
    """Claims for the session's name: its year, and an event or session name with a number in it (``Practice 2``)."""
    out = [{"kind": "session", "value": session["year"], "fact": "session"}] if session.get("year") else []
    out += [{"kind": "session", "value": session[k], "fact": "session"} for k in ("event", "session")
            if any(ch.isdigit() for ch in str(session.get(k) or ""))]
    return out


def _grid(claim: dict, row: dict) -> list[dict]:
    return [{**claim, "value": row["grid"], "unit": "position"}] if row.get("grid") else []


def _story_lines(story: dict, neutral: list[dict]) -> list[Statement]:
    lines = []
    if story["podium"]:
        first, *rest = story["podium"]
        won = {"subject": first["driver"], "kind": "winner", "fact": "story.podium[0]"}
        lines.append(say(f"Winner: {first['driver']}" + (f" from P{first['grid']}" if first["grid"] else "")
                         + (", ahead of " + " and ".join(r["driver"] for r in rest) if rest else "") + ".",
                         won, *_grid(won, first),
                         *({"subject": r["driver"], "kind": "podium", "fact": f"story.podium[{i}]"}
                           for i, r in enumerate(rest, 1))))
    if neutral:
        claims = []
        for i, n in enumerate(neutral):
            at = {"kind": n["kind"], "fact": f"neutralisations[{i}]"}
            claims += [{**at, "lap": lap} for lap in (n["from_lap"], n["to_lap"]) if lap is not None]
            claims += [{**at, "value": n["seconds"], "unit": "s"}] if n["seconds"] is not None else [at]
        lines.append(say("Neutralised: " + ", ".join(
            f"{n['kind'].replace('_', ' ')} laps {n['from_lap']}-{n['to_lap']}"
            + (f" ({n['seconds']} s)" if n["seconds"] is not None else "") for n in neutral) + ".", *claims))
    if story["retirements"] or story["did_not_start"]:
        out = [f"{r['driver']} (lap {r['lap']}" + (f", {r['cause']}" if r["cause"] else "") + ")"
               for r in story["retirements"]]
        out += [f"{r['driver']} (did not start, {r['status']})" for r in story["did_not_start"]]
        lines.append(say("Retirements: " + ", ".join(out) + ".",
                         *({"subject": r["driver"], "kind": "retirement", "lap": r["lap"],
                            "fact": f"story.retirements[{i}]"} for i, r in enumerate(story["retirements"])),
                         *({"subject": r["driver"], "kind": "did_not_start", "fact": f"story.did_not_start[{i}]"}
                           for i, r in enumerate(story["did_not_start"]))))
    incidents = [("first-lap contact " if c["first_lap"] else "contact ") + "-".join(c["cars"]) + f" (lap {c['lap']})"
                 for c in story["contacts"]]
    incidents += [f"sudden damage {d['driver']} (lap {d['lap']}, {d['seconds_lost']} s lost, then {d['then']})"
                  for d in story["damage"]]
    incidents += [f"{d['kind'].replace('_', ' ')} {d['driver']} (lap {d['lap']})" for d in story["car_trouble"]]
    if incidents:
        lines.append(say("Incidents: " + "; ".join(incidents) + ".",
                         *({"subject": c["cars"][0], "kind": "contact", "lap": c["lap"], "fact": f"story.contacts[{i}]"}
                           for i, c in enumerate(story["contacts"])),
                         *({"subject": d["driver"], "kind": "sudden_damage", "lap": d["lap"],
                            "value": d["seconds_lost"], "unit": "s", "fact": f"story.damage[{i}]"}
                           for i, d in enumerate(story["damage"])),
                         *({"subject": d["driver"], "kind": d["kind"], "lap": d["lap"],
                            "fact": f"story.car_trouble[{i}]"} for i, d in enumerate(story["car_trouble"]))))
    if story["pitted_under_neutralisation"]:
        lines.append(say("Pitted under a safety car or VSC: " + ", ".join(story["pitted_under_neutralisation"]) + ".",
                         *({"subject": c, "kind": "pit_stop", "fact": f"story.pitted_under_neutralisation[{i}]"}
                           for i, c in enumerate(story["pitted_under_neutralisation"]))))
    for i, f in enumerate(story["fastest_lap"]):
        lines.append(say(f"Fastest lap: {f['driver']}, lap {f['lap']}, {_time(f['lap_time_s'])}.",
                         {"subject": f["driver"], "kind": "fastest_lap", "lap": f["lap"], "value": f["lap_time_s"],
                          "unit": "s", "fact": f"story.fastest_lap[{i}]"}))
    return lines


def _driver(facts: dict) -> DriverInsight:
    d = facts["driver"]
    code = d["driver"]
    me = {"subject": code, "kind": "driver", "fact": "driver"}
    head = f"{code} ({d['team'] or 'no team'})"
    team = [{**me, "value": d["team"]}] if d["team"] else []
    if d["retired_lap"] is not None:
        headline = say(f"{head}: retired on lap {d['retired_lap']}" + (f" ({d['status']})." if d["status"] else "."),
                       *team, {**me, "kind": "retirement", "lap": d["retired_lap"]})
    elif d["position"]:
        headline = say(f"{head}: P{d['position']}" + (f" from P{d['grid']}" if d["grid"] else "") + ".", *team,
                       {**me, "kind": "result", "value": d["position"], "unit": "position"},
                       *_grid({**me, "kind": "result"}, d))
    else:
        headline = say(f"{head}: {d['laps']} laps.", *team, {**me, "value": d["laps"], "unit": "laps"})
    points = []
    if d["median_green_lap_s"] is not None:
        pace = {**me, "kind": "pace"}
        points.append(say(f"Pace: median green lap {_time(d['median_green_lap_s'])}, "
                          f"{d['gap_to_field_s']:+.3f} s to the field's median; best {_time(d['best_lap_s'])} "
                          f"on lap {d['best_lap']}.",
                          {**pace, "value": d["median_green_lap_s"], "unit": "s"},
                          {**pace, "value": d["gap_to_field_s"], "unit": "s"},
                          {**pace, "value": d["best_lap_s"], "unit": "s", "lap": d["best_lap"]}))
    if d["stints"]:
        claims = []
        for i, s in enumerate(d["stints"]):
            at = {"subject": code, "kind": "stint", "fact": f"driver.stints[{i}]"}
            claims += [{**at, "lap": s["from_lap"]}, {**at, "lap": s["to_lap"]}]
            if s.get("deg_s_per_lap") is not None:
                claims.append({**at, "value": s["deg_s_per_lap"], "unit": "s/lap"})
        points.append(say("Stints: " + ", ".join(
            f"{s['compound'] or 'unknown compound'} laps {s['from_lap']}-{s['to_lap']}"
            + (f" ({s['deg_s_per_lap']} s/lap)" if s.get("deg_s_per_lap") is not None else "")
            for s in d["stints"]) + ".", *claims))
    if d["pit_stops"]:
        points.append(say("Pit stops: " + ", ".join(
            f"lap {p['lap']}" + (f" ({p['pit_lane_s']} s in the pit lane)" if p["pit_lane_s"] is not None else "")
            + (f" under the {p['under'].replace('_', ' ')}" if p["under"] else "") for p in d["pit_stops"]) + ".",
            *({"subject": code, "kind": "pit_stop", "lap": p["lap"], "value": p["pit_lane_s"],
               "unit": "s" if p["pit_lane_s"] is not None else None, "fact": f"driver.pit_stops[{i}]"}
              for i, p in enumerate(d["pit_stops"]))))
    if d["positions_gained"]:
        points.append(say(f"Positions: {abs(d['positions_gained'])} "
                          + ("gained" if d["positions_gained"] > 0 else "lost")
                          + f" from the grid, {d['overtakes']} overtakes on track.",
                          {**me, "kind": "result", "value": d["positions_gained"], "unit": "position"},
                          {**me, "value": d["overtakes"]}))
    points.append(say("Flags: " + ("; ".join(_flag(f) for f in d["flags"]) or "none") + ".",
                      *_flag_claims(code, "driver.flags", d["flags"])))
    return DriverInsight(headline=headline, points=points)


def _flag(f: dict) -> str:
    return f"{f['kind']} ({f['severity']}" + (f", lap {f['lap']})" if f["lap"] is not None else ")")


def _flag_claims(code: str, path: str, flags: list[dict]) -> list[dict]:
    return [{"subject": code, "kind": f["kind"], "lap": f["lap"], "fact": f"{path}[{i}]"} for i, f in enumerate(flags)]


def _detection(facts: dict) -> DetectionExplanation:
    d = facts["detection"]
    who = d["driver"] or "the session"
    at = {"subject": d["driver"] or None, "kind": d["kind"], "fact": "detection"}
    what = say(f"{d['kind'].replace('_', ' ').capitalize()} ({d['severity']}) for {who}" + (
        f" on lap {d['lap']}." if d["lap"] is not None else "."), {**at, "lap": d["lap"]})
    units = d.get("units", {})
    evidence = [say(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                    + (f" {units[k]}" if k in units else ""), at,
                    *({**at, "value": x, "unit": None if isinstance(x, str) else units.get(k) or unit_of(k)}
                      for x in (v if isinstance(v, list) else [v]) if not isinstance(x, bool)))
                for k, v in d["evidence"].items()]
    return DetectionExplanation.model_validate({"what_happened": what, "evidence": evidence,  # checks: bare text
                                                "what_to_check": CHECKS.get(d["kind"], GENERIC_CHECKS)})
