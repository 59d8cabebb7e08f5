"""Strategy backtest: replay every shared real race and sprint lap by lap, predicting only from the laps so far.

    python -m benchmarks.strategy_backtest [--write]

After each lap ``n`` (every car's lap ``n`` completed) the engine predicts; each prediction is scored against what
the timing later shows:

- rejoin: for every green-flag stop (in-lap ``n`` and out-lap green), the rejoin predicted after lap ``n - 1``
  against the car's position at the end of its out-lap; calibration: the stated chance of the predicted position
  against how often it came true;
- lap time: on green racing laps after a green racing lap (not lap 1, no pit in/out, each within 107 % of its
  lap's quickest; not after a lap the whole field ran > 10 % slower than its quickest so far, i.e. neutralised),
  next-lap MAE
  against the car's last lap and its stint median (over the same laps, without the laps the whole field ran >10 %
  slow: the model's own rule for a neutralisation), and how often the 80 % interval held it;
- undercut: for each attempt (the car behind within 3 s stopped first, the one ahead stopped within 3 laps), the
  sign of the predicted gain against the real change of the gap from before the first stop to after the second;
- stop: predicted three laps before each green-flag stop, the most likely stop lap within +-2 of the real one
  (and, stricter, with the model giving a stop more chance than no stop at all);
- cliff: the real cliff of each stint (``cliff.cliff_lap`` on its laps) against the first forecast made before it,
  and any forecast on a stint that stayed flat (also counted: those forecasting a lap the stint reached, as a
  stint stopped before its forecast cliff cannot show it);
- speed: one lap's update of every model plus the predictions for every car, per lap (one core).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from apexflow.strategy import StrategyEngine, by_lap, from_fastf1
from apexflow.strategy.cliff import cliff_lap
from apexflow.strategy.laps import GREEN
from apexflow.strategy.pace import NEUTRAL
from benchmarks import machine, report

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fastf1-http-cache"
SESSIONS = [(2023, "Azerbaijan", "S"), (2025, "Miami", "S")]  # the shared races and sprints
QUICK = 1.07


def load(year: int, event: str, code: str, http_cache: Path = SHARED):
    from apexflow.sources.fastf1 import FastF1Source

    src = FastF1Source(year, event, code, http_cache=http_cache, telemetry=False,
                       cache_dir=Path(tempfile.gettempdir()) / "apexflow-strategy-backtest")
    return src.session().session_id, from_fastf1(src.facts().laps)


def backtest(rows, *, mandatory_stop: bool = False) -> dict:
    """Every score of one session's replay (raw lists; ``summary`` turns them into rates)."""
    laps = by_lap(rows)
    total = max(laps)
    car = {(r.driver, r.lap_number): r for r in rows}
    engine = StrategyEngine(total, mandatory_stop=mandatory_stop)
    said: dict[int, dict] = {}  # lap -> driver -> prediction after that lap
    lap_scores, undercuts, cliff_said, timings = [], [], {}, []
    stops = [r for r in rows if r.pit_in and (r.driver, r.lap_number + 1) in car]
    green_stops = [r for r in stops if r.regime == GREEN and car[(r.driver, r.lap_number + 1)].regime == GREEN]
    attempts = _attempts(stops, car)
    quickest_of: dict[str, float] = {}
    quick_laps: dict[tuple, list[tuple[int, float]]] = {}  # the stint's racing laps so far, for its median
    medians: dict[int, float] = {0: float("inf")}  # the field's median racing lap, by lap
    for n, lap_rows in laps.items():
        # lap-time forecasts for lap n, from the models after lap n-1
        quickest = min((r.lap_time for r in lap_rows if r.racing), default=None)
        prev_quickest = {d: q for d, q in quickest_of.items()}
        timed = sorted(r.lap_time for r in lap_rows if r.racing)
        best = min([*medians.values(), timed[len(timed) // 2] if timed else float("inf")])
        after_neutral = medians.get(n - 1, float("inf")) > NEUTRAL * best
        for r in lap_rows:
            prev = car.get((r.driver, n - 1))
            if after_neutral or not (r.racing and quickest and r.lap_time <= QUICK * quickest and prev and prev.racing
                                     and prev_quickest.get(prev.driver)
                                     and prev.lap_time <= QUICK * prev_quickest[prev.driver]):
                continue
            stint_laps = [t for k, t in quick_laps.get((r.driver, r.stint), []) if medians[k] <= NEUTRAL * best]
            f = engine.pace.predict(r.driver, n, compound=r.compound or "", age=r.tyre_life or 1,
                                    traffic=engine.traffic(r.driver, n), stint=r.stint)
            if stint_laps and f.mean == f.mean:  # the same laps for the model and both baselines
                lap_scores.append((r.lap_time, f.mean, f.low, f.high, prev.lap_time, statistics.median(stint_laps)))
        for a, b, k, fa, fb in attempts.get(n, []):
            ra, rb = engine.history[a][-1], engine.history[b][-1]
            undercuts.append((engine.undercut_gain(ra, rb, response=k, fresh_attacker=fa, fresh_defender=fb),
                              _real_gain(car, a, b, n, k)))
        started = time.process_time()
        engine.update(lap_rows)
        predictions = engine.predictions()
        timings.append((time.process_time() - started, len(predictions)))
        said[n] = {p.driver: p for p in predictions}
        quickest_of = {r.driver: quickest for r in lap_rows} if quickest else {}
        for r in lap_rows:
            if r.racing and quickest and r.lap_time <= QUICK * quickest:
                quick_laps.setdefault((r.driver, r.stint), []).append((n, r.lap_time))
        if timed:
            medians[n] = timed[len(timed) // 2]
        for p in predictions:
            if p.cliff_in_laps is not None:
                cliff_said.setdefault((p.driver, car[(p.driver, p.lap)].stint), []).append(
                    (p.lap, p.lap + p.cliff_in_laps))
    rejoins = []
    for s in green_stops:
        p = said.get(s.lap_number - 1, {}).get(s.driver)
        out = car[(s.driver, s.lap_number + 1)]
        if p and p.rejoin_position and out.position:
            rejoins.append((p.rejoin_position, out.position, p.rejoin_probability,
                            p.rejoin_probabilities.get(out.position, 0.0)))
    stop_calls = []
    for s in green_stops:
        p = said.get(s.lap_number - 3, {}).get(s.driver)
        if p is not None:
            stop_calls.append((p.stop_lap, s.lap_number, p.no_stop_probability))
    cliffs = []
    for (driver, stint), pace in engine.stints.items():
        real = cliff_lap(pace.laps)
        calls = cliff_said.get((driver, stint), [])
        first = next((at for lap, at in calls if real is None or lap < real), None)
        end = pace.laps[-1][0] if pace.laps else 0  # the stint's last racing lap
        testable = any(at <= end for _, at in calls)  # a forecast lap the stint reached: it could be checked
        cliffs.append((driver, stint, real, first, testable))
    return {"laps": lap_scores, "rejoins": rejoins, "undercuts": undercuts, "stops": stop_calls, "cliffs": cliffs,
            "timings": timings, "green_stops": len(green_stops)}


def _attempts(stops, car) -> dict[int, list]:
    """Undercut attempts by the lap before the first stop: (attacker, defender, laps later, fresh tyres)."""
    out: dict[int, list] = {}
    first = {}
    for s in stops:
        first.setdefault(s.driver, []).append(s.lap_number)
    for a in stops:
        n = a.lap_number
        before_a = car.get((a.driver, n - 1))
        if before_a is None or before_a.time is None or a.regime != GREEN:
            continue
        for b_driver, b_laps in first.items():
            later = [k for k in b_laps if n < k <= n + 3]
            before_b = car.get((b_driver, n - 1))
            if b_driver == a.driver or not later or before_b is None or before_b.time is None:
                continue
            gap = before_a.time - before_b.time
            k = later[0] - n
            if 0 < gap <= 3.0 and (a.driver, later[0] + 1) in car and (b_driver, later[0] + 1) in car:
                fa, fb = car[(a.driver, n + 1)].compound, car[(b_driver, later[0] + 1)].compound
                out.setdefault(n - 1, []).append((a.driver, b_driver, k, fa, fb))
    return out


def _real_gain(car, a: str, b: str, lap_before: int, k: int) -> float:
    n = lap_before + 1  # the attacker's in-lap
    before = car[(a, lap_before)].time - car[(b, lap_before)].time
    after = car[(a, n + k + 1)].time - car[(b, n + k + 1)].time
    return before - after


def summary(scores: dict) -> dict:
    laps, rj, uc, st, cl = (scores[k] for k in ("laps", "rejoins", "undercuts", "stops", "cliffs"))
    out = {"green stops": scores["green_stops"], "rejoins scored": len(rj)}
    if rj:
        out["rejoin exact"] = sum(p == a for p, a, _, _ in rj) / len(rj)
        out["rejoin within one"] = sum(abs(p - a) <= 1 for p, a, _, _ in rj) / len(rj)
        out["rejoin stated chance"] = statistics.fmean(c for _, _, c, _ in rj)
    out["laps scored"] = len(laps)
    if laps:
        out["next-lap MAE"] = statistics.fmean(abs(y - f) for y, f, *_ in laps)
        out["last-lap MAE"] = statistics.fmean(abs(y - last) for y, _, _, _, last, _ in laps)
        out["stint-median MAE"] = statistics.fmean(abs(y - med) for y, *_, med in laps)
        out["80% interval coverage"] = sum(lo <= y <= hi for y, _, lo, hi, _, _ in laps) / len(laps)
    out["undercut attempts"] = len(uc)
    if uc:
        out["undercut sign right"] = sum((p > 0) == (r > 0) for p, r in uc) / len(uc)
    out["stop calls"] = len(st)
    if st:
        out["stop within 2 laps"] = sum(p is not None and abs(p - real) <= 2 for p, real, _ in st) / len(st)
        out["... and a stop more likely than none"] = sum(
            p is not None and abs(p - real) <= 2 and none < 0.5 for p, real, none in st) / len(st)
    real = [c for c in cl if c[2] is not None]
    out["stints"], out["stints with a cliff"] = len(cl), len(real)
    errors = [abs(first - c[2]) for c in real if (first := c[3]) is not None]
    if errors:
        out["cliff median error (laps)"] = statistics.median(errors)
    out["flat stints with a cliff forecast"] = sum(1 for c in cl if c[2] is None and c[3] is not None)
    out["... forecasting a lap the stint reached"] = sum(1 for c in cl if c[2] is None and c[4])
    t = sorted(x for x, _ in scores["timings"])
    out["update ms (median)"] = 1000 * statistics.median(t)
    out["update ms (max)"] = 1000 * t[-1]
    out["cars"] = max(c for _, c in scores["timings"])
    return out


def merge(all_scores: list[dict]) -> dict:
    merged = {k: [] for k in ("laps", "rejoins", "undercuts", "stops", "cliffs", "timings")}
    for s in all_scores:
        for k in merged:
            merged[k] += s[k]
    merged["green_stops"] = sum(s["green_stops"] for s in all_scores)
    return merged


def calibration(rejoins) -> list[tuple[str, int, float, float]]:
    """Stops binned by the stated chance of their predicted position: (bin, stops, mean chance, share right)."""
    bins = []
    for lo, hi in ((0.0, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.01)):
        inside = [(c, p == a) for p, a, c, _ in rejoins if lo <= c < hi]
        if inside:
            bins.append((f"{lo:.0%}-{min(hi, 1):.0%}", len(inside), statistics.fmean(c for c, _ in inside),
                         sum(h for _, h in inside) / len(inside)))
    return bins


def _verdict(ok: bool | None, text: str) -> str:
    return "no case" if ok is None else f"{'met' if ok else '**missed**'} ({text})"


def _rate(key: str, floor: float):
    return lambda v: _verdict(None if key not in v else v[key] >= floor, f"{v[key]:.0%}" if key in v else "")


def _laps(v: dict) -> str:
    if "next-lap MAE" not in v:
        return "no case"
    mae, best = v["next-lap MAE"], min(v["last-lap MAE"], v["stint-median MAE"])
    return _verdict(mae <= 0.35 and mae <= 0.75 * best, f"{mae:.3f} s; the better naive {best:.3f} s: "
                    f"{abs(1 - mae / best):.0%} {'below' if mae < best else 'above'} it")


TARGETS = [
    ("rejoin exact >= 70 %", _rate("rejoin exact", 0.70)),
    ("rejoin within one >= 90 %", _rate("rejoin within one", 0.90)),
    ("next-lap MAE <= 0.35 s and >= 25 % below both naive", _laps),
    ("80 % interval covers 75-85 %", lambda v: _verdict(
        None if "80% interval coverage" not in v else 0.75 <= v["80% interval coverage"] <= 0.85,
        f"{v.get('80% interval coverage', 0):.0%}")),
    ("undercut sign >= 80 %", _rate("undercut sign right", 0.80)),
    ("stop within 2 laps >= 60 % (3 laps before)", _rate("stop within 2 laps", 0.60)),
    ("cliff median error <= 3 laps", lambda v: _verdict(
        None if "cliff median error (laps)" not in v else v["cliff median error (laps)"] <= 3,
        f"{v.get('cliff median error (laps)', 0):.1f} laps")),
    ("no cliff forecast on a flat stint", lambda v: _verdict(
        v["flat stints with a cliff forecast"] == 0,
        f"{v['flat stints with a cliff forecast']} stints; {v['... forecasting a lap the stint reached']} with a "
        "forecast lap the stint reached")),
]


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def _synthetic(seeds: list[int], write: bool) -> int:
    from apexflow.simulator import SyntheticRace

    per, scores = {}, []
    for seed in seeds:
        s = backtest(from_fastf1(SyntheticRace(seed=seed, laps=57, cars=20).facts().laps), mandatory_stop=True)
        scores.append(s)
        per[f"synthetic seed {seed}"] = summary(s)
    per["overall"] = summary(merge(scores))
    _report(per, f"python -m benchmarks.strategy_backtest --synthetic {' '.join(map(str, seeds))} --write",
            "Strategy backtest on the simulator's races (not real)", write)
    return 0


def _report(per: dict, command: str, title: str, write: bool, merged: dict | None = None) -> None:
    keys = list(dict.fromkeys(k for v in per.values() for k in v))
    lines = [f"## {title} — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "", f"- command: `{command}`",
             f"- machine: {machine()}", "", "| figure | " + " | ".join(per) + " |", "|---|" + "---|" * len(per)]
    for k in keys:
        lines.append(f"| {k} | " + " | ".join(_fmt(v.get(k, "–")) for v in per.values()) + " |")
    lines += ["", "Against the targets (per session, then overall):", "", "| target | " + " | ".join(per) + " |",
              "|---|" + "---|" * len(per)]
    for name, check in TARGETS:
        lines.append(f"| {name} | " + " | ".join(check(v) for v in per.values()) + " |")
    if merged is not None:
        lines += ["", "Rejoin calibration (all sessions): stated chance of the predicted position against the share "
                  "right", "", "| stated | stops | mean stated | right |", "|---|---|---|---|"]
        lines += [f"| {b} | {n} | {m:.2f} | {r:.2f} |" for b, n, m, r in calibration(merged["rejoins"])]
    report("\n".join(lines) + "\n", write)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    parser.add_argument("--synthetic", type=int, nargs="*", metavar="SEED",
                        help="replay the simulator's 57-lap races of these seeds instead (a dry race with stops and "
                             "safety cars: a check of the whole engine, not evidence about real races)")
    args = parser.parse_args(argv)
    if args.synthetic:
        return _synthetic(args.synthetic, args.write)
    if not SHARED.is_dir():
        print(f"skipped: the shared FastF1 responses are not at {SHARED}")
        return 0
    per, scores = {}, []
    for year, event, code in SESSIONS:
        session_id, rows = load(year, event, code)
        s = backtest(rows, mandatory_stop=session_id.endswith("-r"))
        scores.append(s)
        per[session_id] = summary(s)
    merged = merge(scores)
    per["overall"] = summary(merged)
    _report(per, "python -m benchmarks.strategy_backtest --write", "Strategy backtest on the shared real sessions",
            args.write, merged)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
