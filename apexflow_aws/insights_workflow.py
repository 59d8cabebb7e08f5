"""Start the insights workflow (Step Functions) for a session, by the ARN in ``INSIGHTS_STATE_MACHINE_ARN``.

Where the variable is not set (local mode, or a stack whose workflow is not wired to this caller) starting
it is a no-op that says so in the log.
"""
from __future__ import annotations

import json
import logging
import os
import re

from apexflow_aws.config import client

logger = logging.getLogger(__name__)


def start_insights(session_id: str, entities: list[str]) -> str | None:
    """The execution's ARN, or None when the workflow is not wired or already ran for this session."""
    arn = os.environ.get("INSIGHTS_STATE_MACHINE_ARN")
    if not arn:
        logger.warning("insights workflow not wired (INSIGHTS_STATE_MACHINE_ARN unset): not started for %s",
                       session_id)
        return None
    sfn = client("stepfunctions")
    name = re.sub(r"[^A-Za-z0-9_-]", "-", f"{session_id}-live")[:80]
    try:
        return sfn.start_execution(stateMachineArn=arn, name=name,
                                   input=json.dumps({"session_id": session_id, "entities": entities}))["executionArn"]
    except sfn.exceptions.ExecutionAlreadyExists:
        logger.info("insights workflow already started for %s", session_id)
        return None
