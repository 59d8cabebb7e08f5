"""Throughput of the generic novelty score (``apexflow.detect.generic.novelty``), one core, in process.

Rows of a noisy periodic series with a few anomalies, fed in blocks of ``--block`` rows to one
detector whose state stays in memory between blocks (as ``apexflow detect`` and a long-running
consumer do): no process start-up, no file parsing. Measured for one channel and for 8 channels
scored jointly, the novelty score alone and the whole generic set of ``apexflow detect``
(novelty, stuck, gaps); each figure the best of ``--repeat`` runs after a warm-up run.

    python -m benchmarks.novelty_throughput [--rows 1000000] [--block 100000] [--repeat 3] [--write]
"""
from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import numpy as np

from apexflow.detect.generic import novelty
from apexflow.pipeline.detect_file import SeriesDetector
from benchmarks import busy, machine, report

TARGETS = {1: 1_000_000, 8: 500_000}


def series(rows: int, channels: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = 1.7e9 + np.arange(rows) * 10.0
    i = np.arange(rows)
    x = np.stack([np.sin(2 * np.pi * i / (90 + 17 * c)) * (5 + c) + rng.normal(0, 0.3, rows)
                  for c in range(channels)])
    for at in rng.integers(1000, rows, 20):
        x[int(at) % channels, at] += 8.0
    return t, x


def best_rate(run, t, x, block: int, repeat: int) -> float:
    seconds = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        run(t, x, block)
        seconds.append(time.perf_counter() - started)
    return len(t) / min(seconds[1:])


def novelty_only(t, x, block):
    state: dict = {}
    names = [f"c{i}" for i in range(len(x))]
    for a in range(0, len(t), block):
        novelty.process(state, t[a:a + block], x[:, a:a + block], names, want_scores=True)


def generic_set(t, x, block):
    det = SeriesDetector([f"c{i}" for i in range(len(x))])
    for a in range(0, len(t), block):
        det.update(t[a:a + block], x[:, a:a + block])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--block", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"## Generic novelty score throughput (one core) — {now}", "",
             f"- command: `python -m benchmarks.novelty_throughput --rows {args.rows} --block {args.block} "
             f"--repeat {args.repeat} --write`", f"- machine: {machine()}; {busy()}",
             f"- input: a noisy periodic series of {args.rows:,} rows (8 channels: {args.rows // 4:,} rows) with 20 "
             f"spikes, in blocks of {args.block:,} rows, state kept in memory; best of {args.repeat} after a warm-up",
             "", "| channels | novelty score alone (rows/s) | generic set of `apexflow detect` (rows/s) | target |",
             "|---|---|---|---|"]
    for channels, target in TARGETS.items():
        t, x = series(args.rows if channels == 1 else args.rows // 4, channels)
        alone = best_rate(novelty_only, t, x, args.block, args.repeat)
        full = best_rate(generic_set, t, x, args.block, args.repeat)
        lines.append(f"| {channels} | **{alone:,.0f}** | {full:,.0f} | {target:,} |")
    report("\n".join(lines) + "\n", args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
