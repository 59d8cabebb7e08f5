"""Tokens and estimated cost of the insights of one race: every prompt the workflow sends for it.

    .venv/bin/python -m benchmarks.insight_tokens [--laps 57] [--seed 3] [--write]

A synthetic race of 20 cars (and, where the shared FastF1 responses are present, the two real sprints) is
registered in a scratch database; its facts are built as a run builds them and every prompt (the session
summary, each driver, each critical detection) is made. Input tokens are estimated at 4 characters a token
(what OpenAI bills is in each insight's ``tokens_in``); output tokens at the size of the offline record as JSON
(a grounded answer of the same content) and, as the worst case, at each scope's output cap. Cost at the
default model's list price (``apexflow/insights/pricing.py``).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from apexflow.pipeline.ingest import register
from apexflow.insights.facts import numeric, build, for_scope
from apexflow.insights.offline import OfflineProvider
from apexflow.insights.pricing import DEFAULT_MODEL, DEFAULT_TOKEN_BUDGET, cost_usd
from apexflow.insights.prompt import MAX_OUTPUT_TOKENS, messages
from apexflow.query import insight_runs
from apexflow.simulator import SyntheticRace
from apexflow.storage.db import connect, transaction
from benchmarks import machine, report
from benchmarks.analyze_batches import scratch_database

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fastf1-http-cache"
SPRINTS = ((2023, "Azerbaijan", "S"), (2025, "Miami", "S"))


def sources(seed: int, laps: int):
    yield f"synthetic race, seed {seed}, {laps} laps", SyntheticRace(seed=seed, laps=laps)
    if SHARED.is_dir():
        from apexflow.sources.fastf1.source import FastF1Source

        cache = tempfile.mkdtemp(prefix="fastf1-")
        for year, event, session in SPRINTS:
            yield f"{year} {event} sprint (real timing)", FastF1Source(year, event, session, cache_dir=cache,
                                                                       http_cache=SHARED, telemetry=False)


def measure(conn, source) -> dict:
    session = source.session()
    with transaction(conn) as cur:
        register(cur, session, source.facts(), "benchmark")
        facts = build(insight_runs.insight_inputs(cur, session.session_id))
    prompts = [("session", None), *(("driver", d) for d in facts["drivers"]),
               *(("detection", d["detection_id"]) for d in facts["critical"])]
    tokens_in = tokens_out = cap = 0
    for scope, key in prompts:
        part = for_scope(facts, scope, key)
        tokens_in += sum(len(m["content"]) for m in messages(scope, part)) // 4
        tokens_out += len(json.dumps(OfflineProvider().write(scope, part).body.model_dump())) // 4
        cap += MAX_OUTPUT_TOKENS[scope]
    numbers = [(k, d) for d in facts["critical"] for k, v in d["evidence"].items() if numeric(v)]
    return {"drivers": len(facts["drivers"]), "prompts": len(prompts), "in": tokens_in, "out": tokens_out,
            "numbers": len(numbers), "with_unit": sum(k in d["units"] for k, d in numbers),
            "cap": cap, "cost": cost_usd(DEFAULT_MODEL, tokens_in, tokens_out),
            "worst": cost_usd(DEFAULT_MODEL, tokens_in, cap)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--laps", type=int, default=57)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    rows = []
    with scratch_database() as dsn:
        conn = connect(dsn)
        for name, source in sources(args.seed, args.laps):
            rows.append((name, measure(conn, source)))
        conn.close()
    lines = [f"## Insight tokens and cost per race — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             f"- command: `python -m benchmarks.insight_tokens --laps {args.laps} --seed {args.seed}"
             f"{' --write' if args.write else ''}`",
             f"- machine: {machine()}; model priced: {DEFAULT_MODEL}; run budget {DEFAULT_TOKEN_BUDGET:,} tokens",
             "- tokens estimated at 4 characters a token; output as long as the offline record (worst case: "
             "every answer at its output cap)", "",
             "| race | drivers | prompts | input tokens | output tokens | tokens | cost | worst case "
             "| critical evidence numbers with a unit (the others: lap numbers, positions, stints, sectors) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['drivers']} | {r['prompts']} | {r['in']:,} | {r['out']:,} | "
                     f"{r['in'] + r['out']:,} | ${r['cost']:.4f} | {r['in'] + r['cap']:,} tokens, ${r['worst']:.4f} "
                     f"| {r['with_unit']} of {r['numbers']} |")
    report("\n".join(lines) + "\n", args.write)
    return 0 if all(r["in"] + r["cap"] <= DEFAULT_TOKEN_BUDGET for _, r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
