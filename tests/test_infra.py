"""The CDK app synthesizes offline, passes cdk-nag's AWS Solutions rules, and defines what the issue asks for."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App, Stack, Validations  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk.assertions import Match, Template  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from apexflow_aws.mapping import ANALYZE  # noqa: E402
from infra import names  # noqa: E402
from infra.app import build  # noqa: E402
from infra.insights import function_placeholders  # noqa: E402
from infra.migrations import migrations_fingerprint  # noqa: E402
from infra.names import Settings  # noqa: E402
from layers.build import FORBIDDEN_IN_CORE, PROVIDED_BY_RUNTIME, _name, requirements  # noqa: E402

pytestmark = pytest.mark.integration



@pytest.fixture(scope="module", autouse=True)
def ingest_dockerfile(tmp_path_factory):
    """Synth checks only that the ingest image's Dockerfile exists; a stand-in is used until it does."""
    if (names.REPO_ROOT / names.INGEST_DOCKERFILE).exists():
        yield
        return
    stand_in = tmp_path_factory.mktemp("image") / "Dockerfile"
    stand_in.write_text("FROM public.ecr.aws/lambda/python:3.12\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(names, "INGEST_DOCKERFILE", os.path.relpath(stand_in, names.REPO_ROOT))
        yield


def synth(tmp: Path, **context) -> SimpleNamespace:
    """Synthesize with cdk.json's context, stub layers and cdk-nag; a nag failure is captured, not raised."""
    stub = tmp / "layers"
    for layer in names.LAYERS:
        (stub / layer / "python").mkdir(parents=True)
        (stub / layer / "python" / "placeholder.txt").write_text("stub layer for synth tests\n")
    cdk_json = json.loads((names.REPO_ROOT / "cdk.json").read_text())
    app = App(outdir=str(tmp / "cdk.out"), context={**cdk_json["context"], "layersDir": str(stub), **context})
    app, stack = build(app)
    error = None
    try:
        app.synth()
    except RuntimeError as e:  # cdk-nag findings fail validation after the template is written
        error = str(e)
    out = tmp / "cdk.out"
    report = out / "validation-report.json"
    return SimpleNamespace(
        out=out, error=error,
        report=json.loads(report.read_text()) if report.exists() else {"pluginReports": []},
        raw=json.loads((out / f"{stack.stack_name}.template.json").read_text()),
        template=Template.from_json(json.loads((out / f"{stack.stack_name}.template.json").read_text())),
    )


@pytest.fixture(scope="module")
def synthed(tmp_path_factory):
    return synth(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    return synth(tmp_path_factory.mktemp("production"), streamMode="provisioned", shardCount="8",
                 dbMultiAz="true", alertEmail="oncall@example.com", architecture="arm64",
                 ingestScheduleEnabled="false", ingestReservedConcurrency="10", analyzeReservedConcurrency="40",
                 insightsReservedConcurrency="8",
                 ingestScheduleEvent='{"source": "fastf1", "year": 2024, "event": "Monza", "session": "Q"}')


def resources(synthed, kind: str) -> dict[str, dict]:
    return {k: r for k, r in synthed.raw["Resources"].items() if r["Type"] == kind}


def logical_id(synthed, kind: str, prefix: str) -> str:
    (found,) = [k for k in resources(synthed, kind) if k.startswith(prefix)]
    return found


# --- cdk-nag -------------------------------------------------------------------------------------

@pytest.mark.parametrize("fixture", ["synthed", "production"])
def test_cdk_nag_aws_solutions_has_no_unacknowledged_findings(fixture, request):
    result = request.getfixturevalue(fixture)
    violations = [(v["ruleName"], c["constructPath"]) for p in result.report["pluginReports"]
                  for v in p["violations"] for c in v["violatingConstructs"]]
    assert result.error is None and violations == [], (result.error or "")[:4000]


def test_every_acknowledgement_carries_a_reason(synthed):
    acknowledged = {}
    for resource in synthed.raw["Resources"].values():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            if rule["id"].startswith("AwsSolutions-"):
                acknowledged[rule["id"]] = rule["reason"]
    assert acknowledged, "cdk-nag's acknowledgements should be written to the template"
    for rule, reason in acknowledged.items():
        assert len(reason.split()) >= 6, (rule, reason)


def test_cdk_nag_fails_synth_on_a_noncompliant_resource(tmp_path):
    app = App(outdir=str(tmp_path))
    s3.Bucket(Stack(app, "Bad"), "Open")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules


# --- network -------------------------------------------------------------------------------------

def test_vpc_endpoints_for_s3_secrets_manager_and_kinesis(synthed):
    endpoints = resources(synthed, "AWS::EC2::VPCEndpoint").values()
    kinds = {json.dumps(e["Properties"]["ServiceName"]).split(".")[-1].strip('"]}'): e["Properties"]["VpcEndpointType"]
             for e in endpoints}
    assert kinds == {"s3": "Gateway", "secretsmanager": "Interface", "kinesis-streams": "Interface"}
    synthed.template.resource_count_is("AWS::EC2::FlowLog", 1)


def test_database_lives_in_isolated_subnets(synthed):
    (group,) = resources(synthed, "AWS::RDS::DBSubnetGroup").values()
    subnets = {ref["Ref"] for ref in group["Properties"]["SubnetIds"]}
    assert subnets and all("database" in s for s in subnets)
    routes = [r for r in resources(synthed, "AWS::EC2::Route").values()
              if "database" in r["Properties"]["RouteTableId"]["Ref"]]
    assert routes == [], "isolated subnets have no route out"


# --- data ----------------------------------------------------------------------------------------

def test_postgres_encrypted_private_backed_up_and_tls_only(synthed):
    synthed.template.has_resource_properties("AWS::RDS::DBInstance", {
        "Engine": "postgres", "StorageEncrypted": True, "PubliclyAccessible": False,
        "BackupRetentionPeriod": 7, "DeletionProtection": True, "MultiAZ": False,
        "EnableCloudwatchLogsExports": ["postgresql"]})
    synthed.template.has_resource_properties("AWS::RDS::DBParameterGroup", {
        "Parameters": Match.object_like({"rds.force_ssl": "1"})})
    synthed.template.has_resource("AWS::RDS::DBInstance", {"DeletionPolicy": "Snapshot"})


def test_rds_proxy_requires_tls_and_serves_every_login(synthed):
    (proxy,) = resources(synthed, "AWS::RDS::DBProxy").values()
    props = proxy["Properties"]
    assert props["RequireTLS"] is True and props["EngineFamily"] == "POSTGRESQL"
    (group,) = resources(synthed, "AWS::RDS::DBProxyTargetGroup").values()  # SET LOCAL pins no session
    assert group["Properties"]["ConnectionPoolConfigurationInfo"]["SessionPinningFilters"] == ["EXCLUDE_VARIABLE_SETS"]
    secrets = {a["SecretArn"]["Ref"] for a in props["Auth"]}
    assert {s.split("SecretAttachment")[0] for s in secrets} == {"DataAdmin", "DataApp", "DataReadOnly"}


def test_credentials_in_secrets_manager_with_a_read_only_bi_login(synthed):
    templates = [json.loads(s["Properties"]["GenerateSecretString"]["SecretStringTemplate"])
                 for s in resources(synthed, "AWS::SecretsManager::Secret").values()
                 if "GenerateSecretString" in s["Properties"]
                 and "SecretStringTemplate" in s["Properties"]["GenerateSecretString"]]
    assert {t["username"] for t in templates if "username" in t} == {names.ADMIN_USER, names.APP_USER,
                                                                      names.READONLY_USER}
    synthed.template.has_resource_properties("AWS::SecretsManager::Secret", {
        "Name": "apexflow/db/readonly",
        "GenerateSecretString": Match.object_like({"SecretStringTemplate": Match.string_like_regexp("apexflow_bi")})})
    rotations = resources(synthed, "AWS::SecretsManager::RotationSchedule").values()
    assert sorted(r["Properties"]["HostedRotationLambda"]["RotationType"] for r in rotations) == \
        ["PostgreSQLSingleUser"] * 3


def test_raw_bucket_encrypted_versioned_private_with_lifecycle(synthed):
    synthed.template.has_resource_properties("AWS::S3::Bucket", {
        "VersioningConfiguration": {"Status": "Enabled"},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "LifecycleConfiguration": {"Rules": [Match.object_like({
            "Status": "Enabled",
            "Transitions": [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
                            {"StorageClass": "GLACIER_IR", "TransitionInDays": 90}]})]},
        "LoggingConfiguration": Match.object_like({"LogFilePrefix": "raw/"})})
    for bucket in resources(synthed, "AWS::S3::Bucket").values():
        assert all(bucket["Properties"]["PublicAccessBlockConfiguration"].values())
    for policy in resources(synthed, "AWS::S3::BucketPolicy").values():
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in policy["Properties"]["PolicyDocument"]["Statement"])


def test_stream_encrypted_on_demand_by_default_and_sized_by_parameter(synthed, production):
    synthed.template.has_resource_properties("AWS::Kinesis::Stream", {
        "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
        "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
        "ShardCount": Match.absent()})
    production.template.has_resource_properties("AWS::Kinesis::Stream", {
        "StreamModeDetails": {"StreamMode": "PROVISIONED"}, "ShardCount": 8})


# --- functions -----------------------------------------------------------------------------------

def test_every_function_has_powertools_tracing_and_runs_in_the_vpc(synthed):
    """Ours, that is: the custom-resource provider framework's own function is aws-cdk-lib's."""
    functions = {k: f["Properties"] for k, f in resources(synthed, "AWS::Lambda::Function").items()
                 if "USER_ON_EVENT_FUNCTION_ARN" not in f["Properties"]["Environment"]["Variables"]}
    services = {f["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] for f in functions.values()}
    assert services == set(names.SERVICES.values())
    for props in functions.values():
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == names.METRICS_NAMESPACE and env["LOG_LEVEL"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert "VpcConfig" in props and "LoggingConfig" in props
        if props.get("PackageType") != "Image":
            assert props["Runtime"] == "python3.12" and props["Architectures"] == ["x86_64"]


def test_ingest_is_a_container_image_on_a_race_weekend_schedule_with_an_on_demand_path(synthed):
    synthed.template.has_resource_properties("AWS::Lambda::Function", {
        "PackageType": "Image", "Timeout": 900, "EphemeralStorage": {"Size": 4096},
        "Environment": {"Variables": Match.object_like({
            "RAW_BUCKET": Match.any_value(), "STREAM_NAME": Match.any_value(),
            "DATABASE_SECRET_ARN": Match.any_value(), "DATABASE_HOST": Match.any_value(),
            "DATABASE_NAME": names.DATABASE_NAME, "FASTF1_CACHE": "/tmp/fastf1"})}})
    ingest = logical_id(synthed, "AWS::Lambda::Function", "IngestFunction")
    synthed.template.has_resource_properties("AWS::Scheduler::Schedule", {
        "ScheduleExpression": "cron(15 * ? * FRI-MON *)", "State": "ENABLED",
        "Target": Match.object_like({"Arn": {"Fn::GetAtt": [ingest, "Arn"]},
                                     "Input": '{"source":"schedule","hours":6}',
                                     "DeadLetterConfig": Match.any_value(),
                                     "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2}})})
    synthed.template.has_resource_properties("AWS::Lambda::EventInvokeConfig", {
        "FunctionName": {"Ref": ingest},
        "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}}})
    synthed.template.has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": [
        Match.object_like({"Action": "lambda:InvokeFunction", "Resource": {"Fn::GetAtt": [ingest, "Arn"]}})]}})


def test_analyze_event_source_isolates_failures_and_keeps_the_payload(synthed):
    """Deployed with the settings local mode's mapping runs with (``apexflow_aws.mapping``)."""
    failed_bucket = logical_id(synthed, "AWS::S3::Bucket", "DataFailedBatches")
    synthed.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BisectBatchOnFunctionError": ANALYZE.bisect_batch_on_error,
        "BatchSize": ANALYZE.batch_size, "MaximumBatchingWindowInSeconds": ANALYZE.batching_window_seconds,
        "ParallelizationFactor": ANALYZE.parallelization_factor, "MaximumRetryAttempts": ANALYZE.retry_attempts,
        "MaximumRecordAgeInSeconds": ANALYZE.max_record_age_seconds, "StartingPosition": "TRIM_HORIZON",
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [failed_bucket, "Arn"]}}}})


def test_analyze_bundle_is_the_core_layer_only(synthed):
    analyze = synthed.raw["Resources"][logical_id(synthed, "AWS::Lambda::Function", "AnalyzeFunction")]
    core = logical_id(synthed, "AWS::Lambda::LayerVersion", "LayersCore")
    assert analyze["Properties"]["Layers"] == [{"Ref": core}]
    reqs = " ".join(requirements()["core"]).lower()
    assert not any(pkg in reqs for pkg in FORBIDDEN_IN_CORE)
    assert not {_name(r) for r in requirements()["core"]} & PROVIDED_BY_RUNTIME
    assert any(_name(r) == "openai" for r in requirements()["insights"])
    assert [_name(r) for r in requirements()["report"]] == ["plotly"]
    api = synthed.raw["Resources"][logical_id(synthed, "AWS::Lambda::Function", "ApiFunction")]
    assert {"Ref": logical_id(synthed, "AWS::Lambda::LayerVersion", "LayersReport")} in api["Properties"]["Layers"]


_XRAY = {"xray:PutTelemetryRecords", "xray:PutTraceSegments"}
_SECRET = {"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}
_S3_RW = {"s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:PutObject",
          "s3:PutObjectLegalHold", "s3:PutObjectRetention", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"}
LEAST_PRIVILEGE = {  # function -> (actions, the resources they may name: logical-id prefixes)
    "IngestFunction": (_XRAY | _SECRET | _S3_RW | {"kinesis:ListShards", "kinesis:PutRecord", "kinesis:PutRecords",
                        "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage", "states:StartExecution"},
                       {"DataAppSecret", "DataRawChunks", "DataStream", "IngestDeadLetters", "InsightsStateMachine"}),
    "AnalyzeFunction": (_XRAY | _SECRET | _S3_RW | {
        "kinesis:DescribeStream", "kinesis:DescribeStreamConsumer", "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:ListStreams",
        "kinesis:SubscribeToShard", "states:StartExecution"},
        {"DataAppSecret", "DataFailedBatches", "DataStream", "InsightsStateMachine"}),
    "InsightsFunction": (_XRAY | _SECRET, {"DataAppSecret", "InsightsOpenAiKey"}),
    "ApiFunction": (_XRAY | _SECRET | {"states:StartExecution", "states:DescribeExecution", "lambda:InvokeFunction",
                                       "s3:GetBucket*", "s3:GetObject*", "s3:List*"},
                    {"DataAppSecret", "DataRawChunks", "IngestFunction", "InsightsStateMachine"}),
    "MigrationsFunction": (_XRAY | _SECRET, {"DataAdminSecret", "DataAppSecret", "DataReadOnlySecret"}),
}


def test_each_function_may_do_only_what_it_uses(synthed):
    """Exact actions per function (a new grant is a decision, made here), on its own resources only."""
    functions = resources(synthed, "AWS::Lambda::Function")
    for prefix, (actions, allowed) in LEAST_PRIVILEGE.items():
        (fn,) = [f for k, f in functions.items() if k.startswith(prefix) and "Provider" not in k]
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        statements = [st for p in resources(synthed, "AWS::IAM::Policy").values() if {"Ref": role} in
                      p["Properties"]["Roles"] for st in p["Properties"]["PolicyDocument"]["Statement"]]
        granted = {a for st in statements for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
        assert granted == actions, prefix
        named = set(re.findall(r'"(?:Ref|Fn::GetAtt)": \[?"([A-Za-z0-9]+)"',
                               json.dumps([st["Resource"] for st in statements if st["Resource"] != "*"])))
        assert {n for n in named if not any(n.startswith(a) for a in allowed)} == set(), prefix
        assert all(st["Resource"] != "*" or set(st["Action"]) <= _XRAY for st in statements), prefix


# --- insights and API ----------------------------------------------------------------------------

def test_state_machine_traced_logged_and_wired_to_the_insights_function(synthed):
    (machine,) = resources(synthed, "AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    insights = logical_id(synthed, "AWS::Lambda::Function", "InsightsFunction")
    topic = logical_id(synthed, "AWS::SNS::Topic", "InsightsAlerts")
    definition = (names.REPO_ROOT / names.STATE_MACHINE_FILE).read_text()
    expected = {p: {"Fn::GetAtt": [insights, "Arn"]} for p in function_placeholders(definition)}
    assert expected and props["DefinitionSubstitutions"] == {**expected, "AlertsTopicArn": {"Ref": topic}}
    assert set(re.findall(r"\$\{(\w+)\}", definition)) <= set(props["DefinitionSubstitutions"])


def test_ingest_analyze_and_the_live_task_may_start_the_insights_workflow(synthed):
    machine = logical_id(synthed, "AWS::StepFunctions::StateMachine", "InsightsStateMachine")
    for prefix in ("IngestFunction", "AnalyzeFunction"):
        fn = synthed.raw["Resources"][logical_id(synthed, "AWS::Lambda::Function", prefix)]["Properties"]
        assert fn["Environment"]["Variables"]["INSIGHTS_STATE_MACHINE_ARN"] == {"Ref": machine}
    [task] = resources(synthed, "AWS::ECS::TaskDefinition").values()
    [container] = task["Properties"]["ContainerDefinitions"]
    assert {"Name": "INSIGHTS_STATE_MACHINE_ARN", "Value": {"Ref": machine}} in container["Environment"]
    statements = [s for p in resources(synthed, "AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    starts = [s for s in statements if "states:StartExecution" in (s["Action"] if isinstance(s["Action"], list)
                                                                   else [s["Action"]])]
    assert len(starts) == 4 and all(s["Resource"] == {"Ref": machine} for s in starts)  # with the API's


def test_openai_key_secret_and_encrypted_alerts_topic(synthed):
    synthed.template.has_resource_properties("AWS::SecretsManager::Secret", {"Name": "apexflow/openai-api-key"})
    synthed.template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    synthed.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    synthed.template.has_resource_properties("AWS::Lambda::Function", {"Environment": {"Variables": Match.object_like(
        {"OPENAI_SECRET_ARN": {"Ref": logical_id(synthed, "AWS::SecretsManager::Secret", "InsightsOpenAiKey")},
         "OPENAI_MODEL": "gpt-4.1-mini", "INSIGHTS_TOKEN_BUDGET": "150000"})}})


def test_http_api_needs_a_jwt_or_iam_except_for_health_and_is_throttled_and_logged(synthed):
    synthed.template.has_resource_properties("AWS::ApiGatewayV2::Api", {"ProtocolType": "HTTP"})
    routes = {r["Properties"]["RouteKey"]: r["Properties"]
              for r in resources(synthed, "AWS::ApiGatewayV2::Route").values()}
    assert {key: route["AuthorizationType"] for key, route in routes.items()} == {
        "$default": "JWT", "ANY /iam/{proxy+}": "AWS_IAM", "GET /health": "NONE", "HEAD /health": "NONE"}
    pool = logical_id(synthed, "AWS::Cognito::UserPool", "ApiUsers")
    client = logical_id(synthed, "AWS::Cognito::UserPoolClient", "ApiUsersApps")
    (authorizer,) = resources(synthed, "AWS::ApiGatewayV2::Authorizer").values()
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    assert authorizer["Properties"]["JwtConfiguration"]["Audience"] == [{"Ref": client}]
    assert pool in json.dumps(authorizer["Properties"]["JwtConfiguration"]["Issuer"])
    synthed.template.has_resource_properties("AWS::Cognito::UserPool", {
        "MfaConfiguration": "ON", "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True}})
    synthed.template.has_resource_properties("AWS::ApiGatewayV2::Stage", {
        "StageName": "$default",
        "DefaultRouteSettings": Match.object_like({"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100}),
        "AccessLogSettings": Match.object_like({"DestinationArn": Match.any_value()})})


def test_api_function_reaches_ingest_raw_chunks_and_the_insights_workflow(synthed):
    api = synthed.raw["Resources"][logical_id(synthed, "AWS::Lambda::Function", "ApiFunction")]
    env = api["Properties"]["Environment"]["Variables"]
    assert env["INGEST_FUNCTION_NAME"] == {"Ref": logical_id(synthed, "AWS::Lambda::Function", "IngestFunction")}
    assert env["RAW_BUCKET"] == {"Ref": logical_id(synthed, "AWS::S3::Bucket", "DataRaw")}
    assert env["INSIGHTS_STATE_MACHINE_ARN"] == {"Ref": logical_id(synthed, "AWS::StepFunctions::StateMachine",
                                                                   "InsightsStateMachine")}
    policies = [p for k, p in resources(synthed, "AWS::IAM::Policy").items() if k.startswith("ApiFunctionServiceRole")]
    actions = {a for p in policies for st in p["Properties"]["PolicyDocument"]["Statement"]
               for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
    assert {"lambda:InvokeFunction", "states:StartExecution", "states:DescribeExecution", "s3:GetObject*"} <= actions


def test_migrations_run_at_deploy_time_before_the_functions(synthed):
    (resource,) = resources(synthed, "Custom::ApexFlowMigrations").values()
    assert resource["Properties"]["Migrations"] == migrations_fingerprint()
    migrate = logical_id(synthed, "AWS::Lambda::Function", "MigrationsFunction")
    env = synthed.raw["Resources"][migrate]["Properties"]["Environment"]["Variables"]
    assert {"DATABASE_SECRET_ARN", "APP_SECRET_ARN", "READONLY_SECRET_ARN"} <= set(env)
    cr_id = logical_id(synthed, "Custom::ApexFlowMigrations", "Migrations")
    analyze = synthed.raw["Resources"][logical_id(synthed, "AWS::Lambda::Function", "AnalyzeFunction")]
    assert cr_id in analyze["DependsOn"]
    rotations = {k: r for k, r in resources(synthed, "AWS::SecretsManager::RotationSchedule").items()
                 if not k.startswith("DataAdmin")}
    assert rotations and all(cr_id in r["DependsOn"] for r in rotations.values())


# --- observability -------------------------------------------------------------------------------

def test_alarms_cover_every_failure_signal_and_notify_the_topic(synthed):
    alarms = resources(synthed, "AWS::CloudWatch::Alarm").values()
    metrics = [a["Properties"]["MetricName"] for a in alarms]
    for metric in ("IteratorAge", "ApproximateNumberOfMessagesVisible", "PutRequests",
                   "DestinationDeliveryFailures", "ExecutionsFailed", "ExecutionsTimedOut", "DatabaseConnections"):
        assert metric in metrics
    assert metrics.count("Errors") == len(names.SERVICES)
    topic = logical_id(synthed, "AWS::SNS::Topic", "InsightsAlerts")
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": topic}] for a in alarms)
    synthed.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_alert_email_subscribes_when_given(synthed, production):
    synthed.template.resource_count_is("AWS::SNS::Subscription", 0)
    production.template.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "email", "Endpoint": "oncall@example.com"})


def test_production_settings_reach_the_template(production):
    production.template.has_resource_properties("AWS::Scheduler::Schedule", {"State": "DISABLED", "Target":
        Match.object_like({"Input": '{"source":"fastf1","year":2024,"event":"Monza","session":"Q"}'})})
    production.template.has_resource_properties("AWS::RDS::DBInstance", {"MultiAZ": True})
    production.template.has_resource_properties("AWS::Lambda::Function", {
        "PackageType": "Image", "ReservedConcurrentExecutions": 10})
    production.template.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": Match.object_like({"POWERTOOLS_SERVICE_NAME": names.SERVICES["analyze"]})},
        "ReservedConcurrentExecutions": 40})
    production.template.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": Match.object_like({"POWERTOOLS_SERVICE_NAME": names.SERVICES["insights"]})},
        "ReservedConcurrentExecutions": 8})
    production.template.has_resource_properties("AWS::Lambda::Function", {
        "Runtime": "python3.12", "Architectures": ["arm64"]})


# --- settings ------------------------------------------------------------------------------------

def test_settings_come_from_context_with_types():
    context = {"shardCount": "8", "streamMode": "provisioned", "dbMultiAz": "true", "apiRateLimit": 10}
    node = SimpleNamespace(try_get_context=context.get)
    settings = Settings.from_context(node)
    assert (settings.shard_count, settings.stream_mode, settings.db_multi_az, settings.api_rate_limit) == \
        (8, "provisioned", True, 10)
    assert Settings.from_context(SimpleNamespace(try_get_context=lambda key: None)) == Settings()
    assert names.manylinux_platforms("arm64")[0] == "manylinux2014_aarch64"


# --- live ----------------------------------------------------------------------------------------

def test_live_task_runs_the_ingest_image_on_fargate_started_by_a_race_weekend_schedule(synthed):
    [task] = resources(synthed, "AWS::ECS::TaskDefinition").values()
    props = task["Properties"]
    assert props["RequiresCompatibilities"] == ["FARGATE"] and props["RuntimePlatform"]["CpuArchitecture"] == "X86_64"
    [container] = props["ContainerDefinitions"]
    assert container["EntryPoint"] == ["python3", "/var/task/live_task.py"]
    env = {e["Name"] for e in container["Environment"]}
    assert {"RAW_BUCKET", "STREAM_NAME", "DATABASE_SECRET_ARN", "F1_TOKEN_SECRET_ARN", "OPENF1_SECRET_ARN",
            "INSIGHTS_STATE_MACHINE_ARN", "LIVE_SOURCE", "LIVE_LEAD_MINUTES", "ALERTS_TOPIC_ARN"} <= env
    role = task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    topic = logical_id(synthed, "AWS::SNS::Topic", "InsightsAlerts")
    synthed.template.has_resource_properties("AWS::IAM::Policy", {  # the alert on a critical feed gap
        "Roles": [{"Ref": role}], "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Action": "sns:Publish", "Resource": {"Ref": topic}})])}})
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    cluster = logical_id(synthed, "AWS::ECS::Cluster", "LiveCluster")
    synthed.template.has_resource_properties("AWS::Scheduler::Schedule", {
        "ScheduleExpression": "cron(0/10 * ? * FRI-SUN *)", "State": "ENABLED",
        "Target": Match.object_like({"Arn": {"Fn::GetAtt": [cluster, "Arn"]}, "EcsParameters": Match.object_like({
            "LaunchType": "FARGATE", "NetworkConfiguration": {"AwsvpcConfiguration": Match.object_like({
                "AssignPublicIp": "DISABLED"})}})})})
    names_ = {r["Properties"].get("Name") for r in resources(synthed, "AWS::SecretsManager::Secret").values()}
    assert {"apexflow/live/f1-token", "apexflow/live/openf1-account"} <= names_
