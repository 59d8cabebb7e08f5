"""The insights state machine on moto: the definition file CDK deploys, its substitutions resolved as
CloudFormation resolves them, moto's Step Functions executing it (Map, Parallel, Retry, Catch) and its Lambda
tasks dispatched in process to the real handlers (``functions/<name>/handler.py``).

Local mode has one warm container per function: invocations of a function take turns, as with a reserved
concurrency of one; the executions, their Map iterations and retries run as Step Functions runs them.
"""
from __future__ import annotations

import json
import re
import threading
import time
import traceback
import uuid
from contextlib import contextmanager
from importlib import resources
from unittest.mock import patch

from apexflow_aws.config import client
from apexflow_aws.insights_starter import execution_name, start_execution
from apexflow_local import handlers
from apexflow_local.esm import LambdaContext

ACCOUNT, REGION = "123456789012", "us-east-1"
FUNCTION = "apexflow-insights-local"
TOPIC = "apexflow-alerts-local"
STATE_MACHINE = "apexflow-insights-local"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/apexflow-insights-local"
DEFINITION = resources.files("functions.insights") / "state_machine.asl.json"  # what infra/insights.py deploys
PLACEHOLDER = re.compile(r"\$\{([\w.:-]+)\}")


def substitute(definition: str, values: dict[str, str]) -> str:
    """``${Name}`` replaced as CloudFormation's ``DefinitionSubstitutions`` do; an unknown one is an error."""
    missing = sorted(set(PLACEHOLDER.findall(definition)) - set(values))
    if missing:
        raise ValueError(f"state machine definition needs substitutions for {missing}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], definition)


def function_arn(name: str = FUNCTION) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


@contextmanager
def lambda_dispatch():
    """moto's Docker-free Lambda invoking the real handler of the function named ``apexflow-<name>-local``; an
    exception becomes Lambda's unhandled-error payload, its ``errorType`` the exception's class name."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    containers: dict[str, tuple] = {}

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        name = function_name.rsplit(":", 1)[-1].removeprefix("apexflow-").removesuffix("-local")
        module, lock = containers.setdefault(name, (handlers.load(name), threading.Lock()))
        with lock:
            try:
                result = module.handler(json.loads(body or b"{}"), LambdaContext(f"apexflow-{name}-local"))
            except Exception as e:  # noqa: BLE001 - Lambda reports every error to its caller
                response_headers["x-amz-function-error"] = "Unhandled"
                result = {"errorType": type(e).__name__, "errorMessage": str(e),
                          "stackTrace": traceback.format_tb(e.__traceback__)[-3:]}
        return json.dumps(result, default=str).encode()

    with patch.object(LambdaSimpleBackend, "invoke", invoke):
        yield


def deploy(definition: str, substitutions: dict[str, str] | None = None) -> str:
    """Create the alerts topic and the state machine from ``definition`` (the file CDK loads); its ARN."""
    topic = client("sns").create_topic(Name=TOPIC)["TopicArn"]
    values = {"InsightsFunctionArn": function_arn(), "AlertsTopicArn": topic, **(substitutions or {})}
    return client("stepfunctions").create_state_machine(
        name=STATE_MACHINE, definition=substitute(definition, values), roleArn=ROLE)["stateMachineArn"]


def run(state_machine_arn: str, session_id: str, provider: str | None = None, drivers: list[str] | None = None,
        timeout_s: float = 900) -> dict:
    """One on-demand execution, waited for: its description (status, output) and its history's events."""
    sfn = client("stepfunctions")
    arn = start_execution(sfn, state_machine_arn, session_id, f"ondemand-{uuid.uuid4().hex[:8]}", provider, drivers)
    return wait(arn, timeout_s)


def automatic(state_machine_arn: str, session_id: str, run_id: str, timeout_s: float = 900) -> dict | None:
    """The execution analyze (or ingest) started when the session's run ``run_id`` was complete, waited for;
    None if none started."""
    arn = f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{execution_name(session_id, f'auto-{run_id}')}"
    try:
        return wait(arn, timeout_s)
    except client("stepfunctions").exceptions.ExecutionDoesNotExist:
        return None


def drain(state_machine_arn: str, timeout_s: float = 900) -> None:
    """Wait for every running execution (moto runs them in threads that would not outlive the local stack)."""
    for e in client("stepfunctions").list_executions(stateMachineArn=state_machine_arn,
                                                     statusFilter="RUNNING")["executions"]:
        wait(e["executionArn"], timeout_s)


def wait(execution_arn: str, timeout_s: float = 900) -> dict:
    sfn = client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while (d := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise TimeoutError(f"insights execution {execution_arn} still running after {timeout_s} s")
        time.sleep(0.05)
    d["output"] = json.loads(d["output"]) if d.get("output") else None
    d["events"] = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return d
