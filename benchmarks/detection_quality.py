"""Detection quality on synthetic races with injected ground truth.

Every race streams through the F1 detector set (``apexflow.detect.DETECTORS``) as it would
live: 10 s chunks (as ingest cuts them) in stream order, in batches of one chunk per car,
each through ``apexflow.pipeline.analyze.detect`` with the field as it stood before the batch; a
detection is reported at the end of its batch. The session's lap facts go through the
lap-level detectors (``apexflow.detect.f1.laps.detect_facts``). Detections are then
matched to the injected anomalies with ``apexflow.simulator.evaluate`` (same kind, same car, starting
between 5 s before the anomaly and 30 s after its end).

Reported per injected kind: precision, recall, F1, the median *onset error* (detection
start minus true start) and the median *latency* (race time at which the detection was
first reported minus true start). "False alarms on clean laps" counts every fault-kind
detection (anything but the informational pit stop, tyre degradation and track-status
periods) that overlaps no injected anomaly of the same car.

    python -m benchmarks.detection_quality --seeds 1 2 3 4 5 --laps 57 [--write]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from apexflow.chunk import split
from apexflow.detect import DETECTORS
from apexflow.detect.f1.laps import detect_facts
from apexflow.detect.field import Profile
from apexflow.pipeline.analyze import detect
from apexflow.simulator.evaluate import LAG, LEAD, score
from benchmarks import machine, report

INFO_KINDS = {"pit_stop", "tyre_degradation", "yellow_flag", "safety_car", "virtual_safety_car", "red_flag",
              "fastest_lap", "personal_best", "overtake", "position_change"}  # race facts, not faults


def run_race(seed: int, laps: int, chunk_seconds: float = 10.0) -> dict:
    from apexflow.simulator import SyntheticRace

    race = SyntheticRace(seed=seed, laps=laps)
    session, facts, truth = race.session(), race.facts(), race.ground_truth()
    channels = session.channel_map()
    contracts = {session.session_id: ("motorsport", channels)}
    found: dict[str, dict] = {}
    first_seen: dict[str, float] = {}
    n_samples = 0
    started = time.perf_counter()
    stream = []
    for entity, t, values in race.samples():
        n_samples += len(t)
        units = {k: channels[k].unit for k in values}
        stream += split(session.session_id, entity, t, values, units, chunk_seconds)
    stream.sort(key=lambda c: (c.t[0], c.entity_id))
    cars = len(session.entities)
    states: dict = {}
    field = Profile()
    for i in range(0, len(stream), cars):
        batch = stream[i:i + cars]
        fresh: dict = {}
        for c in batch:
            fresh.setdefault((c.session_id, c.entity_id), []).append(c)
        rows, added = detect(fresh, states, contracts, {session.session_id: field}, DETECTORS)
        for row in rows.values():
            found[row["detection_id"]] = row
            first_seen.setdefault(row["detection_id"], max(float(c.t[-1]) for c in batch))
        for f in added.values():
            field.merge(f)
    for d in detect_facts(session.session_id, facts, session.identity.get("session")):
        row = d.to_row()
        found[row["detection_id"]] = row
        first_seen.setdefault(row["detection_id"], float(d.t_end))  # known once the lap (or stint) is timed
    seconds = time.perf_counter() - started
    dets = sorted(found.values(), key=lambda d: (d["t_start"], d["entity_id"], d["kind"]))
    for d in dets:
        d["reported_at"] = first_seen[d["detection_id"]]
    return {"seed": seed, "laps": laps, "truth": truth, "detections": dets, "samples": n_samples,
            "seconds": seconds, "session_id": session.session_id}


def _overlaps_truth(d: dict, truth: list[dict]) -> bool:
    return any(t["entity_id"] == d["entity_id"] and d["t_start"] <= t["t_end"] + LAG
               and d["t_end"] >= t["t_start"] - LEAD for t in truth)


def evaluate(races: list[dict]) -> dict:
    kinds: dict[str, dict] = {}
    clean_false: list[dict] = []
    other = Counter()
    for r in races:
        truth, dets = r["truth"], r["detections"]
        truth_kinds = {t["kind"] for t in truth}
        s = score(truth, dets)
        for kind, row in s.items():
            if kind not in truth_kinds and kind not in {k for rr in races for k in {t["kind"] for t in rr["truth"]}}:
                continue
            k = kinds.setdefault(kind, {"injected": 0, "found": 0, "missed": 0, "false_alarms": 0, "delays": [],
                                        "latencies": []})
            for f in ("injected", "found", "missed", "false_alarms"):
                k[f] += row[f]
            k["delays"] += row["delays"]
        # latency: first report of the matching detection
        from apexflow.simulator.evaluate import matches
        used = set()
        for t in truth:
            hit = next((i for i, d in enumerate(dets) if i not in used and matches(t, d)), None)
            if hit is not None:
                used.add(hit)
                kinds[t["kind"]]["latencies"].append(round(dets[hit]["reported_at"] - t["t_start"], 2))
        for d in dets:
            if d["kind"] in INFO_KINDS:
                other[d["kind"]] += 1
            elif not _overlaps_truth(d, truth):
                clean_false.append({"seed": r["seed"], **{k: d[k] for k in ("entity_id", "kind", "lap", "t_start",
                                                                               "t_end", "channel", "evidence")}})
            elif d["kind"] not in kinds:
                other[d["kind"] + " (on an injected anomaly)"] += 1
    table = {}
    for kind, k in sorted(kinds.items()):
        p = k["found"] / (k["found"] + k["false_alarms"]) if k["found"] + k["false_alarms"] else 1.0
        rcl = k["found"] / k["injected"] if k["injected"] else 1.0
        f1 = 2 * p * rcl / (p + rcl) if p + rcl else 0.0
        table[kind] = {**{f: k[f] for f in ("injected", "found", "missed", "false_alarms")},
                       "precision": round(p, 3), "recall": round(rcl, 3), "f1": round(f1, 3),
                       "median_onset_error_s": round(statistics.median(k["delays"]), 2) if k["delays"] else None,
                       "median_latency_s": round(statistics.median(k["latencies"]), 2) if k["latencies"] else None}
    return {"kinds": table, "false_alarms_on_clean_laps": clean_false, "other_detections": dict(other)}


def markdown(result: dict, races: list[dict], command: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    samples = sum(r["samples"] for r in races)
    lines = [f"## Detection quality on synthetic races — {now}", "",
             f"- command: `{command}`", f"- machine: {machine()}",
             f"- races: seeds {', '.join(str(r['seed']) for r in races)}, {races[0]['laps']} laps, 20 cars, "
             f"{samples:,} samples; streaming F1 set + lap-level detectors", "",
             "| kind | injected | found | missed | false alarms | precision | recall | F1 | median onset error (s) "
             "| median latency (s) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for kind, k in result["kinds"].items():
        lines.append(f"| {kind} | {k['injected']} | {k['found']} | {k['missed']} | {k['false_alarms']} | "
                     f"{k['precision']:.3f} | {k['recall']:.3f} | **{k['f1']:.3f}** | {k['median_onset_error_s']} | "
                     f"{k['median_latency_s']} |")
    fa = result["false_alarms_on_clean_laps"]
    lines += ["", f"- false alarms on clean laps (fault kinds on cars/times with no injected anomaly): **{len(fa)}**"]
    for d in fa[:10]:
        lines.append(f"  - seed {d['seed']} {d['entity_id']} {d['kind']} lap {d['lap']} at {d['t_start']:.1f} s "
                     f"{json.dumps(d['evidence'])[:120]}")
    if result["other_detections"]:
        others = sorted(result["other_detections"].items())
        lines.append("- other detections: " + ", ".join(f"{k} {v}" for k, v in others))
    lines.append("- onset error: detection start minus injected start; latency: race time of the first report "
                 "minus injected start (lap-level detections are reported when their last lap is timed)")
    return "\n".join(lines) + "\n"


REAL_SESSIONS = [(2019, "Italy", "Q"), (2020, "Hungary", "FP2"), (2020, "70th Anniversary", "FP2"),
                 (2021, "Italy", "FP2"), (2021, "Mexico", "Q"), (2022, "Saudi Arabia", "Q"), (2022, "British", "FP1"),
                 (2023, "Azerbaijan", "Q"), (2023, "Azerbaijan", "S"), (2023, "Azerbaijan", "SS"),
                 (2024, "Spain", "Q"), (2024, "British", "FP1"), (2024, "China", "SQ"), (2025, "Miami", "S")]


def real_sessions(http_cache: str) -> str:
    """Lap-level detectors on the shared FastF1 sessions, checked against each session's own data."""
    import logging
    import tempfile

    from apexflow.detect.f1.lap_table import LapTable
    from apexflow.sources.fastf1 import FastF1Source

    logging.getLogger("fastf1").setLevel(logging.ERROR)
    rows = ["| session | laps | pit-in laps / pit stops found | deleted laps | lap-time outliers (deleted) | "
            "outliers on in/out/neutralised laps | track-status periods | non-green status changes outside "
            "a period of their kind |", "|---|---|---|---|---|---|---|---|"]
    kind_of = {"2": {"yellow_flag", "safety_car"}, "4": {"safety_car"}, "5": {"red_flag"},
               "6": {"virtual_safety_car"}, "7": {"virtual_safety_car"}}
    with tempfile.TemporaryDirectory() as cache:
        for year, event, code in REAL_SESSIONS:
            try:
                src = FastF1Source(year, event, code, cache_dir=cache, http_cache=http_cache, telemetry=False)
                facts, session = src.facts(), src.session()
            except Exception as e:  # noqa: BLE001 - report and go on
                rows.append(f"| {year} {event} {code} | not loaded: {str(e)[:60]} |||||||")
                continue
            found = detect_facts(session.session_id, facts, session.identity.get("session"))
            laps = facts.laps
            by_key = {(lap.driver, lap.lap_number): lap for lap in LapTable.of(laps).laps}
            pits = sum(1 for d in found if d.kind == "pit_stop")
            pit_in = sum(1 for r in laps if r.get("PitInTime") is not None)
            outl = [d for d in found if d.kind == "lap_time_outlier"]
            bad = sum(1 for d in outl if not by_key[(d.entity_id, d.lap)].clean)
            periods = [d for d in found if d.entity_id == ""]
            missed = sum(1 for r in facts.track_status if str(r["Status"]) in kind_of and not any(
                p.kind in kind_of[str(r["Status"])] and p.t_start <= r["Time"] <= p.t_end for p in periods))
            pk = Counter(p.kind for p in periods)
            rows.append(f"| {year} {event} {session.identity.get('session')} | {len(laps)} | {pit_in} / {pits} | "
                        f"{sum(1 for r in laps if r.get('Deleted'))} | {len(outl)} "
                        f"({sum(1 for d in outl if d.evidence['deleted'])}) | {bad} | "
                        f"{', '.join(f'{k} {v}' for k, v in sorted(pk.items())) or '-'} | {missed} |")
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([f"## Lap-level detectors on the shared FastF1 sessions — {now}", "",
                      f"- command: `python -m benchmarks.detection_quality --real {http_cache}`",
                      f"- machine: {machine()}", "", *rows]) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--laps", type=int, default=57)
    ap.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    ap.add_argument("--json", help="write the full result (with every false alarm) to this file")
    ap.add_argument("--real", metavar="HTTP_CACHE", help="instead: lap-level detectors on the shared FastF1 "
                                                         "sessions, from this frozen HTTP cache folder")
    args = ap.parse_args(argv)
    if args.real:
        report(real_sessions(args.real), args.write)
        return 0
    races = [run_race(s, args.laps) for s in args.seeds]
    result = evaluate(races)
    command = "python -m benchmarks.detection_quality --seeds " + " ".join(map(str, args.seeds)) + \
        f" --laps {args.laps}" + (" --write" if args.write else "")
    report(markdown(result, races, command), args.write)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
