"""Alarms of the generic novelty score on series of other shapes: how often it pages for nothing, and
whether it still raises what matters.

Clean series of shapes other industries live with (``SHAPES``: bursty counts, a random walk, noisy
daily and weekly seasonality, irregular sampling, level changes that persist, plain Gaussian noise),
``--rows`` rows each, ``--seeds`` seeds. For each: the alarm onsets per 10,000 rows (the target: at
most 2). Then the same series with one anomaly planted at row ``ONSET`` (``PLANTS``: a spike, a
level shift, a change of variance, a change of period where the shape has one), sized on the
series' own spread: raised when an alarm comes within ``WITHIN`` rows of it (the target: every
one; the table gives each one's delay, "never" past ``LATE`` rows), and scored with NAB's scorer
(``benchmarks/nab.py``, all three profiles) over all planted series and the clean ones (which have no
window: every alarm there is a false positive). And 500,000 rows of Gaussian noise: alarms raised.

    python -m benchmarks.alarms [--rows 20000] [--seeds 1 2 3] [--write]
"""
from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import numpy as np

from apexflow.detect.generic import novelty
from benchmarks import machine, nab, report

ONSET_SHARE, WITHIN, LATE, TARGET_PER_10K = 0.6, 5, 1000, 2.0
DAY, WEEK = 86_400.0, 7 * 86_400.0


def _noise(rng, n, sd=1.0):
    return rng.normal(0.0, sd, n)


def shape(name: str, n: int, seed: int, faster_from: int | None = None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """``(t, x, noise, periodic)`` of a clean series (the noise: the part a change of variance scales);
    ``faster_from``: the row from which its seasonality runs twice as fast."""
    rng = np.random.default_rng(seed)
    i = np.arange(n, dtype=np.float64)

    def phase(t):  # the clock the seasonality follows
        if faster_from is None:
            return t
        return np.where(t >= t[faster_from], t[faster_from] + 2.0 * (t - t[faster_from]), t)
    if name == "bursty counts":  # requests per minute: a quiet rate with bursts of a few minutes
        t = 1.7e9 + 60.0 * i
        burst = np.convolve(rng.random(n) < 0.01, np.ones(4), mode="same") > 0
        lam = np.where(burst, 25.0, 3.0)
        x = rng.poisson(lam).astype(np.float64)
        return t, x, x - lam, False
    if name == "random walk":  # a price
        t = 1.7e9 + 60.0 * i
        steps = _noise(rng, n)
        return t, 100.0 + np.cumsum(steps), steps, False
    if name == "daily seasonality":  # a server's load every 5 minutes
        t = 1.7e9 + 300.0 * i
        noise = _noise(rng, n, 3.0)
        return t, 50.0 + 20.0 * np.sin(2 * np.pi * phase(t) / DAY) + noise, noise, True
    if name == "weekly seasonality":  # hourly traffic: days and a quieter weekend
        t = 1.7e9 + 3600.0 * i
        noise = _noise(rng, n, 4.0)
        weekend = ((phase(t) % WEEK) / DAY) >= 5.0
        x = 100.0 + 40.0 * np.sin(2 * np.pi * phase(t) / DAY) * np.where(weekend, 0.4, 1.0) - 30.0 * weekend + noise
        return t, x, noise, True
    if name == "irregular sampling":  # a sensor reporting when it can: 10 s to 10 min apart
        t = 1.7e9 + np.cumsum(rng.exponential(120.0, n) + 10.0)
        noise = _noise(rng, n, 1.0)
        return t, 20.0 + 5.0 * np.sin(2 * np.pi * phase(t) / DAY) + noise, noise, True
    if name == "level changes":  # a setpoint that moves now and then and stays
        t = 1.7e9 + 60.0 * i
        moves = np.flatnonzero(rng.random(n) < 1 / 3000)
        level = np.zeros(n)
        for m in moves:
            level[m:] += rng.normal(0.0, 6.0)
        noise = _noise(rng, n)
        return t, 10.0 + level + noise, noise, False
    if name == "gaussian noise":
        t = 1.7e9 + 1.0 * i
        noise = _noise(rng, n)
        return t, noise.copy(), noise, False
    raise ValueError(name)


SHAPES = ["bursty counts", "random walk", "daily seasonality", "weekly seasonality", "irregular sampling",
          "level changes", "gaussian noise"]
PLANTS = ["spike", "level shift", "variance x4", "period /2"]


def plant(kind: str, name: str, seed: int, n: int, at: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(t, x)``: the clean series with one anomaly from row ``at``, sized on its own spread (None: not
    for this shape)."""
    t, x, noise, periodic = shape(name, n, seed)
    before = x[max(0, at - 2000):at]
    spread = np.percentile(before, 99) - np.percentile(before, 1)
    step = np.median(np.abs(np.diff(before))) / 0.6745 + 1e-9
    if kind == "spike":
        x[at] = before.max() + max(0.5 * spread, 8 * step)
    elif kind == "level shift":
        x[at:] += max(0.5 * spread, 8 * step)
    elif kind == "variance x4":
        x[at:] += 3.0 * noise[at:]
    elif not periodic:
        return None
    else:
        t, x, _, _ = shape(name, n, seed, faster_from=at)
    return t, x


def alarms_of(t: np.ndarray, x: np.ndarray, block: int = 50_000) -> np.ndarray:
    """Alarm rows of the novelty score over a series fed in blocks (state kept between them)."""
    state: dict = {}
    out = []
    for a in range(0, len(t), block):
        _, sc = novelty.process(state, t[a:a + block], x[None, a:a + block], ["value"], want_scores=True)
        out.append(np.flatnonzero(sc["alarm"]) + a)
    return np.concatenate(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--noise-rows", type=int, default=500_000)
    parser.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    n, at = args.rows, int(ONSET_SHARE * args.rows)
    nab_series, lines_shape = [], []
    raised: dict[str, list] = {p: [] for p in PLANTS}
    worst = 0.0
    for name in SHAPES:
        onsets, delays = 0, {p: [] for p in PLANTS}
        for seed in args.seeds:
            t, x, _, _ = shape(name, n, seed)
            al = alarms_of(t, x)
            onsets += len(al)
            nab_series.append((n, [], al))
            for p in PLANTS:
                planted = plant(p, name, seed, n, at)
                if planted is None:
                    continue
                got = alarms_of(*planted)
                hit = got[(got >= at) & (got <= at + LATE)]
                delays[p].append(int(hit[0] - at) if len(hit) else None)
                raised[p].append(bool(len(hit)) and hit[0] - at <= WITHIN)
                nab_series.append((n, [at], got))
        per_10k = onsets / (n * len(args.seeds)) * 1e4
        worst = max(worst, per_10k)
        cells = []
        for p in PLANTS:
            d = delays[p]
            cells.append("-" if not d else f"{sum(v is not None and v <= WITHIN for v in d)}/{len(d)} (rows late: "
                         + ", ".join("never" if v is None else str(v) for v in d) + ")")
        lines_shape.append(f"| {name} | {per_10k:.2f} | " + " | ".join(cells) + " |")
    noise_t = np.arange(args.noise_rows, dtype=np.float64)
    noise_al = alarms_of(noise_t, np.random.default_rng(0).normal(0.0, 1.0, args.noise_rows))
    scores = {name: nab.score(nab_series, prof) for name, prof in nab.PROFILES.items()}
    caught = sum(sum(v) for v in raised.values())
    total = sum(len(v) for v in raised.values())
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"## Alarms on generated series of other shapes — {now}", "",
             f"- command: `python -m benchmarks.alarms --rows {n} --seeds {' '.join(map(str, args.seeds))} --write`",
             f"- machine: {machine()}",
             f"- input: {len(SHAPES)} clean shapes x {len(args.seeds)} seeds x {n:,} rows, one channel; the same with "
             f"one anomaly planted at row {at:,} (sized on the series' own 1-99 % spread and row-to-row noise); "
             f"{time.perf_counter() - started:.0f} s in all", "",
             f"| clean shape | alarm onsets per 10,000 rows (target <= {TARGET_PER_10K:g}) | "
             + " | ".join(f"{p}: raised within {WITHIN} rows" for p in PLANTS) + " |",
             "|---|---|" + "---|" * len(PLANTS), *lines_shape, "",
             f"- worst clean shape: {worst:.2f} alarm onsets per 10,000 rows; planted anomalies raised within {WITHIN} "
             f"rows: {caught}/{total}",
             f"- {args.noise_rows:,} rows of Gaussian noise: {len(noise_al)} alarms "
             f"({len(noise_al) / args.noise_rows * 1e4:.2f} per 10,000 rows)",
             f"- NAB scorer over the {len(nab_series)} series (clean ones: no window, every alarm a false positive): "
             + ", ".join(f"{k} {v:.1f}" for k, v in scores.items())]
    report("\n".join(lines) + "\n", args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
