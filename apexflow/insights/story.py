"""The session told in sentences, in the order it happened, each with the structured claims it makes.

A claim: ``{"subject": code or None, "kind": the fact's kind, "lap": int or None, "value": number, string or None,
"unit": "s" | "laps" | "position" | None, "fact": path into the facts, e.g. "story.lead_changes[1]"}``. Every
sentence here is written from templates over the facts (``facts.build``), so each claim names the fact it copies.
A race or sprint tells the start, the lead changes and how each happened, the neutralisations with their causes,
the stops that changed places, penalties, retirements and the finish; qualifying tells pole and who was knocked
out by how much; practice tells the timesheet and the long runs. Drivers are always named by their code.
"""
from __future__ import annotations

NAMES = {"safety_car": "safety car", "virtual_safety_car": "virtual safety car", "red_flag": "red flag"}
MAX_CHEAP_STOP_PLACE = 5    # stops a SC/VSC made cheap are told for cars running this high or higher ...
MAX_CHEAP_STOPS = 3         # ... that kept or gained places, at most this many (the rest: "pitted under")


def who(driver: str) -> str:
    """A driver by code; where the source gave no codes (only car numbers), "car 44", never a bare number."""
    return driver if not str(driver).isdigit() else f"car {driver}"


def claim(subject, kind: str, fact: str, lap=None, value=None, unit=None) -> dict:
    return {"subject": subject, "kind": kind, "lap": lap, "value": value, "unit": unit, "fact": fact}


def sentence(text: str, *claims: dict) -> dict:
    return {"text": text, "claims": list(claims)}


def headline(facts: dict) -> dict:
    s = facts["session"]
    name = " ".join(str(x) for x in (s.get("year"), s.get("event"), s.get("session")) if x)
    about = _about(s)
    kind = s.get("kind", "race")
    if kind == "qualifying" and (pole := (facts.get("qualifying") or {}).get("pole")):
        return sentence(f"{name}: pole for {pole['driver']}" + (f", {_time(pole['lap_time_s'])}."
                                                                  if pole["lap_time_s"] else "."), *about,
                        claim(pole["driver"], "pole", "qualifying.pole", value=pole["lap_time_s"], unit="s"))
    if kind == "practice" and (sheet := (facts.get("practice") or {}).get("timesheet")) and sheet[0]["lap_time_s"]:
        top = sheet[0]
        return sentence(f"{name}: {who(top['driver'])} fastest, {_time(top['lap_time_s'])}.", *about,
                        claim(top["driver"], "timesheet", "practice.timesheet[0]", top["lap"], top["lap_time_s"], "s"))
    podium = (facts.get("story") or {}).get("podium") or []
    if kind == "race" and podium:
        first = podium[0]
        return sentence(f"{name}: {first['driver']} wins" + (f" from P{first['grid']}." if first["grid"] else "."),
                        *about, claim(first["driver"], "winner", "story.podium[0]", value=first["grid"] or None,
                                      unit="position" if first["grid"] else None))
    return sentence(f"{name} ({s['source']}): {s['drivers']} drivers, {s['laps']} laps.", *about,
                    claim(None, "session", "session", value=s["drivers"]),
                    claim(None, "session", "session", value=s["laps"], unit="laps"))


def _about(session: dict) -> list[dict]:
    """Claims for the session's name: its year, and an event or session name with a number in it (``Practice 2``)."""
    out = [claim(None, "session", "session", value=session["year"])] if session.get("year") else []
    return out + [claim(None, "session", "session", value=session[k]) for k in ("event", "session")
                  if any(ch.isdigit() for ch in str(session.get(k) or ""))]


def tell(facts: dict) -> list[dict]:
    """The sentences that lead the session summary, each ``{"text", "claims"}``."""
    kind = facts["session"].get("kind", "race")
    if kind == "qualifying":
        return _qualifying(facts)
    if kind == "practice":
        return _practice(facts)
    return _race(facts)


# --- race and sprint ---------------------------------------------------------------------------------

def _race(facts: dict) -> list[dict]:
    st, rc = facts["story"], facts.get("race_control") or {}
    if not st:
        return []
    timeline: list[tuple[float, int, dict]] = []  # (lap, order within the lap, sentence)
    if st.get("start"):
        timeline.append((0, 0, _start(st["start"], facts["neutralisations"])))
    for k, c in enumerate(st["lead_changes"]):
        timeline.append((c["lap"], 2, _lead_change(c, k, facts)))
    for k, n in enumerate(facts["neutralisations"]):
        if not n.get("before_start"):
            timeline.append((n["from_lap"] or 0, 1, _neutralisation(n, k)))
    decisive = [(k, s) for k, s in enumerate(st.get("cheap_stops", [])) if s["stayed_out_longer_than"]
                and s["position_before"] and s["position_before"] <= MAX_CHEAP_STOP_PLACE
                and s["position_after"] and s["position_after"] <= s["position_before"]]
    for k, s in decisive[:MAX_CHEAP_STOPS]:
        timeline.append((s["lap"], 3, _cheap_stop(s, k)))
    if st.get("crossover"):
        timeline.append((st["crossover"]["lap"], 3, _crossover(st["crossover"])))
    for k, p in enumerate(rc.get("penalties", [])):
        timeline.append((p["lap"] or 0, 4, _penalty(p, k)))
    for k, r in enumerate(st["retirements"]):
        timeline.append((r["lap"] or 0, 5, _retirement(r, k)))
    if st["did_not_start"]:
        timeline.append((0, 1, _did_not_start(st["did_not_start"])))
    timeline.sort(key=lambda x: (x[0], x[1]))
    out = [s for _, _, s in timeline]
    if (pending := [(k, i) for k, i in enumerate(rc.get("investigations", []))
                    if i["outcome"] == "investigated after the session"]):
        out.append(sentence("Investigated after the session: " + "; ".join(
            f"{' and '.join(i['drivers'])}" + (f" ({i['reason'].lower()})" if i["reason"] else "")
            for _, i in pending) + ".", *(claim(None, "investigation", f"race_control.investigations[{k}]", i["lap"])
                                          for k, i in pending)))
    for k, c in enumerate(st.get("classification", [])):
        if any(p["driver"] == c["driver"] for p in rc.get("penalties", [])):
            out.append(sentence(f"{c['driver']} crossed the line P{c['on_road']} and is classified "
                                f"P{c['classified']}.",
                                *(claim(c["driver"], "classification", f"story.classification[{k}]", c["lap"],
                                        c[key], "position") for key in ("on_road", "classified"))))
    if st.get("finish") and st["finish"]["winner"]:
        out.append(_finish(st))
        pole = (st.get("start") or {}).get("pole")
        at, r = next(((i, r) for i, r in enumerate(facts["results"]) if r["driver"] == pole), (None, None))
        if r and pole != st["finish"]["winner"]:
            fate = (f"finished P{r['position']}" if r.get("classified") and r["position"] else
                    f"did not finish ({r['status']})" if r.get("status") else "did not finish")
            out.append(sentence(f"{pole}, on pole, {fate}.", claim(pole, "result", f"results[{at}]", None,
                                                                   r["position"], "position")))
    return out


def _start(s: dict, neutral: list[dict]) -> dict:
    claims = [claim(s["pole"], "start", "story.start", s["lap"])]
    text = (f"{s['leader']} led lap {s['lap']} from pole." if s["leader"] == s["pole"] else
            f"{s['leader']} led lap {s['lap']}" + (f", {s['pole']} started from pole." if s["pole"] else "."))
    before = [(k, n) for k, n in enumerate(neutral) if n.get("before_start")]
    extra = [f"a {NAMES[n['kind']]} before the start" + _cause_text(n.get("cause")) for _, n in before]
    extra += [p for p in s["procedure"] if p not in ("standing start",)]
    if s["behind_safety_car"]:
        extra.append(f"the race started behind the safety car (first racing lap {s['lap']})")
    if s["pit_lane_starts"]:
        extra.append("from the pit lane: " + ", ".join(s["pit_lane_starts"]))
    claims += [claim(None, n["kind"], f"neutralisations[{k}]") for k, n in before]
    if extra:
        text = "Start: " + "; ".join(extra) + ". " + text
    return sentence(text, *claims)


def _lead_change(c: dict, k: int, facts: dict) -> dict:
    new, old, n = c["driver"], c["from_driver"], c["lap"]
    text = {
        "start": f"{new} took the lead from {old} at the start.",
        "pit_stop": f"{new} took the lead on lap {n} when {old} pitted.",
        "retirement": f"{new} inherited the lead on lap {n} when {old} retired.",
        "puncture": f"{new} took the lead on lap {n} after a puncture slowed {old}.",
        "damage": f"{new} took the lead on lap {n} after damage slowed {old}.",
        "under_neutralisation": f"{new} took the lead from {old} on lap {n}, under the neutralisation.",
        "mistake": f"{new} took the lead on lap {n} when {old} lost time on that lap.",
        "on_track": f"{new} passed {old} for the lead on lap {n}.",
        "penalty": f"{new} is classified first after {old}'s penalty; {old} led on the road.",
        "classification": f"{new} is classified first; {old} led on the road.",
    }[c["how"]]
    return sentence(text, claim(new, "lead_change", f"story.lead_changes[{k}]", n, c["how"]))


def _cause_text(cause: dict | None) -> str:
    if not cause:
        return ""
    cars = " and ".join(who(d) for d in cause["drivers"])
    where = f" at {cause['where'].lower()}" if cause.get("where") else ""
    if cause["what"] in ("stopped", "crashed"):
        return f" ({cars} {cause['what']}{where})"
    if cause["what"] == "retirement":
        return f" ({cars} stopped on track)"
    if cause["what"] == "sudden_damage":
        return f" (after {cars} lost time with damage)"
    if cause["what"] == "contact":
        return f" (after contact between {cars})"
    reason = f", {cause['reason'].lower()}" if cause.get("reason") else ""
    return f" (after an incident involving {cars}{where}{reason})"


def _neutralisation(n: dict, k: int) -> dict:
    name = NAMES[n["kind"]]
    if n["kind"] == "red_flag":
        text = f"The race was red-flagged on lap {n['from_lap']}"
    else:
        text = f"The {name} came out on lap {n['from_lap']}"
    text += _cause_text(n.get("cause"))
    if n.get("finished_under"):
        text += "; the race finished under it"
    elif n.get("restart_lap") and n["restart_lap"] > (n["from_lap"] or 0):
        text += f"; racing resumed on lap {n['restart_lap']}"
    claims = [claim(None, n["kind"], f"neutralisations[{k}]", n["from_lap"])]
    if not n.get("finished_under") and n.get("restart_lap") and n["restart_lap"] > (n["from_lap"] or 0):
        claims.append(claim(None, n["kind"], f"neutralisations[{k}]", n["restart_lap"]))
    claims += _cause_claims(n.get("cause"), f"neutralisations[{k}].cause")
    return sentence(text + ".", *claims)


def _cause_claims(cause: dict | None, path: str) -> list[dict]:
    """The cars a cause names, and where it happened as race control wrote it (``TURN 12``)."""
    if not cause:
        return []
    out = [claim(d, "cause", path, cause.get("lap")) for d in cause["drivers"]]
    return out + ([claim(None, "cause", path, value=cause["where"])] if cause.get("where") else [])


def _cheap_stop(s: dict, k: int) -> dict:
    name = NAMES[s["under"]]
    rivals = " and ".join(s["stayed_out_longer_than"])
    when = f"as the {name} was deployed" if s["deployed_in_pit_lane"] else f"under the {name}"
    text = f"{s['driver']} stayed out longer than {rivals} and pitted on lap {s['lap']} {when}"
    if s["position_after"]:
        text += (f", keeping P{s['position_after']}" if s["position_after"] == s["position_before"]
                 else f", rejoining P{s['position_after']} (P{s['position_before']} before)")
    claims = [claim(s["driver"], "cheap_stop", f"story.cheap_stops[{k}]", s["lap"], s["position_after"], "position")]
    if s["position_after"] and s["position_after"] != s["position_before"]:
        claims.append(claim(s["driver"], "cheap_stop", f"story.cheap_stops[{k}]", s["lap"], s["position_before"],
                            "position"))
    return sentence(text + ".", *claims)


def _crossover(c: dict) -> dict:
    text = f"{c['driver']} was first to switch to slicks ({c['to']}) on lap {c['lap']}"
    if c["position_before"] and c["position_after"]:
        text += f", P{c['position_before']} before and P{c['position_after']} once the field had switched"
    at = claim(c["driver"], "crossover", "story.crossover", c["lap"])
    return sentence(text + ".", at, *({**at, "value": c[k], "unit": "position"} for k in ("position_before",
                                                                                          "position_after") if c[k]))


def _penalty(p: dict, k: int) -> dict:
    what = {"time": f"a {p['seconds']}-second time penalty", "drive_through": "a drive-through penalty",
            "stop_go": "a stop-and-go penalty" if not p["seconds"] else f"a {p['seconds']}-second stop-and-go penalty",
            "grid": f"a {p['places']}-place grid penalty"}[p["penalty"]]
    text = f"{p['driver']} got {what}" + (f" on lap {p['lap']}" if p["lap"] else "")
    text += (f" for {p['reason'].lower()}" if p["reason"] else "") + f" ({p['status']})."
    return sentence(text, claim(p["driver"], "penalty", f"race_control.penalties[{k}]", p["lap"],
                                p["seconds"] or p["places"], "s" if p["seconds"] else None))


def _retirement(r: dict, k: int) -> dict:
    text = f"{r['driver']} retired on lap {r['lap']}"
    if r.get("incident"):
        i = r["incident"]
        text += f" after an incident involving {' and '.join(i['drivers'])}" + (
            f" at {i['where'].lower()}" if i.get("where") else "") + (f" ({i['reason'].lower()})"
                                                                      if i.get("reason") else "")
    elif r.get("cause"):
        text += f" ({r['cause'].lower()})"
    at = claim(r["driver"], "retirement", f"story.retirements[{k}]", r["lap"])
    where = (r.get("incident") or {}).get("where")
    return sentence(text + ".", at, *([{**at, "value": where}] if where else []))


def _did_not_start(rows: list[dict]) -> dict:
    parts = []
    for r in rows:
        i = r.get("incident")
        parts.append(r["driver"] + (" (an incident before the start" + (f", {i['reason'].lower()})" if i.get("reason")
                                                                        else ")") if i else ""))
    return sentence("Did not start: " + ", ".join(parts) + ".",
                    *(claim(r["driver"], "did_not_start", f"story.did_not_start[{k}]") for k, r in enumerate(rows)))


def _finish(st: dict) -> dict:
    f, podium = st["finish"], st["podium"]
    rest = [p["driver"] for p in podium[1:]]
    margin = f["gap_s"] is not None and f["gap_s"] >= 0
    text = f"Winner: {f['winner']}" + (f" by {f['gap_s']:.3f} s" if margin else "")
    text += (" from " + " and ".join(rest) if rest else "") + "."
    claims = [claim(f["winner"], "winner", "story.podium[0]"),
              claim(f["winner"], f["kind"], "story.finish", f["lap"], *((f["gap_s"], "s") if margin else ()))]
    claims += [claim(d, "podium", f"story.podium[{k + 1}]") for k, d in enumerate(rest)]
    for fl in st.get("fastest_lap", []):
        text += f" Fastest lap: {fl['driver']}, lap {fl['lap']}, {_time(fl['lap_time_s'])}."
        claims.append(claim(fl["driver"], "fastest_lap", "story.fastest_lap[0]", fl["lap"], fl["lap_time_s"], "s"))
    return sentence(text, *claims)


# --- qualifying and practice ---------------------------------------------------------------------------

def _qualifying(facts: dict) -> list[dict]:
    q, out = facts.get("qualifying") or {}, []
    if (p := q.get("pole")):
        text = f"{p['driver']} took pole" + (f" with {_time(p['lap_time_s'])}" if p["lap_time_s"] else "")
        at = claim(p["driver"], "pole", "qualifying.pole", None, p["lap_time_s"], "s" if p["lap_time_s"] else None)
        claims = [at]
        if p["gap_to_second_s"] is not None:
            text += f", {p['gap_to_second_s']:.3f} s ahead of {who(p['second'])}"
            claims.append({**at, "value": p["gap_to_second_s"], "unit": "s"})
        out.append(sentence(text + ".", *claims))
    out += _session_neutralisations(facts)
    for part in dict.fromkeys(e["part"] for e in q.get("eliminations", [])):
        items = [(k, e) for k, e in enumerate(q["eliminations"]) if e["part"] == part]
        out.append(sentence(f"Out in {part}: " + ", ".join(
            f"{who(e['driver'])} (P{e['position']}" + (
                ", no time)" if e["margin_s"] is None else f", {e['margin_s']:+.3f} s to the cut)"
                if e["margin_s"] >= 0 else ", no time in the next part)") for _, e in items) + ".",
            *(c for k, e in items for c in _elimination_claims(e, f"qualifying.eliminations[{k}]"))))
    improved = [(k, r) for k, r in enumerate(q.get("last_run", [])) if r["improved"]]
    if improved:
        out.append(sentence("Set their best time on their final run: " + ", ".join(r["driver"] for _, r in improved)
                            + ".", *(claim(r["driver"], "last_run", f"qualifying.last_run[{k}]", r["lap"])
                                     for k, r in improved)))
    out += _deleted(q.get("deleted_laps", []), "qualifying.deleted_laps")
    out += _stewards(facts)
    return out


def _practice(facts: dict) -> list[dict]:
    p, out = facts.get("practice") or {}, []
    sheet = [s for s in p.get("timesheet", []) if s["lap_time_s"] is not None]
    if sheet:
        top = sheet[0]
        text = f"{who(top['driver'])} topped the timesheet with {_time(top['lap_time_s'])} on lap {top['lap']}"
        claims = [claim(top["driver"], "timesheet", "practice.timesheet[0]", top["lap"], top["lap_time_s"], "s")]
        if len(sheet) > 1:
            second = next(k for k, s in enumerate(p["timesheet"]) if s is sheet[1])
            text += f", {sheet[1]['gap_s']:.3f} s ahead of {who(sheet[1]['driver'])}"
            claims.append(claim(sheet[1]["driver"], "timesheet", f"practice.timesheet[{second}]", None,
                                sheet[1]["gap_s"], "s"))
        out.append(sentence(text + ".", *claims))
        busiest = max(range(len(p["timesheet"])), key=lambda k: p["timesheet"][k]["laps"])
        b = p["timesheet"][busiest]
        out.append(sentence(f"Most laps: {who(b['driver'])}, {b['laps']}.",
                            claim(b["driver"], "timesheet", f"practice.timesheet[{busiest}]", None, b["laps"],
                                  "laps")))
    out += _session_neutralisations(facts)
    best: dict = {}
    for k, r in enumerate(p.get("long_runs", [])):
        best.setdefault(r["compound"], (k, r))
    for compound, (k, r) in best.items():
        out.append(sentence(f"Best long run on {compound or 'unknown tyres'}: {who(r['driver'])}, median "
                            f"{_time(r['median_lap_s'])} over {r['laps']} laps ({r['lap_from']}-{r['lap_to']}).",
                            claim(r["driver"], "long_run", f"practice.long_runs[{k}]", r["lap_from"],
                                  r["median_lap_s"], "s"),
                            claim(r["driver"], "long_run", f"practice.long_runs[{k}]", r["lap_to"], r["laps"], "laps")))
    out += _deleted((facts.get("race_control") or {}).get("deleted_laps", []), "race_control.deleted_laps")
    out += _stewards(facts)
    return out


def _session_neutralisations(facts: dict) -> list[dict]:
    out = []
    for k, n in enumerate(facts["neutralisations"]):
        when = f" {n['minute']} minutes in" if n.get("minute") is not None else ""
        verb = "stopped the session" if n["kind"] == "red_flag" else "neutralised the session"
        minute = [claim(None, n["kind"], f"neutralisations[{k}]", value=n["minute"])] if when else []
        out.append(sentence(f"A {NAMES[n['kind']]} {verb}{when}{_cause_text(n.get('cause'))}.",
                            claim(None, n["kind"], f"neutralisations[{k}]"), *minute,
                            *_cause_claims(n.get("cause"), f"neutralisations[{k}].cause")))
    return out


def _deleted(items: list[dict], path: str, most: int = 8) -> list[dict]:
    if not items:
        return []
    told = items[:most]
    text = "Deleted laps: " + ", ".join(
        f"{d['driver']}" + (f" lap {d['lap']}" if d["lap"] else "") + (f" ({d['reason']}" + (
            f" at turn {d['turn']})" if d.get("turn") else ")") if d.get("reason") else "") for d in told)
    text += ", among others." if len(items) > most else "."
    claims = [claim(d["driver"], "deleted_lap", f"{path}[{k}]", d["lap"]) for k, d in enumerate(told)]
    claims += [{**c, "value": d["turn"]} for c, d in zip(claims, told) if d.get("reason") and d.get("turn")]
    return [sentence(text, *claims)]


def _elimination_claims(e: dict, path: str) -> list[dict]:
    at = claim(e["driver"], "elimination", path, None, e["position"], "position")
    return [at, {**at, "value": e["margin_s"], "unit": "s"}] if e["margin_s"] is not None else [at]


def _stewards(facts: dict) -> list[dict]:
    rc, out = facts.get("race_control") or {}, []
    for k, p in enumerate(rc.get("penalties", [])):
        out.append(_penalty(p, k))
    items = [(k, i) for k, i in enumerate(rc.get("investigations", []))]
    if items:
        out.append(sentence("Stewards: " + "; ".join(
            f"{' and '.join(i['drivers'])}" + (f" ({i['reason'].lower()})" if i["reason"] else "") + f", {i['outcome']}"
            for _, i in items) + ".", *(claim(None, "investigation", f"race_control.investigations[{k}]", i["lap"])
                                        for k, i in items)))
    return out


def _time(seconds) -> str:
    if seconds is None:
        return "n/a"
    m, s = divmod(float(seconds), 60)
    return f"{int(m)}:{s:06.3f}"
