"""Starting the insights workflow: on demand, and once a session's analysis is complete.

Complete means: the session is registered (its timing facts and the lap-level and race detections are written
in that transaction) and every chunk its ingestion run streamed has been analyzed (``sessions.meta.chunks`` =
rows in ``telemetry_chunks``). A session without car data is complete at registration. The analyze function
checks after each batch it commits, the ingest function after streaming; the execution is named after the
session and its ingestion run, so it starts once per run however many batches see it complete. A live feed
has no chunk count until it ends: it is complete when its adapter records the count at the chequered flag;
before that, runs are on demand and their facts say ``analysis_complete: false``.
"""
from __future__ import annotations

import json
import re

from apexflow.query import insight_runs
from apexflow.settings import settings


def execution_name(session_id: str, tag: str) -> str:
    """Step Functions execution names: at most 80 of ``[A-Za-z0-9_-]``; the same tag gives the same name, so a
    session's automatic run starts once."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{session_id[:79 - len(tag)]}-{tag}")


def request(session_id: str, provider: str | None = None, drivers: list[str] | None = None) -> dict:
    """The state machine's input (``functions/insights/state_machine.asl.json``): one session, a provider (None:
    the configured one) and drivers (none: every driver)."""
    return {"request": {"session_id": session_id, "provider": provider, "drivers": drivers or []}}


def start_execution(sfn, state_machine_arn: str, session_id: str, tag: str, provider: str | None = None,
                    drivers: list[str] | None = None) -> str:
    """Start the workflow for a session (the automatic run, the API's and the command line's); an execution of the
    same name already started is no error."""
    try:
        return sfn.start_execution(stateMachineArn=state_machine_arn, name=execution_name(session_id, tag),
                                   input=json.dumps(request(session_id, provider, drivers)))["executionArn"]
    except sfn.exceptions.ExecutionAlreadyExists:
        return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{execution_name(session_id, tag)}"


def start_when_complete(conn, session_ids) -> list[str]:
    """Start the workflow for those of ``session_ids`` whose analysis is complete (where the function knows the
    state machine: ``INSIGHTS_STATE_MACHINE_ARN``); the executions."""
    arn = settings().insights_state_machine_arn
    if not arn or not session_ids:
        return []
    try:
        with conn.cursor() as cur:
            done = insight_runs.completed_sessions(cur, sorted(session_ids))
    finally:
        conn.rollback()  # read-only
    if not done:
        return []
    from apexflow_aws.config import (
        client,  # boto3 only when a session completes: not on the analyze hot path
    )

    return [start_execution(client("stepfunctions"), arn, s, f"auto-{run_id}") for s, run_id in done]
