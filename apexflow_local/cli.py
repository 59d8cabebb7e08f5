"""The ``apexflow`` command."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from apexflow.contract import SEVERITIES
from apexflow.errors import ContractError


def _demo(args) -> int:
    from apexflow_local import demo

    result = demo.run(seed=args.seed, laps=args.laps, persist=True)
    print(demo.report(result))
    return 0


def _insights(args) -> int:
    from apexflow_local import insights_cli
    from apexflow_local.stack import local_stack

    drivers = [d.strip().upper() for item in args.driver or [] for d in item.split(",") if d.strip()]
    with local_stack():
        result = insights_cli.run(args.session, args.provider, drivers)
    print(insights_cli.report(result))
    return 0


def _migrate(args) -> int:
    from apexflow.storage.db import database_url
    from apexflow.storage.migrate import migrate

    applied = migrate(database_url())
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0


def _report(args) -> int:
    from pathlib import Path

    from apexflow.errors import SessionNotFound
    from apexflow.report import render
    from apexflow.storage.db import connect

    conn = connect(_local_database())
    try:
        with conn.cursor() as cur:
            html = render(cur, args.session)
    except SessionNotFound as e:
        print(f"apexflow: error: {e}", file=sys.stderr)
        return 2
    finally:
        conn.close()
    out = Path(args.out or f"{args.session}.html")
    out.write_text(html)
    print(f"wrote the report of {args.session} to {out.resolve()} ({len(html) / 1e6:.1f} MB, opens offline)")
    return 0


def _local_database() -> str:
    """The DSN; the embedded database (no ``DATABASE_URL``) migrated first, as every other local command does."""
    from apexflow.storage.db import database_url
    from apexflow.storage.migrate import migrate

    dsn = database_url()
    if not os.environ.get("DATABASE_URL"):
        migrate(dsn)
    return dsn


def _reading(read):
    """``read(cur)`` on a read-only transaction of the local database (migrated first), the connection closed after."""
    from apexflow.storage.db import connect, read_only

    conn = connect(_local_database())
    try:
        with read_only(conn) as cur:
            return read(cur)
    finally:
        conn.close()


def _grafana(args) -> int:
    from apexflow.storage.db import database_url
    from apexflow_local.grafana import grafana_instructions

    print(grafana_instructions(database_url()))
    return 0


def _assignments(items: list[str] | None, flag: str, form: str, commas: bool) -> dict[str, str]:
    """``KEY=VALUE`` options (repeatable; with ``commas`` also comma-separated) as a dict; a key given twice
    is an error."""
    out: dict[str, str] = {}
    for item in items or []:
        for part in (p.strip() for p in item.split(",")) if commas else [item]:
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or (commas and not value.strip()):  # a unit may be empty
                raise ContractError(f"{flag} takes {form}, got {part!r}")
            key, value = key.strip(), value.strip()
            if key in out:
                raise ContractError(f"{flag}: {key!r} is given twice ({out[key]!r} and {value!r})")
            out[key] = value
    return out


def _ingest(args) -> int:
    from apexflow.pipeline.replay import check_speed
    from apexflow.sources import from_spec
    from apexflow_local import ingest_cli

    check_speed(args.speed)
    if args.kind == "fastf1" and (args.all or args.list):
        return _backfill(args)
    if args.kind == "fastf1":
        for flag in ("event", "session"):
            if getattr(args, flag) is None:
                raise ContractError(f"--{flag} is required (or --all for every session of --year, or --list FILE)")
        if len(args.year) != 1:
            raise ContractError(f"one --year for one session, got {len(args.year)}; --all backfills several years")
        spec = {"source": "fastf1", "year": args.year[0], "event": args.event, "session": args.session}
    else:
        fmt = args.format or ("jsonl" if args.file.lower().endswith((".jsonl", ".ndjson", ".json")) else "csv")
        spec = {"source": fmt, "path": args.file, "entity_col": args.entity_col, "time_col": args.time_col,
                "session_id": args.session_id, "start_time": args.start_time,
                "units": _assignments(args.unit, "--unit", "NAME=UNIT", commas=False),
                "channels": args.channels.split(",") if args.channels else None, "profile": args.profile,
                "map": _assignments(args.map, "--map", "COLUMN=CHANNEL", commas=True)}
    from_spec(spec)  # a bad request (a missing file, a year without F1) fails here, before anything starts
    spec["chunk_seconds"] = args.chunk_seconds
    if args.speed is not None:
        spec["speed"] = args.speed
    result, where = ingest_cli.run(spec, aws=args.aws)
    print(ingest_cli.report(result, where))
    return 0


def _backfill(args) -> int:
    """Many sessions side by side; exit 0 when every one was ingested, 1 when any failed."""
    import time

    from apexflow_local import backfill

    if args.aws or args.speed is not None:
        raise ContractError("--all and --list ingest locally and as fast as possible: drop --aws and --speed "
                            "(in AWS, invoke the ingest function once per session)")
    if args.jobs is not None and args.jobs < 1:
        raise ContractError(f"--jobs must be at least 1, got {args.jobs}")
    if args.list:
        if args.all or args.year or args.event or args.session:
            raise ContractError("--list names its sessions itself: give it without --all, --year, --event and "
                                "--session")
        specs = backfill.read_list(args.list)
    else:
        if not args.year:
            raise ContractError("--all needs --year (one or more years)")
        specs = backfill.season(args.year, args.event, args.session)
        if not specs:
            raise ContractError(f"no session of {', '.join(map(str, args.year))} matches; nothing to backfill")
    for spec in specs:
        spec["chunk_seconds"] = args.chunk_seconds
    jobs = max(1, min(args.jobs or os.cpu_count() or 1, len(specs)))
    print(f"backfilling {len(specs)} sessions, {jobs} at a time", flush=True)
    t0 = time.perf_counter()
    outcomes = backfill.run(specs, jobs, report=lambda o: print(backfill.line(o), flush=True))
    print(backfill.summary(outcomes, time.perf_counter() - t0, jobs))
    return 0 if all(o.error is None for o in outcomes) else 1


def _reprocess(args) -> int:
    from apexflow.errors import RawDataMissing
    from apexflow_local import ingest_cli, s3_dir

    try:
        r, where = ingest_cli.reprocess(args.session, aws=args.aws)
    except RawDataMissing as e:
        keep = ("RAW_BUCKET" if args.aws else
                f"local mode keeps raw data in {s3_dir.folder()} (APEXFLOW_S3_DIR; or s3 in APEXFLOW_HOME, --home)")
        print(f"apexflow: error: {e}; nothing was changed. Ingest the session first (apexflow ingest ..., apexflow "
              f"demo), or check the session id (apexflow sessions lists those in the database); {keep}",
              file=sys.stderr)
        return 2
    print(f"reprocessed {r['session_id']} (run {r['run_id']}) from its raw run: {r['entities']} entities, "
          f"{r['chunks']} chunks, {r['samples']:,} samples streamed again through {where}")
    return 0


def _live(args) -> int:
    from apexflow.pipeline.replay import check_speed
    from apexflow_local import live_cli

    check_speed(args.speed)
    spec = {"source": args.source, "session": args.session, "replay": args.replay, "speed": args.speed,
            "mqtt": args.mqtt, "latency": args.latency, "idle": args.idle}
    result = live_cli.run({k: v for k, v in spec.items() if v is not None}, aws=args.aws,
                          strategy_laps=args.strategy)
    print(f"closed {result['session_id']} ({result['reason']}): {len(result.get('entities', []))} entities, "
          f"{result.get('laps', 0)} laps, {result['chunks']} chunks, {result['samples']:,} samples"
          + (f" to {result['location']}" if result.get("location") else ""))
    _print_damage(result)
    return 0


def _print_damage(result: dict) -> None:
    """The feed gaps (which source, when, how long), the messages skipped by kind, and a recording's damaged
    lines (with the first one's number)."""
    for g in result.get("feed_gaps") or []:
        until = f"{g['to_s']:.1f} s ({g['to_s'] - g['from_s']:.1f} s)" if g["to_s"] is not None else "the end"
        print(f"feed gap: {g['source']}{' ' + g['car'] if g.get('car') else ''} from {g['from_s']:.1f} s to "
              f"{until}: {g['reason']}")
    if result.get("bad_messages"):
        print("skipped messages: " + ", ".join(f"{n} {k}" for k, n in sorted(result["bad_messages"].items())))
    rec = result.get("recording")
    if rec and rec["bad"]:
        print("damaged recording lines: " + ", ".join(f"{n} {k}" for k, n in sorted(rec["bad"].items()))
              + f" of {rec['lines']:,} (first at line {rec['first_bad_line']})")


def _record(args) -> int:
    from pathlib import Path

    from apexflow_aws import live_runner

    spec = {"source": args.source, "session": args.session, "replay": args.replay, "mqtt": args.mqtt}
    result = live_runner.record({k: v for k, v in spec.items() if v is not None}, Path(args.file), idle=args.idle)
    print(f"recorded {result['messages']:,} messages to {result['path']} ({result['reason']}) in FastF1's "
          "live-timing format")
    _print_damage(result)
    return 0


def _detect(args) -> int:
    from apexflow.pipeline.detect_file import detect_file, report

    result = detect_file(args.file, args.time_col, args.value_col, out=args.out, block=args.block,
                         vmin=args.min, vmax=args.max, delimiter=args.delimiter, sort=args.sort,
                         windows=args.windows, forecast=args.forecast)
    print(report(result, args.out))
    return 0


def _serve(args) -> int:
    from apexflow_local import serve

    serve.run(port=args.port, demo_laps=args.demo)
    return 0


def _show(args) -> int:
    """``apexflow sessions|detections|laps``: the same query code as the API's routes, printed."""
    import json

    from apexflow.query import detections, laps, sessions
    from apexflow.query.formats import to_csv, to_table

    def read(cur):
        if args.command == "sessions":
            found = sessions.sessions(year=args.year, event=args.event).all(cur)
            columns = ["session_id", "source", "year", "event", "session_name", "start_time", "drivers",
                       "detections", "status"]
            if args.format == "table":
                found = [{**r, "status": sessions.status_text(r)} for r in found]
        else:
            sessions.require(cur, args.session)
            if args.command == "laps":
                found = laps.laps(args.session, driver=args.driver, compound=args.compound).all(cur)
                columns = ["driver", "lap_number", "lap_time", "sector1_time", "sector2_time", "sector3_time",
                           "stint", "compound", "tyre_life", "position", "track_status"]
            else:
                found = detections.detections(args.session, kind=args.kind, driver=args.driver,
                                              severity=args.severity).all(cur)
                columns = ["driver", "kind", "severity", "score", "t_start", "t_end", "lap", "channel"]
        return found, columns

    found, columns = _reading(read)
    if args.format == "json":
        print(json.dumps(found, indent=1, default=str))
    elif args.format == "csv":
        print(to_csv(found), end="")
    else:
        print(to_table(found, columns) if found else f"no {args.command} found")
    return 0


def _strategy(args) -> int:
    """``apexflow strategy SESSION``: the pit wall's table after a lap (default: the last), read-only."""
    import json

    from apexflow.query import strategy
    from apexflow.query.formats import to_csv, to_table

    def read(cur):
        last = strategy.last_lap(cur, args.session)
        lap = args.lap if args.lap is not None else last
        return last, lap, strategy.predictions(cur, args.session, lap=lap, driver=args.driver and args.driver.upper())

    last, lap, found = _reading(read)
    if args.format == "json":
        print(json.dumps(found, indent=1, default=str))
    elif args.format == "csv":
        print(to_csv(found), end="")
    else:
        print(f"{args.session} after lap {lap} of {last}: pit loss {found[0]['pit_loss']:.1f} s" if found else "")
        print(to_table(found, strategy.TABLE, width=90) if found else "no car running after that lap")
    return 0


def _feeds(args) -> int:
    """``apexflow feeds SESSION``: each source's and car's state, then the gaps (the query the API's route runs)."""
    import json

    from apexflow.query import sessions

    found = _reading(lambda cur: sessions.feeds(cur, args.session))
    if args.format == "json":
        print(json.dumps(found, indent=1, default=str))
        return 0
    if not found["sources"]:
        print(f"{args.session} was not followed live: no feed health")
        return 0
    print(f"{args.session}: live {found['live']}, as of {found['at_s']:.1f} s")
    for kind in ("sources", "cars"):
        for name, s in found[kind].items():
            rate = f"{s['rate_per_s']:.2f}/s" if s["rate_per_s"] is not None else "-"
            age = f"{s['newest_age_s']:.1f} s" if s["newest_age_s"] is not None else "-"
            print(f"  {name:<14}{s['state']:<26}{s['messages']:>8} msgs {rate:>9}  newest {age:>8} ago  "
                  f"{s['stale_repeats']} stale, {len(s['gaps'])} gaps")
    for g in found["gaps"]:
        end = f"{g['t_end']:.1f} s" if g["state"] == "cleared" else "open"
        print(f"  gap {g['source']}{' ' + g['car'] if g['car'] else ''} {g['severity']}: {g['t_start']:.1f} s to "
              f"{end} ({g['reason']})")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="apexflow", description="Telemetry in, detections and insight out.")
    p.add_argument("--home", metavar="DIR",
                   help="folder of local mode's state: embedded database, buckets, reports (default: APEXFLOW_HOME, "
                        "else .apexflow in the current folder)")
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the whole pipeline locally on a synthetic race")
    demo.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    demo.add_argument("--laps", type=int, default=6, help="race length in laps (default 6; a full race is 57)")
    demo.set_defaults(func=_demo)
    det = sub.add_parser("detect", help="run the generic streaming detectors on a time-series CSV file")
    det.add_argument("file", help="CSV file with a header row (gzip read as is; - for standard input)")
    det.add_argument("--time-col", required=True, help="timestamp column (ISO-8601, 'YYYY-MM-DD HH:MM:SS' or seconds)")
    det.add_argument("--value-col", required=True,
                     help="numeric value column, several as a,b,c (scored jointly), or 'all' (every other column)")
    det.add_argument("--out", help="write per row the anomaly score in [0, 1], the alarm (1 where an anomaly is "
                                        "raised) and the channels behind it to this CSV")
    det.add_argument("--windows", help="write the flagged windows to this JSON file")
    det.add_argument("--min", type=float, default=float("-inf"), help="physical minimum of the value (optional)")
    det.add_argument("--max", type=float, default=float("inf"), help="physical maximum of the value (optional)")
    det.add_argument("--block", type=int, default=4096, help="rows per detector call (any value gives the same result)")
    det.add_argument("--delimiter", default=",", help="field delimiter (default ','; '\\t' or 'tab' for tabs)")
    det.add_argument("--sort", action="store_true", help="sort the rows by time first (in memory), for shuffled "
                     "files; otherwise rows out of order are scored as they come and reported")
    det.add_argument("--forecast", action="store_true",
                     help="also forecast the time left before each channel crosses --min/--max (else its learnt range)")
    det.set_defaults(func=_detect)
    report = sub.add_parser("report", help="write a session's report: one self-contained HTML page")
    report.add_argument("session", help="session id, e.g. sim-s7-l6 or f1-2025-miami-grand-prix-s")
    report.add_argument("--out", help="file to write (default: SESSION.html)")
    report.set_defaults(func=_report)
    grafana = sub.add_parser("grafana", help="print how to point a Grafana at the provisioned dashboards")
    grafana.set_defaults(func=_grafana)
    ins = sub.add_parser("insights", help="run the insights workflow on a stored session and print its insights")
    ins.add_argument("session", help="session id, e.g. sim-s7-l6 or fastf1-2025-miami-s")
    ins.add_argument("--provider", choices=["openai", "offline"],
                     help="default: openai when a key is configured (OPENAI_API_KEY), else offline")
    ins.add_argument("--driver", action="append", metavar="CODE",
                     help="only these drivers (repeatable or comma-separated, e.g. VER,NOR); the session summary "
                          "is always written")
    ins.set_defaults(func=_insights)
    db = sub.add_parser("db", help="database commands")
    db.add_argument("action", choices=["migrate"])
    db.set_defaults(func=_migrate)
    ingest = sub.add_parser("ingest", help="ingest a session into S3 + Kinesis and register it")
    kinds = ingest.add_subparsers(dest="kind", required=True)
    f1 = kinds.add_parser("fastf1", help="an F1 session through FastF1")
    f1.add_argument("--year", type=int, nargs="+", help="the session's year (with --all, one or more years)")
    f1.add_argument("--event", help="event name, place, country or round, e.g. Miami (with --all: only this event)")
    f1.add_argument("--session", help="FP1, FP2, FP3, SQ, SS, S, Q, R or the full name (with --all: only these)")
    f1.add_argument("--all", action="store_true",
                    help="backfill every session of --year's schedules held so far, side by side; a session that "
                         "fails is reported and the others go on; exit 1 if any failed")
    f1.add_argument("--list", metavar="FILE",
                    help="backfill the sessions in FILE (- for stdin), one YEAR,EVENT,SESSION a line, side by side")
    f1.add_argument("--jobs", type=int, help="sessions at once with --all or --list (default: the machine's cores)")
    csv = kinds.add_parser("csv", help="a CSV or JSON Lines telemetry file")
    csv.add_argument("file")
    csv.add_argument("--entity-col", required=True, help="column naming the entity (car, device)")
    csv.add_argument("--time-col", required=True, help="column with seconds or ISO-8601 timestamps")
    csv.add_argument("--format", choices=["csv", "jsonl"], help="default: from the file extension")
    csv.add_argument("--session-id", help="default: csv-<file name>")
    csv.add_argument("--start-time", help="ISO-8601 session start for numeric times (default 1970-01-01Z)")
    csv.add_argument("--channels", help="comma-separated channel columns (default: all others)")
    csv.add_argument("--unit", action="append", metavar="NAME=UNIT", help="unit of a channel (repeatable)")
    csv.add_argument("--profile", choices=["auto", "generic", "motorsport"], default="auto",
                     help="motorsport: a car's telemetry as F1 channels, the car detectors; generic: any telemetry, "
                          "the generic detectors; auto (default): motorsport when the columns are recognisably a "
                          "car's (a speed and two of RPM, gear, throttle, brake, DRS) or --map is given")
    csv.add_argument("--map", action="append", metavar="COLUMN=CHANNEL",
                     help="motorsport: the file's COLUMN is the F1 channel CHANNEL (Speed, RPM, nGear, Throttle, "
                          "Brake, DRS, X, Y, Z, Distance, LapNumber), e.g. --map vCar=Speed,pBrake=Brake; "
                          "repeatable; recognised names need none")
    for k in (f1, csv):
        k.add_argument("--speed", type=float, default=None,
                       help="replay at N x real time (1 = live pace); default as fast as possible")
        k.add_argument("--chunk-seconds", type=float, default=10.0, help="seconds of data per chunk (default 10)")
        k.add_argument("--aws", action="store_true",
                       help="use the AWS resources named by RAW_BUCKET, STREAM_NAME and DATABASE_URL "
                            "instead of local mode")
    ingest.set_defaults(func=_ingest)
    rep = sub.add_parser("reprocess", help="rebuild a session's database state from its raw data in S3")
    rep.add_argument("session", help="session id, e.g. sim-s7-l6")
    rep.add_argument("--aws", action="store_true",
                     help="use the AWS resources named by RAW_BUCKET, STREAM_NAME and DATABASE_URL")
    rep.set_defaults(func=_reprocess)
    serve = sub.add_parser("serve", help="serve the HTTP API on 127.0.0.1 (local mode), docs at /docs")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", type=int, metavar="LAPS", nargs="?", const=6,
                       help="first ingest a synthetic race of LAPS laps (default 6) into this server's local stack")
    serve.set_defaults(func=_serve)
    shows = {"sessions": "list the sessions", "detections": "list a session's detections",
             "laps": "list a session's laps"}
    for name, text in shows.items():
        show = sub.add_parser(name, help=text)
        if name == "sessions":
            show.add_argument("--year", type=int)
            show.add_argument("--event", help="part of the event's name")
        else:
            show.add_argument("session", help="session id (apexflow sessions lists them)")
            show.add_argument("--driver", help="one driver (entity), e.g. VER")
        if name == "detections":
            show.add_argument("--kind", help="e.g. pit_stop, dropout, incident")
            show.add_argument("--severity", choices=SEVERITIES)
        if name == "laps":
            show.add_argument("--compound", help="e.g. SOFT")
        show.add_argument("--format", choices=["table", "csv", "json"], default="table")
        show.set_defaults(func=_show)
    strat = sub.add_parser("strategy", help="the pit wall's table: rejoin, undercut, cliff, stop prediction, advice")
    strat.add_argument("session", help="session id (apexflow sessions lists them)")
    strat.add_argument("--lap", type=int, help="predictions after this lap (default: the session's last)")
    strat.add_argument("--driver", help="one driver, e.g. VER")
    strat.add_argument("--format", choices=["table", "csv", "json"], default="table")
    strat.set_defaults(func=_strategy)
    live = sub.add_parser("live", help="follow a running session, printing detections as they happen")
    live.add_argument("--source", choices=["f1", "openf1"], required=True,
                      help="f1: F1 live timing (car data needs an F1 TV token); openf1: OpenF1's MQTT (paid account)")
    live.add_argument("--session", default="current", help="current (default), or an OpenF1 session key")
    live.add_argument("--replay", help="a recording instead of the live connection: FastF1's (python -m "
                                       "fastf1.livetiming save, or apexflow record) or ours, plain or gzip")
    live.add_argument("--speed", type=float, help="with --replay: N x real time (default as fast as possible)")
    live.add_argument("--mqtt", metavar="HOST:PORT", help="openf1: a broker of your own (no TLS, no login)")
    live.add_argument("--latency", type=float, help="seconds a sample may wait for its chunk (default 1)")
    live.add_argument("--idle", type=float, help="stop after this many seconds without a message")
    live.add_argument("--strategy", type=int, metavar="LAPS",
                      help="also print the strategy table as each lap completes (LAPS: the race distance)")
    live.add_argument("--aws", action="store_true",
                      help="use the AWS resources named by RAW_BUCKET, STREAM_NAME and DATABASE_URL")
    live.set_defaults(func=_live)
    feeds = sub.add_parser("feeds", help="a live session's feed health: each source and car, and its gaps")
    feeds.add_argument("session", help="session id (apexflow sessions lists them)")
    feeds.add_argument("--format", choices=["table", "json"], default="table")
    feeds.set_defaults(func=_feeds)
    rec = sub.add_parser("record", help="record a live session in FastF1's live-timing format (which FastF1 and "
                                        "apexflow live --replay read)")
    rec.add_argument("--source", choices=["f1", "openf1"], required=True)
    rec.add_argument("file", help="where to write (gzip when the name ends .gz)")
    rec.add_argument("--session", default="current", help="current (default), or an OpenF1 session key")
    rec.add_argument("--mqtt", metavar="HOST:PORT", help="openf1: a broker of your own (no TLS, no login)")
    rec.add_argument("--replay", help="a recording to convert instead of the live connection")
    rec.add_argument("--idle", type=float, help="stop after this many seconds without a message")
    rec.set_defaults(func=_record)
    return p


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread as Ctrl-C would be: every ``finally`` and ``atexit`` runs, so
    the embedded PostgreSQL this process started is stopped on the way out."""

    def __str__(self) -> str:
        return signal.Signals(self.args[0]).name


@contextmanager
def _stopped_by_signals():
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Terminated(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(argv: list[str] | None = None) -> int:
    """Bad input exits 2, an unreachable or failing database 1, Ctrl-C 130, SIGTERM 143 and SIGHUP 129 (the
    embedded PostgreSQL stopped on the way out), each with one line on stderr."""
    from psycopg2 import OperationalError
    from psycopg2.errors import UndefinedTable

    from apexflow.errors import DatabaseUnavailable, QueryError

    args = parser().parse_args(argv)
    if args.home:
        os.environ["APEXFLOW_HOME"] = str(Path(args.home).expanduser().resolve())
    try:
        with _stopped_by_signals():
            return args.func(args)
    except Terminated as e:
        print(f"apexflow: stopped by {e}; what was done is kept, run the command again to finish", file=sys.stderr)
        return 128 + int(e.args[0])
    except KeyboardInterrupt:
        print("apexflow: interrupted; what was done is kept, run the command again to finish", file=sys.stderr)
        return 130
    except (ContractError, QueryError) as e:
        print(f"apexflow: error: {e}", file=sys.stderr)
        return 2
    except DatabaseUnavailable as e:
        print(f"apexflow: error: {e}", file=sys.stderr)
        return 1
    except UndefinedTable as e:
        print(f"apexflow: error: the database has no ApexFlow schema ({str(e).splitlines()[0]}); run apexflow db "
              "migrate against it first", file=sys.stderr)
        return 1
    except OperationalError as e:  # lost or timed out mid-command
        reason = (str(e).strip().splitlines() or ["no reason given"])[0]
        print(f"apexflow: error: the database failed mid-command ({reason}); run the command again once it "
              "is back (every step is idempotent, so a re-run completes the work)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
