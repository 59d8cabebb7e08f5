"""``apexflow live``: follow a session with the real live path, locally (moto + PostgreSQL) or against AWS,
printing detections as they are stored."""
from __future__ import annotations

import os

from apexflow.query import detections as query_detections
from apexflow.storage.db import connect
from apexflow_aws.config import client
from apexflow_aws.stream import KinesisStream


class Printer:
    """Prints each detection of the followed session once, as it appears in the database; with ``strategy_laps``
    (the race distance) also the strategy table as each lap completes."""

    def __init__(self, dsn: str, out=print, strategy_laps: int | None = None):
        from apexflow.strategy.live import LiveStrategy

        self.conn, self.out = connect(dsn), out
        self.seen: set[str] = set()
        self.strategy = LiveStrategy(strategy_laps) if strategy_laps else None

    def __call__(self, stage) -> None:
        if stage.session is None:
            return
        if self.strategy is not None and getattr(stage, "laps", None):
            from apexflow.query.formats import to_table
            from apexflow.query.strategy import TABLE

            for lap, table in self.strategy.feed(list(stage.laps.values())):
                self.out(f"strategy after lap {lap}:")
                self.out(to_table([p.record() for p in table], TABLE, width=90))
        with self.conn.cursor() as cur:
            found = query_detections.stored(cur, stage.session.session_id)
        self.conn.rollback()
        for d in found:
            if d["detection_id"] not in self.seen:
                self.seen.add(d["detection_id"])
                minutes, seconds = divmod(d["t_start"], 60)
                on_lap = f"lap {d['lap']}" if d["lap"] is not None else ""
                self.out(f"{int(minutes):3d}:{seconds:06.3f}  {d['entity_id'] or 'session':<8}{d['kind']:<24}"
                         f"{d['severity']:<9}{on_lap}")


def run(spec: dict, aws: bool = False, out=print, dsn: str | None = None, strategy_laps: int | None = None) -> dict:
    """Follow the session; the live stage's closing summary (locally on ``dsn``, default the usual database)."""
    from apexflow_aws import live_runner

    if aws:
        for name in ("RAW_BUCKET", "STREAM_NAME", "DATABASE_URL"):
            if not os.environ.get(name):
                raise SystemExit(f"apexflow: error: --aws needs {name} in the environment")
        printer = Printer(os.environ["DATABASE_URL"], out, strategy_laps)
        return live_runner.run(spec, KinesisStream(client("kinesis"), os.environ["STREAM_NAME"]), on_pump=printer)
    from apexflow_aws.dead_letter import S3DeadLetters
    from apexflow_local.esm import EventSourceMapping
    from apexflow_local.handlers import load
    from apexflow_local.stack import BUCKET, STREAM, local_stack

    with local_stack(dsn=dsn) as dsn:
        analyze = load("analyze")

        def handler(event, context):  # metrics are off locally, but Powertools still prints every 100 values
            try:
                return analyze.handler(event, context)
            finally:
                analyze.metrics.clear_metrics()

        esm = EventSourceMapping(client("kinesis"), STREAM, handler, on_failure=S3DeadLetters(client("s3"), BUCKET))
        printer = Printer(dsn, out, strategy_laps)

        def analyze_then_print(stage):
            esm.drain()
            printer(stage)

        result = live_runner.run(spec, KinesisStream(client("kinesis"), STREAM), on_pump=analyze_then_print)
        esm.drain()
        printer(_Closed(result["session_id"]))
        printer.conn.close()
    return result


class _Closed:
    def __init__(self, session_id):
        self.session = type("S", (), {"session_id": session_id})() if session_id else None
