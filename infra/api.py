"""API: an HTTP API with IAM authorization, stage throttling and access logs, in front of the API function."""
from __future__ import annotations

import jsii
from aws_cdk import aws_apigateway as apigw_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.data import Data
from infra.function import log_group, python_function
from infra.layers import Layers
from infra.names import Settings
from infra.network import Network


@jsii.implements(apigw.IAccessLogSettings)
class AccessLogs:
    """Access logs of every request to a log group, in JSON."""

    def __init__(self, destination: apigw.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw_v1.AccessLogFormat:
        return apigw_v1.AccessLogFormat.json_with_standard_fields(
            caller=True, http_method=True, ip=True, protocol=True, request_time=True, resource_path=True,
            response_length=True, status=True, user=True)


class Api(Construct):
    """Callers sign requests (SigV4); a caller needs ``execute-api:Invoke`` on this API."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, network: Network, data: Data,
                 layers: Layers, state_machine: sfn.IStateMachine, database_environment: dict[str, str]) -> None:
        super().__init__(scope, id)
        self.function = python_function(
            self, "Function", settings=settings, service="api", layers=[layers.core, layers.report],
            vpc=network.vpc, subnets=network.function_subnets, security_groups=[network.function_sg],
            environment={**database_environment,
                         "INSIGHTS_STATE_MACHINE_ARN": state_machine.state_machine_arn},
            memory_mb=512, timeout_seconds=29)
        data.app_secret.grant_read(self.function)
        state_machine.grant_start_execution(self.function)

        self.http_api = apigw.HttpApi(
            self, "HttpApi", create_default_stage=False,
            default_integration=integrations.HttpLambdaIntegration("Lambda", self.function),
            default_authorizer=authorizers.HttpIamAuthorizer())
        self.stage = apigw.HttpStage(
            self, "Stage", http_api=self.http_api, stage_name="$default", auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=settings.api_rate_limit,
                                            burst_limit=settings.api_burst_limit),
            detailed_metrics_enabled=True,
            access_log_settings=AccessLogs(
                apigw.LogGroupLogDestination(log_group(self, "AccessLogs", settings))),
        )
