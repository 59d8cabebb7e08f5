"""Insights: the state machine, its task function, the OpenAI key and the alerts topic."""
from __future__ import annotations

import re

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import names
from infra.data import Data
from infra.function import log_group, python_function
from infra.layers import Layers
from infra.nag import acknowledge, logical_id
from infra.names import Settings
from infra.network import Network

FUNCTION_PLACEHOLDER = re.compile(r"\$\{(\w+FunctionArn)\}")


def function_placeholders(definition: str) -> list[str]:
    """The ``${...FunctionArn}`` substitutions a state-machine definition expects."""
    return sorted(set(FUNCTION_PLACEHOLDER.findall(definition)))


class Insights(Construct):
    """Every ``${...FunctionArn}`` task in the definition runs the insights function; ``${AlertsTopicArn}``
    is the alerts topic (critical detections, failed runs; CloudWatch alarms publish to it as well). Local mode
    and the tests execute the same definition file with the same substitutions (apexflow_local/step_functions.py)."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, network: Network, data: Data,
                 layers: Layers, database_environment: dict[str, str], starters: list = ()) -> None:
        super().__init__(scope, id)
        self.openai_secret = secretsmanager.Secret(
            self, "OpenAiKey", secret_name=settings.secret_name("openai"),
            description='OpenAI API key for insights: put-secret-value {"api_key": "sk-..."}; until then the '
                        'offline provider writes them',
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template='{"api_key": ""}', generate_string_key="placeholder"))
        acknowledge(self.openai_secret, "SMG4", "A third-party API key: it is rotated in OpenAI's console "
                    "and written with put-secret-value, which Secrets Manager cannot automate.")

        key = kms.Key(self, "AlertsKey", enable_key_rotation=True, description="ApexFlow alerts topic")
        key.grant_encrypt_decrypt(iam.ServicePrincipal("cloudwatch.amazonaws.com"))
        self.alerts = sns.Topic(self, "Alerts", master_key=key, enforce_ssl=True)

        self.function = python_function(
            self, "Function", settings=settings, service="insights", layers=[layers.core, layers.insights],
            vpc=network.vpc, subnets=network.function_subnets, security_groups=[network.function_sg],
            environment={**database_environment, "OPENAI_SECRET_ARN": self.openai_secret.secret_arn,
                         "OPENAI_MODEL": settings.insights_model,
                         "INSIGHTS_TOKEN_BUDGET": str(settings.insights_token_budget)},
            memory_mb=512, timeout_seconds=300, reserved_concurrency=settings.insights_reserved_concurrency)
        data.app_secret.grant_read(self.function)
        self.openai_secret.grant_read(self.function)

        path = names.REPO_ROOT / names.STATE_MACHINE_FILE
        substitutions = {p: self.function.function_arn for p in function_placeholders(path.read_text())}
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            definition_body=sfn.DefinitionBody.from_file(str(path)),
            definition_substitutions={**substitutions, "AlertsTopicArn": self.alerts.topic_arn},
            timeout=Duration.minutes(30),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group(self, "StateMachineLogs", settings),
                                level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        self.function.grant_invoke(self.state_machine)
        for fn in starters:  # they start a session's run once its analysis is complete
            fn.add_environment("INSIGHTS_STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
            self.state_machine.grant_start_execution(fn)
        self.alerts.grant_publish(self.state_machine)
        acknowledge(self.state_machine, f"IAM5[Resource::<{logical_id(self.function)}.Arn>:*]",
                    "Step Functions may invoke any published version or alias of the insights function only.")
        acknowledge(self.state_machine, "IAM5[Action::kms:GenerateDataKey*]", "Publishing to the "
                    "encrypted alerts topic needs data keys from its own KMS key only.")
        acknowledge(self.state_machine, "IAM5[Resource::*]", "X-Ray and CloudWatch Logs delivery actions "
                    "of Step Functions support no resource-level permissions.")
