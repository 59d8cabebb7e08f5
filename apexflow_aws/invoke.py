"""Work the API starts elsewhere: an ingestion (the ingest function) and the insights workflow.

In AWS: Lambda's Invoke API on ``INGEST_FUNCTION_NAME`` and Step Functions on ``INSIGHTS_STATE_MACHINE_ARN``,
both set by CDK. Local mode, which Lambda does not ship, hands this module its own runner of the ingest handler
(``use_ingest_runner``) instead of being imported here; the insights workflow is the local stack's (moto) state machine.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import Future
from typing import Literal, cast, overload

from apexflow.settings import settings
from apexflow_aws.config import client

IngestRunner = Callable[[dict, bool], "dict | Future | None"]
_ingest_runner: IngestRunner | None = None


def use_ingest_runner(runner: IngestRunner | None) -> None:
    """Run ingestions with ``runner(payload, wait)`` instead of Lambda's Invoke API (local mode); ``None`` restores
    the Invoke API."""
    global _ingest_runner
    _ingest_runner = runner


class Unavailable(RuntimeError):
    """The function or workflow asked for is not reachable from here; the message says why."""


@overload
def ingest(payload: dict, wait: Literal[True]) -> dict: ...
@overload
def ingest(payload: dict, wait: bool) -> dict | None: ...
def ingest(payload: dict, wait: bool) -> dict | None:
    """Run the ingest function on ``payload``: its answer when ``wait``, else queued (an asynchronous invoke)."""
    if _ingest_runner is not None:
        result = _ingest_runner(payload, wait)
        return cast("dict | None", result) if wait else None  # a run waited for answers with its result
    name = settings().ingest_function_name
    if not name:
        raise Unavailable("ingestion is not available: INGEST_FUNCTION_NAME is not set")
    response = client("lambda").invoke(FunctionName=name, InvocationType="RequestResponse" if wait else "Event",
                                       Payload=json.dumps(payload).encode())
    if response.get("FunctionError"):
        raise RuntimeError(f"the ingest function failed: {response['Payload'].read()[:500]!r}")
    return json.loads(response["Payload"].read()) if wait else None


def start_insights(session_id: str, run_id: str, key: str = "") -> dict:
    """Start the insights workflow (every driver, the configured provider) for one ingestion run of a session,
    through the starter every caller uses (``apexflow_aws.insights_starter``); the same (session, run, key) is one
    execution, so a repeated request returns the execution it started. A new ``key`` runs the workflow again."""
    from apexflow_aws import insights_starter  # its read side (and numpy) only for this route

    machine = settings().insights_state_machine_arn
    if not machine:
        raise Unavailable("the insights workflow is not available here: INSIGHTS_STATE_MACHINE_ARN is not set")
    sfn = client("stepfunctions")
    digest = hashlib.sha256("\0".join((session_id, run_id, key)).encode()).hexdigest()[:16]
    arn = insights_starter.start_execution(sfn, machine, session_id, f"api-{digest}")
    execution = sfn.describe_execution(executionArn=arn)
    return {"execution_arn": arn, "status": execution["status"], "started_at": execution["startDate"]}
