"""The story a session summary tells, per shared real session: story items stated against the items FastF1's own
data lists (``benchmarks/story_truth.py``), and the claims the summary's sentences carry.

    .venv/bin/python -m benchmarks.story_items [--write]

Each of the 14 shared sessions (``../shared/data/fastf1-http-cache``, or ``$APEXFLOW_SHARED_DATA``) is loaded by
FastF1 from the frozen responses, registered in a scratch database, its facts built as an insights run builds them
and its session summary written by the offline provider. Without the shared data it says so and exits 0.
"""
from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from benchmarks import machine, report
from benchmarks.story_truth import SESSIONS, stated, truth

SHARED = Path(os.environ.get("APEXFLOW_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
CACHE = SHARED / "fastf1-http-cache"


def measure(conn, key, cache_dir) -> dict:
    from apexflow.insights.facts import build, for_scope
    from apexflow.insights.offline import OfflineProvider
    from apexflow.insights.story import tell
    from apexflow.pipeline.ingest import register
    from apexflow.query import insight_runs
    from apexflow.sources.fastf1.source import FastF1Source
    from apexflow.storage.db import transaction

    src = FastF1Source(*key, cache_dir=cache_dir, http_cache=CACHE, telemetry=False)
    with transaction(conn) as cur:
        register(cur, src.session(), src.facts(), "benchmark")
        facts = build(insight_runs.insight_inputs(cur, src.session().session_id))
    body = OfflineProvider().write("session", for_scope(facts, "session")).body
    items = truth(src.load())
    told = [i for i in items if stated(i, [str(s) for s in (body.headline, *body.race_story)])]
    sentences = tell(facts)
    return {"items": len(items), "stated": len(told), "missing": [i for i in items if i not in told],
            "sentences": len(sentences), "claims": sum(len(s["claims"]) for s in sentences)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    if not CACHE.is_dir():
        print(f"shared FastF1 responses not found at {CACHE}: nothing to measure")
        return 0
    from apexflow.storage.db import connect
    from benchmarks.analyze_batches import scratch_database

    logging.getLogger("fastf1").setLevel(logging.ERROR)
    rows = []
    with scratch_database() as dsn, tempfile.TemporaryDirectory() as cache_dir:
        conn = connect(dsn)
        for key in SESSIONS:
            rows.append((key, measure(conn, key, cache_dir)))
        conn.close()
    total, stated_ = sum(r["items"] for _, r in rows), sum(r["stated"] for _, r in rows)
    lines = [f"## Story items stated per shared session — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             f"- command: `python -m benchmarks.story_items{' --write' if args.write else ''}`",
             f"- machine: {machine()}; provider: offline (templates over the facts)",
             ("- items from FastF1's own data (`benchmarks/story_truth.py`): winner, leader changes, retirements and "
             "non-starters, penalties, red flags / SC / VSC and their causes, pole and eliminations, fastest in "
             "practice"),
             "- the templates were developed on these sessions: races never seen are the real test", "",
             "| session | items stated / total | not stated | summary sentences | claims |", "|---|---|---|---|---|"]
    for (year, event, session), r in rows:
        lines.append(f"| {year} {event} {session} | {r['stated']} / {r['items']} | "
                     f"{', '.join(' '.join(map(str, i)) for i in r['missing']) or '—'} | {r['sentences']} | "
                     f"{r['claims']} |")
    lines.append(f"| **all 14** | **{stated_} / {total}** | | | |")
    report("\n".join(lines) + "\n", args.write)
    return 0 if stated_ == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
