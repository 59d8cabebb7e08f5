"""The ApexFlow stack: every concern's construct, wired together."""
from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra import names
from infra.analyze import Analyze
from infra.api import Api
from infra.data import Data
from infra.ingest import Ingest
from infra.insights import Insights
from infra.layers import Layers
from infra.live import Live
from infra.migrations import Migrations
from infra.names import Settings
from infra.network import Network
from infra.observability import Observability


class ApexFlowStack(Stack):
    def __init__(self, scope: Construct, id: str, *, settings: Settings, **kwargs) -> None:
        super().__init__(scope, id, description="ApexFlow telemetry pipeline", **kwargs)
        network = Network(self, "Network", settings=settings)
        data = Data(self, "Data", settings=settings, network=network)
        layers = Layers(self, "Layers", settings=settings)
        # The functions log in as the app login, through the proxy.
        database = {"DATABASE_SECRET_ARN": data.app_secret.secret_arn, "DATABASE_HOST": data.proxy.endpoint,
                    "DATABASE_NAME": names.DATABASE_NAME}
        shared = dict(settings=settings, network=network, data=data, database_environment=database)
        migrations = Migrations(self, "Migrations", settings=settings, network=network, data=data, layers=layers)
        ingest = Ingest(self, "Ingest", **shared)
        analyze = Analyze(self, "Analyze", layers=layers, **shared)
        insights = Insights(self, "Insights", layers=layers, starters=[ingest.function, analyze.function], **shared)
        api = Api(self, "Api", layers=layers, state_machine=insights.state_machine, ingest=ingest.function, **shared)
        live = Live(self, "Live", state_machine=insights.state_machine, alerts=insights.alerts, **shared)
        live.task.node.add_dependency(migrations.resource)
        self.observability = Observability(self, "Observability", settings=settings, data=data, ingest=ingest,
                                           analyze=analyze, insights=insights, api=api, migrations=migrations)
        for fn in (ingest.function, analyze.function, insights.function, api.function):
            fn.node.add_dependency(migrations.resource)

        outputs = {
            "ApiUrl": api.http_api.api_endpoint,
            "ApiUserPool": api.user_pool.user_pool_id,
            "ApiUserPoolClient": api.user_pool_client.user_pool_client_id,
            "RawBucket": data.raw.bucket_name,
            "StreamName": data.stream.stream_name,
            "IngestFunction": ingest.function.function_name,
            "IngestOnDemandPolicy": ingest.operator_policy.managed_policy_arn,
            "InsightsStateMachine": insights.state_machine.state_machine_arn,
            "DatabaseProxyEndpoint": data.proxy.endpoint,
            "ReadOnlySecret": data.readonly_secret.secret_arn,
            "OpenAiSecret": insights.openai_secret.secret_arn,
            "AlertsTopic": insights.alerts.topic_arn,
            "FailedBatchesBucket": data.failed_batches.bucket_name,
            "LiveCluster": live.cluster.cluster_name,
            "LiveTaskDefinition": live.task.task_definition_arn,
            "F1TokenSecret": live.f1_token.secret_arn,
            "OpenF1Secret": live.openf1_account.secret_arn,
        }
        for key, value in outputs.items():
            CfnOutput(self, key, value=value)
