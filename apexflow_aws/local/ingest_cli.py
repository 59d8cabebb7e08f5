"""``apexflow ingest``: run the real ingest handler, locally (moto + PostgreSQL) or against AWS."""
from __future__ import annotations

import os
import sys
import traceback
from concurrent.futures import Future, ThreadPoolExecutor

from tqdm import tqdm

from apexflow_aws.local.esm import LambdaContext
from apexflow_aws.local.handlers import load


def redact(dsn: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)


def invoke_ingest(spec: dict) -> dict:
    """The real ingest handler on one request, with progress bars."""
    if spec.get("source") == "fastf1":
        import fastf1

        fastf1.set_log_level("WARNING")
    handler = load("ingest")
    handler.progress = lambda it: tqdm(it, desc="stream ", unit="batch", file=sys.stderr)
    with tqdm(total=1, desc="ingest ", unit="session", file=sys.stderr) as bar:
        result = handler.handler(spec, LambdaContext("apexflow-ingest-local"))
        bar.update()
    return result


_queue = ThreadPoolExecutor(1, thread_name_prefix="ingest")  # one at a time, as a reserved concurrency of 1


def ingest_later(spec: dict) -> Future:
    """Local stand-in for an asynchronous invoke: ingest on a worker thread, then drain the stream through
    analyze (inside a running local stack). A failure is printed, as Lambda would log it."""
    from apexflow_aws.local.stack import analyze_stream

    def work():
        try:
            result = invoke_ingest(spec)
            analyze_stream(result["chunks"])
            return result
        except Exception:
            traceback.print_exc()
            raise

    return _queue.submit(work)


def idle() -> None:
    """Wait until every queued ingestion has finished."""
    _queue.submit(lambda: None).result()


def run(spec: dict, aws: bool = False) -> tuple[dict, str]:
    """(handler result, where the stream and database are) for one ingest request."""
    if aws:
        for name in ("RAW_BUCKET", "STREAM_NAME"):
            if not os.environ.get(name):
                raise SystemExit(f"apexflow: error: --aws needs {name} in the environment")
        return invoke_ingest(spec), f"Kinesis stream {os.environ['STREAM_NAME']}"
    from apexflow_aws.local.stack import STREAM, analyze_stream, local_stack

    with local_stack() as dsn:
        result = invoke_ingest(spec)
        analyze_stream(result["chunks"])
    return result, (f"Kinesis stream {STREAM} (local mode: moto, in memory; analyzed into the database), "
                    f"session in {redact(dsn)}")


def report(result: dict, where: str) -> str:
    missing = result.get("missing") or []
    note = f"; missing: {', '.join(missing)}" if missing else ""
    why = result.get("profile_chosen", "")
    profile = (f", {result['profile']} profile" + (f" ({why})" if why.startswith("auto") else "")
               if result.get("profile") else "")
    return (f"wrote {result['session_id']} (run {result['run_id']}{profile}): {result['entities']} entities, "
            f"{result.get('laps', 0)} laps, {result['chunks']} chunks, {result['samples']:,} samples, {result['bytes'] / 1e6:.2f} MB "
            f"to {result['location']} and {where}{note}")
