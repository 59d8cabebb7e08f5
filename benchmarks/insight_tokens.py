"""Tokens, estimated cost and grounding of the insights of a session: every prompt the workflow sends for it.

    .venv/bin/python -m benchmarks.insight_tokens [--laps 57] [--seed 3] [--write]

A synthetic race of 20 cars and, where the shared FastF1 responses are present, every shared real session
(races, sprints, qualifying, practice) is registered in a scratch database; its facts are built as a run builds
them and every prompt (the session summary, each driver, each critical detection) is made. Input tokens are
estimated at 4 characters a token; output tokens at the size of the offline record as JSON (a grounded answer of
the same content) and, as the worst case, at each scope's output cap. Then the OpenAI path itself: each prompt
sent by the real ``openai`` client to the local fake server of the tests (which answers the offline record of
the facts it is sent, with token counts at 4 characters a token), the answer's claims checked against the facts
(``grounding.py``): claims made, claims rejected, statements rejected, tokens and cost as the run stores them.
Cost at the default model's list price (``apexflow/insights/pricing.py``).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from apexflow.insights.facts import build, for_scope, numeric
from apexflow.insights.grounding import check
from apexflow.insights.offline import OfflineProvider
from apexflow.insights.openai_provider import OpenAIProvider
from apexflow.insights.pricing import DEFAULT_MODEL, DEFAULT_TOKEN_BUDGET, cost_usd
from apexflow.insights.prompt import MAX_OUTPUT_TOKENS, messages
from apexflow.insights.schema import statements
from apexflow.pipeline.ingest import register
from apexflow.query import insight_runs
from apexflow.simulator import SyntheticRace
from apexflow.storage.db import connect, transaction
from benchmarks import machine, report
from benchmarks.analyze_batches import scratch_database
from benchmarks.detection_quality import REAL_SESSIONS
from tests.fake_openai import FakeOpenAI

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fastf1-http-cache"


def sources(seed: int, laps: int):
    yield f"synthetic race, seed {seed}, {laps} laps", SyntheticRace(seed=seed, laps=laps)
    if SHARED.is_dir():
        import logging

        from apexflow.sources.fastf1.source import FastF1Source

        logging.getLogger("fastf1").setLevel(logging.ERROR)
        cache = tempfile.mkdtemp(prefix="fastf1-")
        for year, event, session in REAL_SESSIONS:
            yield f"{year} {event} {session} (real timing)", FastF1Source(year, event, session, cache_dir=cache,
                                                                          http_cache=SHARED, telemetry=False)


def openai_path(fake: FakeOpenAI, facts: dict, prompts: list) -> dict:
    """Every prompt through the real client to the fake server; its answers' claims checked against the facts."""
    provider = OpenAIProvider("sk-benchmark", base_url=fake.base_url, max_retries=0)
    out = {"claims": 0, "rejected": 0, "statements": 0, "statements_rejected": 0, "in": 0, "out": 0}
    for scope, key in prompts:
        part = for_scope(facts, scope, key)
        reply = provider.write(scope, part)
        said = statements(reply.body)
        problems = [check(st, part) for st in said]
        out["claims"] += sum(len(st.claims) for st in said)
        out["rejected"] += sum(1 for found in problems for p in found if ": claim " in p)
        out["statements"] += len(said)
        out["statements_rejected"] += sum(1 for found in problems if found)
        out["in"] += reply.tokens_in
        out["out"] += reply.tokens_out
    out["cost"] = cost_usd(DEFAULT_MODEL, out["in"], out["out"])
    return out


def measure(conn, source, fake: FakeOpenAI) -> dict:
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
            "worst": cost_usd(DEFAULT_MODEL, tokens_in, cap), "openai": openai_path(fake, facts, prompts)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--laps", type=int, default=57)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    rows = []
    fake = FakeOpenAI()
    try:
        with scratch_database() as dsn:
            conn = connect(dsn)
            for name, source in sources(args.seed, args.laps):
                try:
                    rows.append((name, measure(conn, source, fake)))
                except Exception as e:  # noqa: BLE001 - a session that does not load is reported, not fatal
                    print(f"{name}: not measured ({type(e).__name__}: {str(e)[:120]})")
            conn.close()
    finally:
        fake.close()
    when = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    lines = [f"## Insight tokens, cost and grounding per session — {when}", "",
             f"- command: `python -m benchmarks.insight_tokens --laps {args.laps} --seed {args.seed}"
             f"{' --write' if args.write else ''}`",
             f"- machine: {machine()}; model priced: {DEFAULT_MODEL}; run budget {DEFAULT_TOKEN_BUDGET:,} tokens",
             "- tokens estimated at 4 characters a token; output as long as the offline record (worst case: "
             "every answer at its output cap)", "",
             "| session | drivers | prompts | input tokens | output tokens | tokens | cost | worst case "
             "| critical evidence numbers with a unit (the others: lap numbers, positions, stints, sectors) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['drivers']} | {r['prompts']} | {r['in']:,} | {r['out']:,} | "
                     f"{r['in'] + r['out']:,} | ${r['cost']:.4f} | {r['in'] + r['cap']:,} tokens, ${r['worst']:.4f} "
                     f"| {r['with_unit']} of {r['numbers']} |")
    lines += ["", "The OpenAI path (real client, local fake server answering with the offline record; tokens as the "
              "server counts them, 4 characters a token):", "",
              "| session | prompts | statements | claims | claims rejected by grounding | statements rejected "
              "| input tokens | output tokens | cost |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows:
        o = r["openai"]
        lines.append(f"| {name} | {r['prompts']} | {o['statements']:,} | {o['claims']:,} | {o['rejected']} | "
                     f"{o['statements_rejected']} | {o['in']:,} | {o['out']:,} | ${o['cost']:.4f} |")
    report("\n".join(lines) + "\n", args.write)
    return 0 if all(r["in"] + r["cap"] <= DEFAULT_TOKEN_BUDGET for _, r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
