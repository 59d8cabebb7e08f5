"""``apexflow ingest fastf1 --all`` and ``--list``: many F1 sessions ingested side by side.

Each session is one ``apexflow ingest fastf1`` (the real ingest handler, its stream analyzed, its insights
workflow run) in a worker process of its own, as each would be its own ingest Lambda in AWS: up to ``jobs`` at
once (default: the machine's cores). A worker keeps its moto S3 and Kinesis to itself; the database (and the
folder the local S3 is kept in) is shared. A session that cannot be ingested (unknown, not in FastF1's data, a
failure on the way) is reported with its reason and the others go on; ``run`` says how many succeeded.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from apexflow.errors import ContractError

REASON_CHARS = 400  # of a failure's reason on its line (FastF1's reasons list every stream it missed)


@dataclass
class Outcome:
    spec: dict
    seconds: float
    result: dict | None = None  # the ingest handler's, when it succeeded
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.spec['year']} {self.spec['event']} {self.spec['session']}"


def parse_list(text: str, where: str) -> list[dict]:
    """Sessions, one ``YEAR,EVENT,SESSION`` a line (``#`` starts a comment), as ingest requests."""
    specs = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3 or not parts[0].isdigit() or not all(parts):
            raise ContractError(f"{where} line {number}: {line!r} is not YEAR,EVENT,SESSION "
                                "(e.g. 2023,Azerbaijan,Q)")
        spec = {"source": "fastf1", "year": int(parts[0]), "event": parts[1], "session": parts[2]}
        if spec not in specs:  # a line given twice is one session
            specs.append(spec)
    if not specs:
        raise ContractError(f"{where} names no session; give one YEAR,EVENT,SESSION a line")
    return specs


def read_list(path: str) -> list[dict]:
    import sys

    if path == "-":
        return parse_list(sys.stdin.read(), "stdin")
    try:
        return parse_list(Path(path).read_text(), path)
    except OSError as e:
        raise ContractError(f"cannot read the session list {path}: {e.strerror}") from None


def season(years: list[int], event: str | None = None, session: str | None = None,
           now: datetime | None = None) -> list[dict]:
    """Every session of these years' schedules that has started by ``now`` (default: now), optionally only
    those of one event and of one session name or code, as ingest requests."""
    from apexflow.sources.fastf1 import FastF1Source
    from apexflow.sources.fastf1.events import match_event, match_session, schedule

    now = now or datetime.now(UTC)
    specs = []
    for year in years:
        FastF1Source(year, "", "")  # a year without F1 is refused here, with the years there are
        try:
            rows = schedule(year)
        except Exception as e:  # noqa: BLE001 - FastF1 raises plain ValueError/HTTP errors here
            raise ContractError(f"cannot load the {year} F1 schedule: {e}", "year") from None
        if event is not None:
            rows = [match_event(rows, event, year)]
        for row in rows:
            names = [row[f"Session{i}"] for i in range(1, 6) if row[f"Session{i}"]
                     and (row[f"Session{i}DateUtc"] is None or row[f"Session{i}DateUtc"] <= now)]
            if session is not None:
                names = [match_session({**row, "year": year}, session)] if names else []
            specs += [{"source": "fastf1", "year": year, "event": row["EventName"], "session": name}
                      for name in names]
    return specs


def _ingest(spec: dict) -> Outcome:
    """One session in a worker: ``apexflow ingest fastf1`` as the CLI runs it (quietly: no progress bars)."""
    from apexflow.sources import from_spec
    from apexflow_local import ingest_cli

    t0 = time.perf_counter()
    try:
        from_spec(spec)  # an unknown event or session is refused before anything starts
        result, _ = ingest_cli.run(spec)
        return Outcome(spec, time.perf_counter() - t0, result)
    except Exception as e:  # noqa: BLE001 - reported with the session, the others go on
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return Outcome(spec, time.perf_counter() - t0, error=f"{type(e).__name__}: {reason}"
                       if not isinstance(e, ContractError) else reason)


def run(specs: list[dict], jobs: int | None = None, report=print) -> list[Outcome]:
    """Ingest ``specs`` side by side, ``jobs`` at a time (default: the machine's cores), ``report``ing each
    outcome as it comes; the outcomes in the order given."""
    from apexflow.storage.db import database_url
    from apexflow.storage.migrate import migrate

    jobs = max(1, min(jobs or os.cpu_count() or 1, len(specs)))
    dsn = database_url()  # the embedded server, if that is the database, starts once and lives until the end
    migrate(dsn)
    env = {"DATABASE_URL": dsn, "TQDM_DISABLE": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the workers inherit it
    try:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_ingest, spec): i for i, spec in enumerate(specs)}
            outcomes: list[Outcome | None] = [None] * len(specs)
            for done in as_completed(futures):
                try:
                    outcome = done.result()
                except Exception as e:  # noqa: BLE001 - the worker itself died (killed, out of memory)
                    outcome = Outcome(specs[futures[done]], 0.0, error=f"its worker process failed: {e}")
                outcomes[futures[done]] = outcome
                report(outcome)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return [o for o in outcomes if o is not None]  # every future completed, so none is left None


def line(o: Outcome) -> str:
    """One outcome as the CLI prints it."""
    if o.error or o.result is None:
        error = o.error or "no result"
        reason = error if len(error) <= REASON_CHARS else error[:REASON_CHARS - 3] + "..."
        return f"failed  {o.name}: {reason} ({o.seconds:.1f} s)"
    r = o.result
    return (f"ok      {o.name}: {r['session_id']}, {r['entities']} entities, {r.get('laps', 0)} laps, "
            f"{r['chunks']} chunks, {r['samples']:,} samples ({o.seconds:.1f} s)")


def summary(outcomes: list[Outcome], seconds: float, jobs: int) -> str:
    ok = [o.result for o in outcomes if not o.error and o.result is not None]
    laps = sum(r.get("laps", 0) for r in ok)
    samples = sum(r["samples"] for r in ok)
    failed = [o.name for o in outcomes if o.error]
    return (f"backfilled {len(ok)} of {len(outcomes)} sessions in {seconds:.1f} s, {jobs} at a time: "
            f"{len(ok) / seconds * 60:.1f} sessions a minute, {laps:,} laps, {samples:,} samples"
            + (f"; failed: {', '.join(failed)}" if failed else ""))
