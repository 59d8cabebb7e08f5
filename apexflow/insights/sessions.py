"""What qualifying and practice tell (a race and a sprint tell the race, ``phases``).

Qualifying: pole, the cars knocked out in each part with their margin to the cut, the deleted laps, and who set
their best time of the final part on their last run. Practice: the timesheet (best lap, gap, laps run) and the
long-run pace per compound. Items are dicts with ``kind``, ``driver``, ``lap`` and named fields (``_s`` seconds).
"""
from __future__ import annotations

import math
import re
import statistics

QUALIFYING = frozenset({"Qualifying", "Sprint Shootout", "Sprint Qualifying"})
PRACTICE = frozenset({"Practice 1", "Practice 2", "Practice 3"})
LONG_RUN_LAPS = 5       # green laps in a row on one set for a long run
LONG_RUN_FACTOR = 1.07  # ... each within this of the stint's median (no cool-down or push laps mixed in)


def kind_of(session_name: str | None) -> str:
    """``qualifying``, ``practice`` or ``race`` (a race, a sprint, or a session we do not know: race rules)."""
    if session_name in QUALIFYING:
        return "qualifying"
    if session_name in PRACTICE:
        return "practice"
    return "race"


def qualifying(session_name: str, rows: list[dict], by_car: dict, deleted_rc: list[dict]) -> dict:
    """Pole, eliminations per part with the margin to the cut, deleted laps, improvement on the last run."""
    parts = ["SQ1", "SQ2", "SQ3"] if session_name.startswith("Sprint") else ["Q1", "Q2", "Q3"]
    times = {r["Driver"]: [_num(r.get(q)) for q in ("Q1", "Q2", "Q3")] for r in rows if r.get("Driver")}
    pos = {r["Driver"]: _int(r.get("Position")) for r in rows if r.get("Driver")}
    placed = {d: p for d, p in pos.items() if p}
    ranked = sorted(placed, key=placed.__getitem__)
    out: dict = {"pole": None, "eliminations": [], "deleted_laps": [], "last_run": []}
    if ranked:
        first = ranked[0]
        best = _best(times[first]) or _best_lap(by_car.get(first, []))
        second = _best(times[ranked[1]]) if len(ranked) > 1 else None
        out["pole"] = {"kind": "pole", "driver": first, "lap": None, "lap_time_s": best,
                       "gap_to_second_s": round(second - best, 3) if second and best else None,
                       "second": ranked[1] if len(ranked) > 1 else None}
    for k in (0, 1):
        went_on = [t for t, then in ((ts[k], ts[k + 1]) for ts in times.values()) if then is not None and t is not None]
        if not went_on:
            continue
        cut = max(went_on)
        for d in ranked:
            reached = k == 0 or times[d][k] is not None
            if reached and times[d][k + 1] is None:
                t = times[d][k]
                out["eliminations"].append({"kind": "elimination", "driver": d, "lap": None, "part": parts[k],
                                            "position": pos[d], "lap_time_s": t,
                                            "margin_s": round(t - cut, 3) if t is not None and cut else None})
    for car, laps in by_car.items():
        for lap in laps:
            if lap.get("deleted"):
                t = _round(lap["lap_time"])
                rc = next((d for d in deleted_rc if d["driver"] == car and t is not None and d["lap_time_s"] == t),
                          None) or next((d for d in deleted_rc if d["driver"] == car
                                         and d["lap"] in (lap["lap_number"], lap["lap_number"] + 1)), {})
                said = re.match(r"(.+?)(?: AT TURN (\d+))?(?: LAP \d+.*)?$", (lap.get("deleted_reason") or "").strip())
                out["deleted_laps"].append({
                    "kind": "deleted_lap", "driver": car, "lap": lap["lap_number"], "lap_time_s": t,
                    "reason": rc.get("reason") or (said.group(1).lower() if said else None),
                    "turn": rc.get("turn") or (int(said.group(2)) if said and said.group(2) else None)})
    for d in ranked:
        final = times[d][2]
        timed = [lap for lap in by_car.get(d, []) if _valid(lap)]
        if final is None or not timed:
            continue
        last = timed[-1]
        out["last_run"].append({"kind": "last_run", "driver": d, "lap": last["lap_number"],
                                "lap_time_s": _round(last["lap_time"]),
                                "improved": abs(last["lap_time"] - final) < 0.0015})
    return out


def practice(by_car: dict) -> dict:
    """The timesheet (best valid lap, gap to the fastest, laps run) and the long runs per compound."""
    sheet = []
    for car, laps in by_car.items():
        best = min((lap for lap in laps if _valid(lap)), key=lambda lap: lap["lap_time"], default=None)
        sheet.append({"kind": "timesheet", "driver": car, "lap": best["lap_number"] if best else None,
                      "lap_time_s": _round(best["lap_time"]) if best else None,
                      "compound": best["compound"] if best else None, "laps": len(laps)})
    sheet.sort(key=lambda s: (s["lap_time_s"] is None, s["lap_time_s"] or 0))
    fastest = sheet[0]["lap_time_s"] if sheet else None
    for k, s in enumerate(sheet):
        s["position"] = k + 1 if s["lap_time_s"] is not None else None
        s["gap_s"] = round(s["lap_time_s"] - fastest, 3) if s["lap_time_s"] is not None and fastest else None
    runs = []
    for car, laps in by_car.items():
        stints: dict = {}
        for lap in laps:
            if _valid(lap) and lap["stint"] is not None and set(lap["track_status"] or "1") <= {"1"}:
                stints.setdefault(lap["stint"], []).append(lap)
        for slaps in stints.values():
            med = statistics.median(lap["lap_time"] for lap in slaps)
            run = [lap for lap in slaps if lap["lap_time"] <= LONG_RUN_FACTOR * med]
            if len(run) >= LONG_RUN_LAPS:
                runs.append({"kind": "long_run", "driver": car, "compound": run[0]["compound"],
                             "lap_from": run[0]["lap_number"], "lap_to": run[-1]["lap_number"], "laps": len(run),
                             "median_lap_s": round(statistics.median(lap["lap_time"] for lap in run), 3)})
    runs.sort(key=lambda r: (r["compound"] or "", r["median_lap_s"]))
    return {"timesheet": sheet, "long_runs": runs}


def _valid(lap: dict) -> bool:
    return (lap["lap_time"] is not None and not lap.get("deleted") and lap["pit_in_time"] is None
            and lap["pit_out_time"] is None)


def _best_lap(laps: list[dict]) -> float | None:
    return min((_round(lap["lap_time"]) for lap in laps if _valid(lap)), default=None)


def _best(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return known[-1] if known else None  # the time of the last part reached decides the grid


def _num(v) -> float | None:
    return round(float(v), 3) if isinstance(v, (int, float)) and not math.isnan(v) else None


def _int(v) -> int | None:
    return int(v) if isinstance(v, (int, float)) and not math.isnan(v) else None


def _round(v):
    return round(float(v), 3) if v is not None else None
