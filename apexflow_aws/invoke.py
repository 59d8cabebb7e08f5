"""Work the API starts elsewhere: an ingestion (the ingest function) and the insights workflow.

In AWS: Lambda's Invoke API on ``INGEST_FUNCTION_NAME`` and Step Functions on ``INSIGHTS_STATE_MACHINE_ARN``,
both set by CDK. In local mode (``APEXFLOW_LOCAL``, set by the local stack) the ingest handler runs in this
process (``apexflow_aws.local.ingest_cli``); the insights workflow is the local stack's (moto) state machine.
"""
from __future__ import annotations

import hashlib
import json
import os

from apexflow_aws.config import client


class Unavailable(RuntimeError):
    """The function or workflow asked for is not reachable from here; the message says why."""


def ingest(payload: dict, wait: bool) -> dict | None:
    """Run the ingest function on ``payload``: its answer when ``wait``, else queued (an asynchronous invoke)."""
    if os.environ.get("APEXFLOW_LOCAL"):
        from apexflow_aws.local import ingest_cli

        return ingest_cli.invoke_ingest(payload) if wait else ingest_cli.ingest_later(payload)
    name = os.environ.get("INGEST_FUNCTION_NAME")
    if not name:
        raise Unavailable("ingestion is not available: INGEST_FUNCTION_NAME is not set")
    response = client("lambda").invoke(FunctionName=name, InvocationType="RequestResponse" if wait else "Event",
                                       Payload=json.dumps(payload).encode())
    if response.get("FunctionError"):
        raise RuntimeError(f"the ingest function failed: {response['Payload'].read()[:500]!r}")
    return json.loads(response["Payload"].read()) if wait else None


def start_insights(session_id: str, run_id: str, key: str = "") -> dict:
    """Start the insights workflow (every driver, the configured provider) for one ingestion run of a session,
    through the starter every caller uses (``apexflow_aws.workflow``); the same (session, run, key) is one
    execution, so a repeated request returns the execution it started. A new ``key`` runs the workflow again."""
    from apexflow_aws import workflow  # its read side (and numpy) only for this route

    machine = os.environ.get("INSIGHTS_STATE_MACHINE_ARN")
    if not machine:
        raise Unavailable("the insights workflow is not available here: INSIGHTS_STATE_MACHINE_ARN is not set")
    sfn = client("stepfunctions")
    digest = hashlib.sha256("\0".join((session_id, run_id, key)).encode()).hexdigest()[:16]
    arn = workflow.start_execution(sfn, machine, session_id, f"api-{digest}")
    execution = sfn.describe_execution(executionArn=arn)
    return {"execution_arn": arn, "status": execution["status"], "started_at": execution["startDate"]}
