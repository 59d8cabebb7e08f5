"""API: an HTTP API in front of the API function: JWT (Cognito) for people and apps, IAM for services under
``/iam/``, ``GET /health`` open; stage throttling and access logs."""
from __future__ import annotations

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from apexflow_aws.api import IAM_PREFIX
from infra.data import Data
from infra.function import log_group, python_function
from infra.layers import Layers
from infra.nag import acknowledge, logical_id
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
    """People and apps sign in with the user pool and send its JWT; services sign requests (SigV4) to
    ``/iam/...`` and need ``execute-api:Invoke`` on this API. Only ``GET /health`` needs neither."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, network: Network, data: Data,
                 layers: Layers, state_machine: sfn.IStateMachine, ingest: lambda_.IFunction,
                 database_environment: dict[str, str]) -> None:
        super().__init__(scope, id)
        self.function = python_function(
            self, "Function", settings=settings, service="api", layers=[layers.core, layers.report],
            vpc=network.vpc, subnets=network.function_subnets, security_groups=[network.function_sg],
            environment={**database_environment, "RAW_BUCKET": data.raw.bucket_name,
                         "INGEST_FUNCTION_NAME": ingest.function_name,
                         "INSIGHTS_STATE_MACHINE_ARN": state_machine.state_machine_arn},
            memory_mb=512, timeout_seconds=29)
        data.app_secret.grant_read(self.function)
        data.raw.grant_read(self.function)
        ingest.grant_invoke(self.function)
        state_machine.grant_start_execution(self.function)
        state_machine.grant_execution(self.function, "states:DescribeExecution")
        for action in ("GetObject*", "GetBucket*", "List*"):
            acknowledge(self.function, f"IAM5[Action::s3:{action}]", "Telemetry reads raw chunks by their "
                        "manifest; grantRead scoped to the raw-chunk bucket only.")
        acknowledge(self.function, f"IAM5[Resource::<{logical_id(data.raw)}.Arn>/*]",
                    "Chunk keys are per session and run, so objects are addressed under the whole bucket.")
        acknowledge(self.function, f"IAM5[Resource::<{logical_id(ingest)}.Arn>:*]",
                    "POST /sessions may invoke any version of the ingest function and nothing else.")
        executions = ('{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"' + logical_id(state_machine) + '"}]}]}')
        acknowledge(self.function, "IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
                    f"execution:{executions}:*]",
                    "POST /sessions/{id}/insights describes the executions of the insights machine only.")

        self.user_pool = cognito.UserPool(
            self, "Users", self_sign_up_enabled=False, sign_in_aliases=cognito.SignInAliases(email=True),
            mfa=cognito.Mfa.REQUIRED, mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(min_length=12, require_digits=True, require_lowercase=True,
                                                   require_uppercase=True, require_symbols=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY, removal_policy=RemovalPolicy.RETAIN)
        for rule in ("COG3", "COG8"):
            acknowledge(self.user_pool, rule, "Threat protection (the Plus plan) is billed per active user; "
                        "sign-up is closed and MFA is required instead.")
        self.user_pool_client = self.user_pool.add_client(
            "Apps", auth_flows=cognito.AuthFlow(user_srp=True), generate_secret=False)

        lambda_integration = integrations.HttpLambdaIntegration("Lambda", self.function)
        self.http_api = apigw.HttpApi(
            self, "HttpApi", create_default_stage=False, default_integration=lambda_integration,
            default_authorizer=authorizers.HttpUserPoolAuthorizer(
                "Users", self.user_pool, user_pool_clients=[self.user_pool_client]))
        self.http_api.add_routes(path=f"{IAM_PREFIX}/{{proxy+}}", methods=[apigw.HttpMethod.ANY],
                                 integration=lambda_integration, authorizer=authorizers.HttpIamAuthorizer())
        health = self.http_api.add_routes(path="/health", methods=[apigw.HttpMethod.GET, apigw.HttpMethod.HEAD],
                                          integration=lambda_integration, authorizer=apigw.HttpNoneAuthorizer())
        for route in health:  # HEAD answers as GET without the body (apexflow_aws/api/app.py)
            acknowledge(route, "APIG4", "The health check answers load balancers and uptime probes without "
                        "credentials; it reveals only whether the database is reachable.")
        self.stage = apigw.HttpStage(
            self, "Stage", http_api=self.http_api, stage_name="$default", auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=settings.api_rate_limit,
                                            burst_limit=settings.api_burst_limit),
            detailed_metrics_enabled=True,
            access_log_settings=AccessLogs(
                apigw.LogGroupLogDestination(log_group(self, "AccessLogs", settings))),
        )
