"""Strategy speed: one lap's update of every model plus the pit wall's predictions for 20 cars, on one core.

    python -m benchmarks.strategy_speed [--laps 57] [--write]

The laps are a synthetic 20-car race's timing (the project's simulator; deterministic by seed), replayed lap by
lap through ``StrategyEngine``; each lap's ``update`` + ``predictions`` is timed in CPU time of this process
(one core; a busy machine does not inflate it). Target: <= 50 ms per lap.
"""
from __future__ import annotations

import argparse
import statistics
import time

from apexflow.simulator import SyntheticRace
from apexflow.strategy import StrategyEngine, by_lap, from_fastf1
from benchmarks import machine, report

TARGET_MS = 50.0


def measure(seed: int, laps: int) -> list[float]:
    rows = from_fastf1(SyntheticRace(seed=seed, laps=laps, cars=20).facts().laps)
    engine = StrategyEngine(laps, mandatory_stop=True)
    out = []
    for lap_rows in by_lap(rows).values():
        started = time.process_time()
        engine.update(lap_rows)
        engine.predictions()
        out.append(1000 * (time.process_time() - started))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laps", type=int, default=57)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="append the result to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    ms = sorted(measure(args.seed, args.laps))
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    verdict = "met" if ms[-1] <= TARGET_MS else "missed"
    report("\n".join([
        f"## Strategy update speed (one core) — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
        f"- command: `python -m benchmarks.strategy_speed --laps {args.laps} --seed {args.seed} --write`",
        f"- machine: {machine()}",
        f"- a synthetic race of {args.laps} laps, 20 cars: per lap, every model's update and every car's predictions",
        f"- result: median **{statistics.median(ms):.1f} ms**, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms per lap "
        f"(target <= {TARGET_MS:.0f} ms: {verdict} on the slowest lap)", ""]), args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
