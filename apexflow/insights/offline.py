"""The offline provider: the same records from the same facts, by a fixed template (no network, no cost).

It is the default where no OpenAI key is configured and the fallback when OpenAI fails; it tells the same
race story (``story.tell``), and every statement carries the claims it rests on (the grounding check holds for it).
"""
from __future__ import annotations

from apexflow.insights import story
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
    name, model = "offline", "template-v4"

    def write(self, scope: str, facts: dict, feedback: str | None = None) -> Reply:
        return Reply({"session": _session, "driver": _driver, "detection": _detection}[scope](facts))


def _time(seconds) -> str:
    if seconds is None:
        return "n/a"
    m, s = divmod(float(seconds), 60)
    return f"{int(m)}:{s:06.3f}"


def _said(sentence: dict) -> Statement:
    return say(sentence["text"], *sentence["claims"])


def _session(facts: dict) -> SessionInsight:
    """The headline, then the story in the order it happened (``story.tell``: each sentence with its claims), the
    incidents, what the source lacked and the detections; strategy; cars at risk (only while the session runs)."""
    lines = [_said(s) for s in story.tell(facts)]
    lines += _incident_lines(facts.get("story") or {})
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
        end = (f"pitted on lap {w['pitted_lap']}." if w["pitted_lap"] else
               f"on that set until retiring on lap {w['retired_lap']}." if w.get("retired_lap") else
               "still on that set at the end.")
        ends = [{**at, "lap": w[k]} for k in ("pitted_lap", "retired_lap") if w.get(k)][:1]
        strategy.append(say(
            f"{story.who(w['driver'])} stint {w['stint']} on {w['compound']}: {w['deg_s_per_lap']} s/lap, cliff at "
            f"lap {w['cliff_lap']}, " + end,
            {**at, "value": w["stint"]}, {**at, "value": w["deg_s_per_lap"], "unit": "s/lap"},
            {**at, "lap": w["cliff_lap"]}, *ends))
    for i, u in enumerate(strat["undercuts"]):
        at = {"subject": u["by"], "kind": u["kind"], "fact": f"strategy.undercuts[{i}]"}
        strategy.append(say(f"{u['kind'].capitalize()}: {story.who(u['by'])} ahead of {story.who(u['on'])} (stops on "
                            f"laps {u['pitted_lap']} and {u['other_pitted_lap']}, {u['gap_before_s']} s apart before).",
                            {**at, "lap": u["pitted_lap"]}, {**at, "lap": u["other_pitted_lap"]},
                            {**at, "value": u["gap_before_s"], "unit": "s"}))
    for i, d in enumerate(strat.get("degradation", [])):
        at = {"kind": "degradation", "fact": f"strategy.degradation[{i}]"}
        mates = [{**at, "subject": p["drivers"][j], "value": p["deg_s_per_lap"][j], "unit": "s/lap"}
                 for p in d["team_mates"] for j in (0, 1)]
        strategy.append(say(
            f"{d['compound']}: median wear {d['median_s_per_lap']} s/lap over {d['stints']} stints"
            + "".join(f"; {story.who(p['drivers'][0])} {p['deg_s_per_lap'][0]} against {story.who(p['drivers'][1])} "
                      f"{p['deg_s_per_lap'][1]} s/lap" for p in d["team_mates"]) + ".",
            {**at, "value": d["median_s_per_lap"], "unit": "s/lap"}, {**at, "value": d["stints"]}, *mates))
    risk = [say(f"{story.who(r['driver'])}: " + ", ".join(_flag(f) for f in r["flags"]) + ".",
                {"subject": r["driver"], "kind": "at_risk", "fact": f"strategy.at_risk[{i}]"},
                *_flag_claims(r["driver"], f"strategy.at_risk[{i}].flags", r["flags"]))
            for i, r in enumerate(strat["at_risk"])]
    return SessionInsight(headline=_said(story.headline(facts)), race_story=lines, strategy=strategy,
                          cars_at_risk=risk)


def _incident_lines(st: dict) -> list[Statement]:
    lines = []
    contacts, damage, trouble = st.get("contacts", []), st.get("damage", []), st.get("car_trouble", [])
    incidents = [("first-lap contact " if c["first_lap"] else "contact ") + "-".join(c["drivers"])
                 + f" (lap {c['lap']})" for c in contacts]
    incidents += [f"sudden damage {d['driver']} (lap {d['lap']}, {d['seconds_lost']} s lost, then {d['then']})"
                  for d in damage]
    incidents += [f"{d['kind'].replace('_', ' ')} {d['driver']} (lap {d['lap']})" for d in trouble]
    if incidents:
        lines.append(say("Incidents: " + "; ".join(incidents) + ".",
                         *({"subject": c["drivers"][0], "kind": "contact", "lap": c["lap"],
                            "fact": f"story.contacts[{i}]"} for i, c in enumerate(contacts)),
                         *({"subject": d["driver"], "kind": "sudden_damage", "lap": d["lap"],
                            "value": d["seconds_lost"], "unit": "s", "fact": f"story.damage[{i}]"}
                           for i, d in enumerate(damage)),
                         *({"subject": d["driver"], "kind": d["kind"], "lap": d["lap"],
                            "fact": f"story.car_trouble[{i}]"} for i, d in enumerate(trouble))))
    pitted = st.get("pitted_under_neutralisation") or []
    if pitted:
        lines.append(say("Pitted under a safety car or VSC: " + ", ".join(pitted) + ".",
                         *({"subject": c, "kind": "pit_stop", "fact": f"story.pitted_under_neutralisation[{i}]"}
                           for i, c in enumerate(pitted))))
    return lines


def _driver(facts: dict) -> DriverInsight:
    d = facts["driver"]
    code = d["driver"]
    me = {"subject": code, "kind": "driver", "fact": "driver"}
    head = f"{story.who(code)} ({d['team'] or 'no team'})"
    team = [{**me, "value": d["team"]}] if d["team"] else []
    said = d.get("incident")
    after = (f" after an incident involving {' and '.join(said['drivers'])}"
             + (f" at {said['where'].lower()}" if said.get("where") else "")
             + (f" ({said['reason'].lower()})" if said.get("reason") else "")) if said else ""
    where = [{**me, "value": said["where"]}] if said and said.get("where") else []  # "TURN 12", as quoted
    status = f" ({d['status']})." if d["status"] and not said else "."
    if d.get("did_not_start"):
        headline = say(f"{head}: did not start{after}" + status, *team, {**me, "kind": "did_not_start"}, *where)
    elif d["retired_lap"] is not None:
        headline = say(f"{head}: retired on lap {d['retired_lap']}{after}" + status,
                       *team, {**me, "kind": "retirement", "lap": d["retired_lap"]}, *where)
    elif d["position"]:
        headline = say(f"{head}: P{d['position']}" + (f" from P{d['grid']}" if d["grid"] else "") + ".", *team,
                       {**me, "kind": "result", "value": d["position"], "unit": "position"},
                       *([{**me, "kind": "result", "value": d["grid"], "unit": "position"}] if d["grid"] else []))
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
        points.append(say("Pit stops: " + ", ".join(_stop(p) for p in d["pit_stops"]) + ".",
                          *(c for i, p in enumerate(d["pit_stops"]) for c in _stop_claims(code, i, p))))
    if d["positions_gained"]:
        points.append(say(f"Positions: {abs(d['positions_gained'])} "
                          + ("gained" if d["positions_gained"] > 0 else "lost")
                          + f" from the grid, {d['overtakes']} overtakes on track.",
                          {**me, "kind": "result", "value": d["positions_gained"], "unit": "position"},
                          {**me, "value": d["overtakes"]}))
    points.append(say("Flags: " + ("; ".join(_flag(f) for f in d["flags"]) or "none") + ".",
                      *_flag_claims(code, "driver.flags", d["flags"])))
    return DriverInsight(headline=headline, points=points)


def _stop(p: dict) -> str:
    return (f"lap {p['lap']}" + (f" ({p['pit_lane_s']} s in the pit lane)" if p["pit_lane_s"] is not None else "")
            + (" from the lead" if p.get("position_before") == 1 else
               f" from P{p['position_before']}, {p['gap_to_leader_s']:.3f} s behind the leader"
               if p.get("position_before") and p.get("gap_to_leader_s") is not None else "")
            + (f", {p['compound_in']} {p['tyre_age_in']} laps old for {'new' if p['new_set'] else 'used'} "
               f"{p['compound_out']}" if _tyres_told(p) else "")
            + (" (no tyres changed)" if p.get("tyres_changed") is False and p.get("compound_in") else "")
            + (f" under the {p['under'].replace('_', ' ')}" if p["under"] else ""))


def _tyres_told(p: dict) -> bool:
    return bool(p.get("compound_out")) and p.get("tyre_age_in") is not None and p.get("new_set") is not None


def _stop_claims(code: str, i: int, p: dict) -> list[dict]:
    at = {"subject": code, "kind": "pit_stop", "lap": p["lap"], "fact": f"driver.pit_stops[{i}]"}
    out = [{**at, "value": p["pit_lane_s"], "unit": "s"} if p["pit_lane_s"] is not None else at]
    if p.get("position_before") and (p["position_before"] == 1 or p.get("gap_to_leader_s") is not None):
        out.append({**at, "value": p["position_before"], "unit": "position"})
        if p["position_before"] != 1:
            out.append({**at, "value": p["gap_to_leader_s"], "unit": "s"})
    if _tyres_told(p):
        out.append({**at, "value": p["tyre_age_in"], "unit": "laps"})
    return out


def _flag(f: dict) -> str:
    return f"{f['kind']} ({f['severity']}" + (f", lap {f['lap']})" if f["lap"] is not None else ")")


def _flag_claims(code: str, path: str, flags: list[dict]) -> list[dict]:
    return [{"subject": code, "kind": f["kind"], "lap": f["lap"], "fact": f"{path}[{i}]"} for i, f in enumerate(flags)]


def _detection(facts: dict) -> DetectionExplanation:
    d = facts["detection"]
    who = story.who(d["driver"]) if d["driver"] else "the session"
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
