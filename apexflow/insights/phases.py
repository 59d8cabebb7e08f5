"""The race's own phases from timing: the start (found from the data), the lead changes and how each happened,
the restarts, the flag; gaps and intervals per car per lap from lap end times; on-road against classified places.

Inputs are the laps rows of ``query.insight_runs.insight_inputs`` grouped by car (``lap_end`` is FastF1's lap
``Time``; where absent, ``lap_start + lap_time``). Every item is a dict with ``kind``, ``driver`` and ``lap``.
"""
from __future__ import annotations

import itertools

NEUTRAL_STATUS = set("4567")   # safety car, red flag, VSC deployed, VSC ending
MISTAKE_S = 5.0                # a leader losing this much on one lap, and two places, without a stop or damage


def lap_end(lap: dict) -> float | None:
    if lap.get("lap_end") is not None:
        return lap["lap_end"]
    return lap["lap_start"] + lap["lap_time"] if lap["lap_start"] is not None and lap["lap_time"] else None


def leaders(by_car: dict[str, list[dict]]) -> dict[int, str]:
    """The car placed first at the end of each lap."""
    out = {}
    for car, laps in by_car.items():
        for lap in laps:
            if lap["position"] == 1:
                out[lap["lap_number"]] = car
    return dict(sorted(out.items()))


def start(by_car: dict, results: dict, rc: dict) -> dict | None:
    """The first racing lap: lap 1 unless the race started behind the safety car (then the first lap not begun
    behind it), with the pole-sitter and the leader at the end of that lap."""
    lead = leaders(by_car)
    if not lead:
        return None
    pole = next((r["driver"] for r in results.values() if r["grid"] == 1), None)
    first = min(lead)
    laps = {lap["lap_number"]: lap for lap in by_car[lead[first]]}
    # behind the safety car from the lap's beginning (a lap's statuses are in the order they were shown); an incident
    # later in lap 1 does not move the start
    racing = next((n for n in sorted(laps) if not (laps[n]["track_status"] or "1").startswith(("4", "5"))), first)
    how = [s["what"] for s in rc.get("start", []) if s["kind"] == "start_procedure"]
    return {"kind": "start", "lap": racing, "behind_safety_car": racing > first, "pole": pole,
            "leader": lead.get(racing, lead[first]), "procedure": how,
            "pit_lane_starts": sorted({d for s in rc.get("start", []) if s["kind"] == "pit_lane_start"
                                       for d in s["drivers"]} | {r["driver"] for r in results.values()
                                                                 if r.get("pit_lane_start")})}


def lead_changes(by_car: dict, results: dict, dets: list[dict], rc: dict, first_lap: int = 1) -> list[dict]:
    """Each change of the car placed first, lap by lap from the start (against the pole-sitter on the first
    lap), with how it happened: ``start``, ``pit_stop`` (the leader pitted), ``retirement``, ``damage`` or
    ``puncture``, ``under_neutralisation``, ``mistake`` or ``on_track``; and, after the flag, ``penalty`` where
    the classification puts another car first than the road did."""
    lead = leaders(by_car)
    at = {(c, lap["lap_number"]): lap for c, laps in by_car.items() for lap in laps}
    pole = next((r["driver"] for r in results.values() if r["grid"] == 1), None)
    out: list[dict] = []
    prev = pole
    for n, car in lead.items():
        if n < first_lap:
            continue
        if prev is not None and car != prev:
            out.append({"kind": "lead_change", "lap": n, "driver": car, "from_driver": prev,
                        "how": "start" if n == first_lap and prev == pole and not out else
                        _how(prev, car, n, at, dets)})
        prev = car
    winner = next((r["driver"] for r in results.values() if r["position"] == 1), None)
    if lead and winner and prev and winner != prev:
        pens = [p["driver"] for p in rc.get("penalties", []) if p["driver"] == prev]
        out.append({"kind": "lead_change", "lap": max(lead), "driver": winner, "from_driver": prev,
                    "how": "penalty" if pens else "classification"})
    return out


def _how(old: str, new: str, n: int, at: dict, dets: list[dict]) -> str:
    o, w = at.get((old, n)), at.get((new, n))
    for d in dets:
        if d["entity_id"] == old and d["lap"] is not None and n - 1 <= d["lap"] <= n:
            if d["kind"] == "retirement":
                return "retirement"
            if d["kind"] in ("slow_puncture", "sudden_damage"):
                return "puncture" if d["kind"] == "slow_puncture" else "damage"
    if o is None:
        return "retirement"
    if o["pit_in_time"] is not None or o["pit_out_time"] is not None:
        return "pit_stop"
    if set(o["track_status"] or "1") & NEUTRAL_STATUS:
        return "under_neutralisation"
    if (o["lap_time"] and w and w["lap_time"] and o["lap_time"] - w["lap_time"] >= MISTAKE_S
            and (o["position"] or 0) >= 3):
        return "mistake"
    return "on_track"


def gaps(by_car: dict) -> dict[str, list[dict]]:
    """Per car per lap: the gap to the leader and the interval to the car ahead (s), from lap end times."""
    ends: dict[int, list[tuple[float, str]]] = {}
    for car, laps in by_car.items():
        for lap in laps:
            if (end := lap_end(lap)) is not None:
                ends.setdefault(lap["lap_number"], []).append((end, car))
    out: dict[str, list[dict]] = {}
    for n, rows in sorted(ends.items()):
        rows.sort()
        for k, (end, car) in enumerate(rows):
            out.setdefault(car, []).append({"lap": n, "gap_s": round(end - rows[0][0], 3),
                                            "interval_s": round(end - rows[k - 1][0], 3) if k else 0.0})
    return out


def classification(by_car: dict, results: dict) -> list[dict]:
    """Finishers whose place on the road at their last lap differs from the classified one."""
    out = []
    for car, laps in by_car.items():
        r = results.get(car)
        road = next((lap["position"] for lap in reversed(laps) if lap["position"]), None)
        if r and r["position"] and road and road != r["position"] and r.get("classified"):
            out.append({"kind": "classification", "driver": car, "lap": laps[-1]["lap_number"], "on_road": road,
                        "classified": r["position"]})
    return sorted(out, key=lambda c: c["classified"])


def cheap_stops(by_car: dict, periods: list[dict]) -> list[dict]:
    """Stops a safety car or VSC made cheap: in the pit lane when it was deployed, or made while it ran; with
    the car's place before the stop and once it had rejoined, and the cars that had stopped under green in the
    five laps before, running next to it (who it stayed out longer than)."""
    stops = []
    for car, laps in by_car.items():
        for lap in laps:
            if lap["pit_in_time"] is None:
                continue
            nxt = next((x for x in laps if x["lap_number"] == lap["lap_number"] + 1), None)
            out_t = nxt["pit_out_time"] if nxt else None
            stops.append((car, lap, out_t))
    out = []
    for car, lap, out_t in stops:
        n, t_in = lap["lap_number"], lap["pit_in_time"]
        for p in periods:
            if p["kind"] not in ("safety_car", "virtual_safety_car"):
                continue
            in_lane = out_t is not None and t_in <= p["t"][0] <= out_t
            if not (in_lane or p["t"][0] <= t_in <= p["t"][1]):
                continue
            before = _position(by_car[car], n - 1)
            after = _position(by_car[car], n + 1)
            rivals = sorted({c for c, lp, _ in stops if c != car and n - 5 <= lp["lap_number"] < n
                             and not any(q["t"][0] <= lp["pit_in_time"] <= q["t"][1] for q in periods)
                             and before and (r := _position(by_car[c], lp["lap_number"] - 1))
                             and abs(r - before) <= 1})
            out.append({"kind": "cheap_stop", "driver": car, "lap": n, "under": p["kind"],
                        "deployed_in_pit_lane": in_lane, "position_before": before, "position_after": after,
                        "stayed_out_longer_than": rivals})
            break
    return sorted(out, key=lambda s: (s["lap"], s["position_before"] or 99))


def crossover(by_car: dict) -> dict | None:
    """The switch from intermediate or wet tyres to slicks: who went first, on which lap, and places gained by
    the time the last of the field had switched."""
    wet = {"INTERMEDIATE", "WET"}
    switches = []
    for car, laps in by_car.items():
        for a, b in itertools.pairwise(laps):
            if a["compound"] in wet and b["compound"] and b["compound"] not in wet:
                switches.append((b["lap_number"], car, b["compound"]))
                break
    if not switches:
        return None
    switches.sort()
    lap, car, compound = switches[0]
    done = switches[-1][0] + 1
    before, after = _position(by_car[car], lap - 1), _position(by_car[car], done)
    return {"kind": "crossover", "driver": car, "lap": lap, "to": compound, "cars_switched": len(switches),
            "last_switch_lap": switches[-1][0], "position_before": before, "position_after": after,
            "positions_gained": before - after if before and after else None}


def _position(laps: list[dict], n: int) -> int | None:
    lap = next((x for x in laps if x["lap_number"] == n), None)
    return lap["position"] if lap else None
