"""The insights state machine's tasks (``apexflow.insights.tasks``), one function for all of them.

Events: ``{"task": "start", "request": {"session_id", "provider", "drivers"}}``, ``{"task": "session" |
"driver" | "detection", "run_id", "key"}``, ``{"task": "fallback", "run_id", "scope", "key", "error"}``,
``{"task": "release", "detection_id"}``, ``{"task": "finish", "run_id", "drivers", "critical"}``. Provider
errors keep their class names (``ProviderThrottled``, ...), which the state machine's retries match.
"""

from aws_lambda_powertools import Logger, Tracer

from apexflow.insights import tasks
from apexflow.insights.pricing import DEFAULT_TOKEN_BUDGET
from apexflow.settings import settings
from apexflow_aws import insights
from apexflow_aws.config import connection

logger, tracer = Logger(), Tracer()


def _start(conn, event):
    request = event["request"]
    name = insights.choose(request.get("provider"))
    return tasks.start(conn, request["session_id"], name, insights.model(name), request.get("drivers") or None,
                          settings().insights_token_budget or DEFAULT_TOKEN_BUDGET)


def _summarize(conn, event):
    return tasks.summarize(conn, insights.provider, event["run_id"], event["task"], event.get("key"))


TASKS = {
    "start": _start,
    "session": _summarize, "driver": _summarize, "detection": _summarize,
    "fallback": lambda conn, e: tasks.fallback(conn, e["run_id"], e["scope"], e.get("key"), e.get("error")),
    "release": lambda conn, e: tasks.release(conn, e["detection_id"]),
    "finish": lambda conn, e: tasks.finish(conn, e["run_id"], e.get("drivers") or [], e.get("critical") or []),
}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event, context):
    task = event.get("task")
    if task not in TASKS:
        raise ValueError(f"unknown insights task {task!r}; one of {', '.join(TASKS)}")
    logger.append_keys(task=task, run_id=event.get("run_id"))
    return TASKS[task](connection(), event)
