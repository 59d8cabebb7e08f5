"""``apexflow ingest`` and ``apexflow reprocess``: the real ingest handler, locally (moto + PostgreSQL) or against
AWS."""
from __future__ import annotations

import os
import sys
import traceback
import warnings
from concurrent.futures import Future, ThreadPoolExecutor

from tqdm import tqdm

from apexflow.storage.db import redact
from apexflow_local import handlers
from apexflow_local.esm import LambdaContext


def invoke_ingest(spec: dict) -> dict:
    """The real ingest handler on one request, with progress bars and nothing else on the terminal: what
    FastF1 could not fetch is in the result's ``missing`` (its own warnings would repeat it), and the
    metrics warning speaks of CloudWatch, which a local run has not."""
    if spec.get("source") == "fastf1":
        import fastf1

        fastf1.set_log_level("ERROR")
    bars = lambda it: tqdm(it, desc="stream ", unit="batch", file=sys.stderr)  # noqa: E731
    with warnings.catch_warnings(), tqdm(total=1, desc="ingest ", unit="session", file=sys.stderr) as bar:
        warnings.filterwarnings("ignore", category=UserWarning, module=r"fastf1\.")
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        result = handlers.load("ingest").handler(spec, LambdaContext("apexflow-ingest-local"), progress=bars)
        bar.update()
    return result


_queue = ThreadPoolExecutor(1, thread_name_prefix="ingest")  # one at a time, as a reserved concurrency of 1


def ingest_later(spec: dict) -> Future:
    """Local stand-in for an asynchronous invoke: ingest on a worker thread, then drain the stream through
    analyze (inside a running local stack). A failure is printed, as Lambda would log it."""
    from apexflow_local.stack import analyze_stream

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
    from apexflow_local import s3_dir, step_functions
    from apexflow_local.stack import STREAM, analyze_stream, local_stack

    with local_stack(persist=True) as dsn:
        result = invoke_ingest(spec)
        analyze_stream(result["chunks"])
        done = step_functions.automatic(os.environ["INSIGHTS_STATE_MACHINE_ARN"], result["session_id"],
                                        result["run_id"])
    insights = (f"; insights: {done['output']['insights']} stored by the workflow (apexflow insights "
                f"{result['session_id']})" if done and done["status"] == "SUCCEEDED" else "")
    return result, (f"Kinesis stream {STREAM} (local mode: moto, S3 kept in {s3_dir.folder()}; analyzed into the "
                    "database), "
                    f"session in {redact(dsn)}{insights}")


def reprocess(session_id: str, aws: bool = False) -> tuple[dict, str]:
    """(handler result, where the stream and database are) for ``{"action": "reprocess"}``; locally the stream
    is drained through analyze and the insights workflow waited for, as after ``run``."""
    event = {"action": "reprocess", "session_id": session_id}
    bars = lambda it: tqdm(it, desc="stream ", unit="batch", file=sys.stderr)  # noqa: E731
    if aws:
        for name in ("RAW_BUCKET", "STREAM_NAME"):
            if not os.environ.get(name):
                raise SystemExit(f"apexflow: error: --aws needs {name} in the environment")
        return (handlers.load("ingest").handler(event, LambdaContext("apexflow-ingest-local"), progress=bars),
                f"Kinesis stream {os.environ['STREAM_NAME']}")
    from apexflow_local import s3_dir, step_functions
    from apexflow_local.stack import STREAM, analyze_stream, local_stack

    with local_stack(persist=True) as dsn, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        result = handlers.load("ingest").handler(event, LambdaContext("apexflow-ingest-local"), progress=bars)
        analyze_stream(result["chunks"])
        step_functions.automatic(os.environ["INSIGHTS_STATE_MACHINE_ARN"], session_id, result["run_id"])
    return result, (f"Kinesis stream {STREAM} (local mode: moto, S3 kept in {s3_dir.folder()}; analyzed into the "
                    f"database), session in {redact(dsn)}")


def report(result: dict, where: str) -> str:
    missing = result.get("missing") or []
    note = f"; missing: {', '.join(missing)}" if missing else ""
    why = result.get("profile_chosen", "")
    profile = (f", {result['profile']} profile" + (f" ({why})" if why.startswith("auto") else "")
               if result.get("profile") else "")
    return (f"wrote {result['session_id']} (run {result['run_id']}{profile}): {result['entities']} entities, "
            f"{result.get('laps', 0)} laps, {result['chunks']} chunks, {result['samples']:,} samples, "
            f"{result['bytes'] / 1e6:.2f} MB "
            f"to {result['location']} and {where}{note}")
