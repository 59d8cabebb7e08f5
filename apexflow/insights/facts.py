"""The facts an insight may use, built once per run from the database (``query.insight_runs.insight_inputs``).

Compact on purpose: a full race of 20 cars fits the run's token budget. Units are in the keys (``_s``
seconds, ``_s_per_lap``); laps are lap numbers; compounds are FastF1's (SOFT, MEDIUM, HARD, ...).
``for_scope`` cuts the slice one prompt gets: a driver's, the session's or one critical detection's.
"""
from __future__ import annotations

import re
import statistics
from collections import Counter
from typing import Any

from apexflow.contract import SEVERITIES
from apexflow.insights import phases, race_control, sessions

NEUTRALISATIONS = ("safety_car", "virtual_safety_car", "red_flag")
CAR_TROUBLE = ("incident", "power_loss")  # from car telemetry, where the session has it
STORY_KINDS = frozenset({*NEUTRALISATIONS, *CAR_TROUBLE, "retirement", "did_not_start", "contact", "sudden_damage",
                         "fastest_lap"})
ROUTINE = frozenset({"pit_stop", "personal_best", "overtake", "position_change", "fastest_lap"})
UNDERCUT_GAP_S = 3.0      # the car behind was this close before it pitted
UNDERCUT_LAPS = 5         # ... and the car ahead pitted within this many laps
MAX_EXPLAINED = 20        # critical detections explained per run (the rest are counted)
CAUSE_BEFORE_S, CAUSE_AFTER_S = 240.0, 60.0  # a car lost from timing this long before / after a neutralisation
AFTER_THE_FACT = frozenset({"fastf1"})  # sources that only serve sessions that have ended
CLASSIFIED = re.compile(r"^(Finished|Lapped|\+\d+ Laps?)$", re.IGNORECASE)


def build(inputs: dict) -> dict:
    """All facts of a run (stored as its snapshot)."""
    dets, laps = inputs["detections"], inputs["laps"]
    by_car: dict[str, list[dict]] = {}
    for lap in laps:
        by_car.setdefault(lap["entity_id"], []).append(lap)
    results = _results(inputs["results"])
    ident = inputs["identity"]
    kind = sessions.kind_of(ident.get("session"))
    progress = inputs.get("progress") or {}
    messages = _session_times(inputs.get("race_control") or [], inputs.get("track_status") or [])
    finished = (inputs["source"] in AFTER_THE_FACT or progress.get("expected_chunks") is not None
                or any(r["classified"] for r in results.values())
                or any("CHEQUERED" in f"{m.get('Flag') or ''} {m.get('Message') or ''}".upper() for m in messages))
    rc = race_control.parse(messages, inputs["results"], finished)
    leader = _leader(by_car, results)
    first_start = min((lap["lap_start"] for lap in laps if lap["lap_start"] is not None), default=None)
    neutral = [_neutralisation(d, leader, kind, first_start, rc, dets)
               for d in sorted(dets, key=lambda d: d["t_start"]) if d["kind"] in NEUTRALISATIONS]
    medians = {car: _median_green(car_laps) for car, car_laps in by_car.items()}
    known = [m for m in medians.values() if m is not None]
    field = round(statistics.median(known), 3) if known else None
    teams = {e["entity_id"]: e["team"] for e in inputs["entities"]}
    drivers = {car: _driver(car, teams.get(car, ""), by_car.get(car, []), medians.get(car), field, results.get(car),
                            [d for d in dets if d["entity_id"] == car], neutral)
               for car in sorted(teams)}
    critical = sorted((d for d in dets if d["severity"] == "critical"),
                      key=lambda d: (d["t_start"], d["entity_id"] or ""))
    channel_units = {c["name"]: c.get("unit", "") for c in inputs.get("channels") or []}
    last_lap = max((lap["lap_number"] for lap in laps), default=0)
    out: dict[str, Any] = {
        "session": {"event": ident.get("event"), "session": ident.get("session"), "year": ident.get("year"),
                    "kind": kind, "source": inputs["source"], "drivers": len(drivers), "laps": last_lap,
                    "running": not finished,
                    "analysis_complete": progress.get("expected_chunks") is not None
                    and progress.get("analyzed_chunks") == progress.get("expected_chunks")},
        "missing": sorted((inputs.get("meta") or {}).get("missing", {})),
        "results": sorted(results.values(), key=lambda r: r["position"] or 99),
        "field_median_green_lap_s": field,
        "neutralisations": [{k: v for k, v in n.items() if k != "t"} for n in neutral],
        "race_control": {k: [{f: v for f, v in item.items() if f != "t"} for item in items]
                         for k, items in rc.items()},
        "story": story(dets, results, neutral, by_car, rc) if kind == "race" else {},
        "drivers": drivers,
        "strategy": {"pit_windows": [w for d in drivers.values() for w in _windows(d, last_lap)],
                     "undercuts": _undercuts(by_car, dets, neutral) if kind == "race" else [],
                     "degradation": _degradation(drivers, teams),
                     "at_risk": [] if finished else _at_risk(drivers)},
        "detections_by_kind": dict(sorted(Counter(d["kind"] for d in dets).items())),
        "critical": [_detection(d, channel_units) for d in critical[:MAX_EXPLAINED]],
        "critical_not_explained": max(0, len(critical) - MAX_EXPLAINED),
        "gaps": phases.gaps(by_car) if kind == "race" else {},
    }
    expected, analyzed = progress.get("expected_chunks"), progress.get("analyzed_chunks")
    if expected is not None and (analyzed or 0) < expected:  # an ingestion cut short: say how far it got
        out["session"].update(chunks_analyzed=analyzed or 0, chunks_expected=expected)
    for car, rows in out["gaps"].items():  # the gaps each stop was made with (at the end of the lap before)
        at = {g["lap"]: g for g in rows}
        for stop in drivers.get(car, {}).get("pit_stops", []):
            before = at.get((stop["lap"] or 0) - 1) or {}
            stop["gap_to_leader_s"], stop["interval_s"] = before.get("gap_s"), before.get("interval_s")
    for key in ("retirements", "did_not_start"):  # what race control said of a car that stopped or never started
        for r in out["story"].get(key, []):
            if r["driver"] in drivers and r.get("incident"):
                drivers[r["driver"]]["incident"] = r["incident"]
    if kind == "qualifying":
        out["qualifying"] = sessions.qualifying(ident.get("session") or "", inputs["results"], by_car,
                                                rc["deleted_laps"])
    elif kind == "practice":
        out["practice"] = sessions.practice(by_car)
    return out


def _session_times(messages: list[dict], track: list[dict]) -> list[dict]:
    """Race-control messages on the timing clock. A message's stored ``Time`` may rest on another time basis than
    the laps (the schedule's, on a delayed session): the shift is found by pairing race control's red flags, safety
    cars and VSCs with the track-status changes they caused, in order; without such a pair, as stored."""
    starts: dict[str, list[float]] = {}
    previous = None
    for row in sorted(track, key=lambda r: r["t"]):
        if row["status"] in ("4", "5", "6") and row["status"] != previous:
            starts.setdefault(row["status"], []).append(row["t"])
        previous = row["status"]
    said: dict[str, list[float]] = {}
    for m in messages:
        text, t = str(m.get("Message") or "").upper(), m.get("Time")
        status = ("5" if text.strip() == "RED FLAG" else "6" if "VIRTUAL SAFETY CAR DEPLOYED" in text
                  else "4" if "SAFETY CAR DEPLOYED" in text else None)
        if status and isinstance(t, (int, float)):
            said.setdefault(status, []).append(t)
    shifts = [a - b for k in said.keys() & starts.keys()
              for a, b in (zip(starts[k], said[k]) if len(starts[k]) == len(said[k]) else [(starts[k][0], said[k][0])])]
    if not shifts:
        return messages
    shift = statistics.median(shifts)
    return [{**m, "Time": round(m["Time"] + shift, 3)} if isinstance(m.get("Time"), (int, float)) else m
            for m in messages]


def _neutralisation(d: dict, leader: list[dict], kind: str, first_start, rc: dict, dets: list[dict]) -> dict:
    """A safety car, VSC or red flag: its laps in a race (``before_start`` when the field had not started), its
    minute into the running otherwise, and its cause: race control's report of a stopped car or an incident
    around its start, else a car lost from timing (retirement, contact, sudden damage) just before it."""
    t0, t1 = d["t_start"], d["t_end"]
    item = {"kind": d["kind"], "from_lap": None, "to_lap": None, "seconds": _round(d["evidence"].get("seconds")),
            "t": (t0, t1)}
    if kind == "race":
        item["from_lap"], item["to_lap"] = _lap_at(leader, t0), _lap_at(leader, t1)
        item["before_start"] = item["from_lap"] is None
        last = max((lap["lap_number"] for lap in leader), default=None)
        item["finished_under"] = item["to_lap"] is not None and item["to_lap"] == last  # in on the final lap
        item["restart_lap"] = None if item["to_lap"] is None or item["finished_under"] else item["to_lap"] + 1
    elif first_start is not None:
        item["minute"] = max(0, round((t0 - first_start) / 60))
    said = race_control.causes(rc, t0)
    lost = [x for x in dets if x["kind"] in ("retirement", "contact", "sudden_damage")
            and t0 - CAUSE_BEFORE_S <= x["t_start"] <= t0 + CAUSE_AFTER_S]
    if said:
        c = said[0]
        item["cause"] = {"drivers": c["drivers"], "lap": c["lap"], "what": c["what"], "where": c["where"],
                         "reason": c.get("reason"), "source": "race_control"}
    elif lost:
        what = next(k for k in ("contact", "retirement", "sudden_damage") if any(x["kind"] == k for x in lost))
        first = [x for x in lost if x["kind"] == what]
        cars = sorted({c for x in first for c in x["evidence"].get("cars") or [x["entity_id"]]})
        item["cause"] = {"drivers": cars, "lap": first[0]["lap"], "what": what, "where": None,
                         "reason": None, "source": "timing"}
    else:
        item["cause"] = None
    return item


def for_scope(facts: dict, scope: str, key: str | None = None) -> dict:
    """The slice one prompt gets. ``key``: the driver code, or the detection id."""
    base = {"session": facts["session"], "neutralisations": facts["neutralisations"]}
    if scope == "session":
        pace = [{"driver": c, "position": d["position"], "median_green_lap_s": d["median_green_lap_s"],
                 "gap_to_field_s": d["gap_to_field_s"], "stints": _stint_text(d["stints"])}
                for c, d in facts["drivers"].items()]
        return {**base, "missing": facts["missing"], "results": facts["results"], "story": facts["story"],
                "race_control": facts.get("race_control", {}),
                **{k: facts[k] for k in ("qualifying", "practice") if k in facts},
                "strategy": facts["strategy"], "pace": pace, "detections_by_kind": facts["detections_by_kind"]}
    if scope == "driver":
        return {**base, "field_median_green_lap_s": facts["field_median_green_lap_s"], "driver": facts["drivers"][key]}
    detection = next(d for d in facts["critical"] if d["detection_id"] == key)
    driver = facts["drivers"].get(detection["driver"])
    return {**base, "detection": detection, **({"driver": driver} if driver else {})}


def subjects(facts: dict, drivers: list[str] | None = None) -> dict:
    """What a run writes about: its drivers (all, or those asked for) and the critical detections among them."""
    chosen = [d for d in facts["drivers"] if not drivers or d in drivers]
    critical = [d["detection_id"] for d in facts["critical"] if not drivers or d["driver"] in (None, *drivers)]
    return {"drivers": chosen, "critical": critical}


# --- per driver ----------------------------------------------------------------------------------

def _green(lap: dict) -> bool:
    status = lap["track_status"] or "1"
    return (lap["lap_time"] is not None and not lap["deleted"] and set(status) <= {"1"} and lap["lap_number"] > 1
            and lap["pit_in_time"] is None and lap["pit_out_time"] is None)


def _median_green(laps: list[dict]) -> float | None:
    times = [lap["lap_time"] for lap in laps if _green(lap)]
    return round(statistics.median(times), 3) if times else None


def _driver(car, team, laps, median, field, result, dets, neutral) -> dict:
    valid = [lap for lap in laps if lap["lap_time"] is not None and not lap["deleted"]
             and lap["pit_in_time"] is None and lap["pit_out_time"] is None]
    best = min(valid, key=lambda lap: lap["lap_time"], default=None)
    retired = next((d for d in dets if d["kind"] == "retirement"), None)
    dns = any(d["kind"] == "did_not_start" for d in dets)
    result = result or {}
    return {
        "driver": car, "team": team, "laps": len(laps), "position": result.get("position"),
        "grid": result.get("grid"), "did_not_start": dns,
        "positions_gained": None if dns or retired else result.get("gained"), "status": result.get("status"),
        "median_green_lap_s": median, "best_lap_s": _round(best["lap_time"]) if best else None,
        "best_lap": best["lap_number"] if best else None,
        "gap_to_field_s": round(median - field, 3) if median is not None and field is not None else None,
        "stints": _stints(laps, dets),
        "pit_stops": [_stop(d, laps, neutral) for d in dets if d["kind"] == "pit_stop"],
        "overtakes": sum(d["kind"] == "overtake" for d in dets),
        "retired_lap": retired["lap"] if retired else None,
        "flags": [{"kind": d["kind"], "severity": d["severity"], "lap": d["lap"]}
                  for d in sorted(dets, key=lambda d: (-SEVERITIES.index(d["severity"]), d["t_start"]))
                  if d["kind"] not in ROUTINE
                  and not (d["kind"] == "tyre_degradation" and d["severity"] == "info")][:8],
    }


def _stop(d: dict, laps: list[dict], neutral: list[dict]) -> dict:
    """A pit stop: lane time, under a SC/VSC or not, the tyres' age coming in and the set going out (new or used,
    or none changed: a drive-through), the car's place and gap to the car ahead on the lap before."""
    at = {lap["lap_number"]: lap for lap in laps}
    before, inlap, outlap = at.get((d["lap"] or 0) - 1), at.get(d["lap"]), at.get((d["lap"] or 0) + 1)
    changed = bool(inlap and outlap and (outlap["stint"] != inlap["stint"] or outlap["compound"] != inlap["compound"]))
    return {"kind": "pit_stop", "lap": d["lap"], "pit_lane_s": _round(d["evidence"].get("lane_seconds")),
            "under": _under(d["t_start"], neutral), "tyres_changed": changed,
            "compound_in": inlap["compound"] if inlap else None, "tyre_age_in": _round(inlap["tyre_life"], 0)
            if inlap and inlap["tyre_life"] is not None else None,
            "compound_out": outlap["compound"] if outlap and changed else None,
            "new_set": outlap.get("fresh_tyre") if outlap and changed else None,
            "position_before": before["position"] if before else None}


def _stints(laps: list[dict], dets: list[dict]) -> list[dict]:
    wear = {d["evidence"].get("stint"): d["evidence"] for d in dets if d["kind"] == "tyre_degradation"}
    out: list[dict] = []
    for lap in laps:
        if lap["stint"] is None:
            continue
        if not out or out[-1]["stint"] != lap["stint"]:
            out.append({"stint": lap["stint"], "compound": lap["compound"], "from_lap": lap["lap_number"],
                        "to_lap": lap["lap_number"], "tyre_life_start": _round(lap["tyre_life"], 0)})
        out[-1]["to_lap"] = lap["lap_number"]
        out[-1]["compound"] = out[-1]["compound"] or lap["compound"]
    for s in out:
        ev = wear.get(s["stint"])
        if ev:
            s["deg_s_per_lap"] = _round(ev.get("slope_s_per_lap"))
            life = ev.get("cliff_tyre_life")
            if life is not None and s["tyre_life_start"] is not None:
                s["cliff_lap"] = s["from_lap"] + round(life - s["tyre_life_start"])
            if ev.get("fall_off_s") is not None:
                s["fall_off_s"] = _round(ev["fall_off_s"])
    return out


def _stint_text(stints: list[dict]) -> str:
    return ", ".join(f"{s['compound'] or 'UNKNOWN'} {s['from_lap']}-{s['to_lap']}" for s in stints)


def _windows(driver: dict, last_lap: int) -> list[dict]:
    """Pit windows from each stint's degradation trend: where the trend reaches the cliff (within the session),
    against when the car came in (``pitted_lap``; None when the stint ran to the flag, or to the car's retirement:
    ``retired_lap``)."""
    out = []
    stints = driver["stints"]
    for k, s in enumerate(stints):
        if s.get("cliff_lap") is not None and s["cliff_lap"] <= last_lap:
            pitted = s["to_lap"] if k + 1 < len(stints) else None
            out.append({"driver": driver["driver"], "stint": s["stint"], "compound": s["compound"],
                        "deg_s_per_lap": s["deg_s_per_lap"], "cliff_lap": s["cliff_lap"], "pitted_lap": pitted,
                        "retired_lap": driver["retired_lap"] if pitted is None else None})
    return out


def _at_risk(drivers: dict) -> list[dict]:
    """While the session runs: cars still running with warnings or worse on their current stint."""
    out = []
    for c, d in drivers.items():
        if d["retired_lap"] is not None or d["did_not_start"]:
            continue
        since = d["stints"][-1]["from_lap"] if d["stints"] else 0
        flags = [f for f in d["flags"] if f["severity"] != "info" and (f["lap"] or 0) >= since]
        if flags:
            out.append({"driver": c, "flags": flags[:3]})
    return out


def _degradation(drivers: dict, teams: dict) -> list[dict]:
    """Per dry compound: the median fuel-corrected wear (s/lap) of the stints on it, and each team's cars on it
    against each other."""
    dry = ("SOFT", "MEDIUM", "HARD")
    out = []
    for compound in dry:
        stints = [(c, s["deg_s_per_lap"]) for c, d in drivers.items() for s in d["stints"]
                  if s["compound"] == compound and s.get("deg_s_per_lap") is not None]
        if not stints:
            continue
        pairs = []
        for team in sorted({teams[c] for c, _ in stints if teams.get(c)}):
            mates = sorted({c: v for c, v in stints if teams.get(c) == team}.items())
            if len(mates) == 2:
                pairs.append({"team": team, "drivers": [m[0] for m in mates],
                              "deg_s_per_lap": [m[1] for m in mates],
                              "difference_s_per_lap": round(mates[0][1] - mates[1][1], 3)})
        out.append({"kind": "degradation", "compound": compound, "stints": len(stints),
                    "median_s_per_lap": round(statistics.median(v for _, v in stints), 3), "team_mates": pairs})
    return out


def _undercuts(by_car: dict, dets: list[dict], neutral: list[dict]) -> list[dict]:
    """Each green-flag stop by a car running within ``UNDERCUT_GAP_S`` behind another that stopped within
    ``UNDERCUT_LAPS`` laps after it: an undercut when the first to stop came out ahead, else an overcut."""
    stops: dict[str, list[int]] = {}
    for d in dets:
        if d["kind"] == "pit_stop" and d["lap"] is not None and _under(d["t_start"], neutral) is None:
            stops.setdefault(d["entity_id"], []).append(d["lap"])
    at = {(lap["entity_id"], lap["lap_number"]): lap for laps in by_car.values() for lap in laps}
    placed = {(n, row["position"]): c for (c, n), row in at.items() if row["position"]}
    out = []
    for car, laps in stops.items():
        for lap in laps:
            before = at.get((car, lap - 1))
            if not before or before["position"] is None or (end_before := _end(before)) is None:
                continue
            ahead = placed.get((lap - 1, before["position"] - 1))
            if ahead is None or (end_ahead := _end(at[(ahead, lap - 1)])) is None:
                continue
            gap = end_before - end_ahead
            later = [n for n in stops.get(ahead, []) if lap < n <= lap + UNDERCUT_LAPS]
            after_car, after_ahead = at.get((car, later[0] + 1)) if later else None, \
                at.get((ahead, later[0] + 1)) if later else None
            if not (0 < gap <= UNDERCUT_GAP_S and after_car and after_ahead and after_car["position"]
                    and after_ahead["position"]):
                continue
            worked = after_car["position"] < after_ahead["position"]
            out.append({"kind": "undercut" if worked else "overcut", "by": car if worked else ahead,
                        "on": ahead if worked else car, "pitted_lap": lap, "other_pitted_lap": later[0],
                        "gap_before_s": round(gap, 3)})
    return sorted(out, key=lambda u: u["pitted_lap"])


# --- the race story ------------------------------------------------------------------------------

def story(dets: list[dict], results: dict, neutral: list[dict], by_car: dict, rc: dict) -> dict:
    """What a race engineer tells first: the start, the lead changes and how, the neutralisations (``facts
    .neutralisations``, with their causes), who retired and why, the incidents (contact, sudden damage, and from
    car telemetry crashes and power losses), stops a SC/VSC made cheap, the wet-to-dry crossover, the result
    against the road, the fastest lap."""
    of = {k: [d for d in dets if d["kind"] in (k,)] for k in STORY_KINDS}
    ranked = sorted((r for r in results.values() if r["position"]), key=lambda r: r["position"])
    contacts: dict = {}
    for d in of["contact"]:
        contacts.setdefault((d["lap"], tuple(d["evidence"].get("cars", [d["entity_id"]]))), d)
    begin = phases.start(by_car, results, rc)
    leaders = phases.leaders(by_car)
    return {
        "start": begin,
        "lead_changes": phases.lead_changes(by_car, results, dets, rc, begin["lap"] if begin else 1),
        "laps_led": dict(Counter(leaders.values()).most_common()),
        "finish": {"kind": "finish", "lap": max(leaders) if leaders else None,
                   "winner": ranked[0]["driver"] if ranked else None,
                   "gap_s": _winning_gap(by_car, ranked)} if ranked else None,
        "podium": [{"driver": r["driver"], "grid": r["grid"]} for r in ranked[:3]],
        "retirements": [{"kind": "retirement", "driver": d["entity_id"], "lap": d["lap"],
                         "cause": d["evidence"].get("cause"), "status": d["evidence"].get("status"),
                         "incident": _incident(rc, d["entity_id"], d["t_start"])} for d in of["retirement"]],
        "did_not_start": [{"kind": "did_not_start", "driver": d["entity_id"], "lap": None,
                           "status": d["evidence"].get("status"),
                           "incident": _incident(rc, d["entity_id"], None)} for d in of["did_not_start"]],
        "contacts": [{"kind": "contact", "lap": lap, "drivers": list(cars), "first_lap": d["evidence"].get("first_lap")}
                     for (lap, cars), d in contacts.items()],
        "damage": [{"kind": "sudden_damage", "driver": d["entity_id"], "lap": d["lap"],
                    "seconds_lost": _round(d["evidence"].get("seconds_lost")), "then": d["evidence"].get("then")}
                   for d in of["sudden_damage"]],
        "car_trouble": [{"kind": d["kind"], "driver": d["entity_id"], "lap": d["lap"]}
                        for d in sorted((d for k in CAR_TROUBLE for d in of[k]), key=lambda d: d["t_start"])],
        "pitted_under_neutralisation": sorted({d["entity_id"] for d in dets if d["kind"] == "pit_stop"
                                               and _under(d["t_start"], neutral) not in (None, "red_flag")}),
        "cheap_stops": phases.cheap_stops(by_car, neutral),
        "crossover": phases.crossover(by_car),
        "classification": phases.classification(by_car, results),
        "fastest_lap": [{"kind": "fastest_lap", "driver": d["entity_id"], "lap": d["lap"],
                         "lap_time_s": _round(d["evidence"].get("lap_time"))} for d in of["fastest_lap"]][:1],
    }


def _incident(rc: dict, driver: str, t: float | None) -> dict | None:
    """Race control's report of an incident involving ``driver`` (within five minutes of ``t``; before the
    start for a car that did not start), not a pit-lane or procedural one."""
    for i in rc["investigations"] + [{**e, "drivers": [e["driver"]], "reason": e["what"]} for e in rc["car_events"]
                                     if e["what"] in ("stopped", "crashed")]:
        near = i["t"] is not None and (abs(i["t"] - t) <= 300 if t is not None else True)
        if driver in i["drivers"] and near and not race_control.NOT_A_CAUSE.search(
                f"{i.get('where') or ''} {i.get('reason') or ''}"):
            return {"drivers": i["drivers"], "lap": i["lap"], "where": i.get("where"), "reason": i.get("reason")}
    return None


def _winning_gap(by_car: dict, ranked: list[dict]) -> float | None:
    if len(ranked) < 2:
        return None
    first, second = (phases.lap_end(by_car[r["driver"]][-1]) if by_car.get(r["driver"]) else None
                     for r in ranked[:2])
    return round(second - first, 3) if first is not None and second is not None else None


# --- helpers -------------------------------------------------------------------------------------

def _results(rows: list[dict]) -> dict[str, dict]:
    out: dict = {}  # by driver code (FastF1's, from the rows)
    for r in rows:
        pos, grid = r.get("Position"), r.get("GridPosition")
        pos = int(pos) if isinstance(pos, (int, float)) else None
        grid = int(grid) if isinstance(grid, (int, float)) and grid > 0 else None  # 0: from the pit lane
        out[r.get("Driver") or r.get("Abbreviation")] = {
            "driver": r.get("Driver") or r.get("Abbreviation"), "position": pos, "grid": grid,
            "gained": grid - pos if grid and pos else None, "status": r.get("Status"), "points": r.get("Points"),
            "classified": bool(CLASSIFIED.match(str(r.get("Status") or ""))),
            "pit_lane_start": r.get("GridPosition") == 0 and bool(r.get("Laps"))}
    return out


def _leader(by_car: dict, results: dict) -> list[dict]:
    winner = next((c for c, r in results.items() if r["position"] == 1 and c in by_car), None)
    return by_car[winner] if winner else max(by_car.values(), key=len, default=[])


def _lap_at(leader: list[dict], t: float) -> int | None:
    """The leader's lap in progress at session time ``t``."""
    started = [lap["lap_number"] for lap in leader if lap["lap_start"] is not None and lap["lap_start"] <= t]
    return max(started) if started else None


def _end(lap: dict) -> float | None:
    return lap["lap_start"] + lap["lap_time"] if lap["lap_start"] is not None and lap["lap_time"] else None


def _under(t: float, neutral: list[dict]) -> str | None:
    return next((n["kind"] for n in neutral if n["t"][0] <= t <= n["t"][1]), None)


def _detection(d: dict, channel_units: dict[str, str]) -> dict:
    ev = {k: _round(v) if isinstance(v, float) else v for k, v in d["evidence"].items()
          if isinstance(v, (int, float, str, bool)) and v is not None and (not isinstance(v, str) or len(v) <= 80)
          or isinstance(v, list) and len(v) <= 5 and all(isinstance(x, (int, float, str)) for x in v)}
    units = {k: u for k, v in ev.items()
             if numeric(v) and (u := evidence_unit(k, channel_units.get(d["channel"] or "", "")))}
    return {"detection_id": d["detection_id"], "driver": d["entity_id"], "kind": d["kind"],
            "severity": d["severity"], "lap": d["lap"], "channel": d["channel"], "evidence": ev, "units": units}


EVIDENCE_UNITS = {"lap_time": "s", "reference": "s", "seconds": "s", "expected_interval": "s", "delta": "s",
                  "deltas": "s", "sigma": "s", "speed_before": "km/h", "min_speed": "km/h", "own_speed": "km/h",
                  "field_speed": "km/h", "top_speeds": "km/h", "reference_top_speeds": "km/h", "distance": "m",
                  "last_seen": "s", "start_pace": "s", "tyre_life": "laps", "cliff_tyre_life": "laps",
                  "laps_to_cliff": "laps", "clean_laps": "laps"}
CHANNEL_VALUED = ("value", "min_value", "max_value", "vmin", "vmax")


def numeric(value) -> bool:
    return all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in
               (value if isinstance(value, list) else [value]))


def evidence_unit(key: str, channel_unit: str = "") -> str:
    """The unit of an evidence value, by the detectors' naming (``*_s``, ``*seconds*``, ``*_pct``, ...) or, for a
    channel's own value, the channel's unit; "" when it has none."""
    if key in CHANNEL_VALUED:
        return channel_unit
    if key in EVIDENCE_UNITS:
        return EVIDENCE_UNITS[key]
    if key.endswith("_s_per_lap"):
        return "s/lap"
    if key.endswith(("_s", "_seconds")) or key.startswith("seconds"):
        return "s"
    return "%" if key.endswith("_pct") else ""


def _round(value, digits: int = 3):
    if value is None:
        return None
    value = round(float(value), digits)
    return int(value) if digits == 0 else value
