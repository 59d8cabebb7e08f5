"""Observability: alarms to the alerts topic and one CloudWatch dashboard for the whole pipeline."""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra import names
from infra.analyze import Analyze
from infra.api import Api
from infra.data import REQUEST_METRICS_ID, Data
from infra.ingest import Ingest
from infra.insights import Insights
from infra.migrations import Migrations
from infra.names import Settings

PERIOD = Duration.minutes(5)


class Observability(Construct):
    def __init__(self, scope: Construct, id: str, *, settings: Settings, data: Data, ingest: Ingest,
                 analyze: Analyze, insights: Insights, api: Api, migrations: Migrations) -> None:
        super().__init__(scope, id)
        self.topic: sns.ITopic = insights.alerts
        if settings.alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alert_email))
        self.alarms: list[cw.Alarm] = []
        functions: dict[str, lambda_.IFunction] = {
            "Ingest": ingest.function, "Analyze": analyze.function, "Insights": insights.function,
            "Api": api.function, "Migrate": migrations.function}

        iterator_age = analyze.function.metric("IteratorAge", statistic="Maximum", period=Duration.minutes(1))
        self._alarm("AnalyzeIteratorAge", iterator_age, settings.iterator_age_alarm_ms, periods=5,
                    description="Analyze is falling behind the stream (ms)")
        for name, fn in functions.items():
            self._alarm(f"{name}Errors", fn.metric_errors(period=PERIOD), 1,
                        description=f"{name} function errors")
        dead_letters = {
            "IngestDeadLetters": ingest.dead_letters.metric_approximate_number_of_messages_visible(period=PERIOD),
            "AnalyzeFailedBatches": cw.Metric(
                namespace="AWS/S3", metric_name="PutRequests", statistic="Sum", period=PERIOD,
                dimensions_map={"BucketName": data.failed_batches.bucket_name, "FilterId": REQUEST_METRICS_ID}),
            "AnalyzeDestinationDeliveryFailures": analyze.function.metric(
                "DestinationDeliveryFailures", statistic="Sum", period=PERIOD),
        }
        for name, metric in dead_letters.items():
            self._alarm(name, metric, 1, description=f"Dead letters: {name}")
        self._alarm("InsightsFailed", insights.state_machine.metric_failed(period=PERIOD), 1,
                    description="Insights state machine executions failed")
        self._alarm("InsightsTimedOut", insights.state_machine.metric_timed_out(period=PERIOD), 1,
                    description="Insights state machine executions timed out")
        self._alarm("DatabaseConnections",
                    data.instance.metric_database_connections(period=PERIOD, statistic="Maximum"),
                    settings.db_connections_alarm, description="PostgreSQL connections near max_connections")

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{names.PREFIX}-{settings.stack_name}",
                                      default_interval=Duration.hours(6))
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24),
            cw.GraphWidget(title="Stream", width=12, left=[data.stream.metric_incoming_records(),
                                                           data.stream.metric_incoming_bytes()]),
            cw.GraphWidget(title="Analyze iterator age (ms)", width=12, left=[iterator_age]),
            cw.GraphWidget(title="Invocations", width=8, left=[f.metric_invocations() for f in functions.values()]),
            cw.GraphWidget(title="Errors", width=8, left=[f.metric_errors() for f in functions.values()]),
            cw.GraphWidget(title="Duration p95", width=8,
                           left=[f.metric_duration(statistic="p95") for f in functions.values()]),
            cw.GraphWidget(title="Dead letters", width=8, left=list(dead_letters.values())),
            cw.GraphWidget(title="Insights executions", width=8, left=[
                insights.state_machine.metric_succeeded(), insights.state_machine.metric_failed()]),
            cw.GraphWidget(title="Database", width=8, left=[data.instance.metric_database_connections()],
                           right=[data.instance.metric_cpu_utilization()]),
            cw.GraphWidget(title="API", width=12, left=[
                cw.Metric(namespace="AWS/ApiGateway", metric_name=m, statistic="Sum",
                          dimensions_map={"ApiId": api.http_api.api_id, "Stage": "$default"})
                for m in ("Count", "4xx", "5xx")]),
            cw.GraphWidget(title="Pipeline (Powertools metrics)", width=12, left=[
                cw.Metric(namespace=names.METRICS_NAMESPACE, metric_name=m, statistic="Sum",
                          dimensions_map={"service": names.SERVICES[service]})
                for service, m in (("ingest", "SamplesIngested"), ("analyze", "ChunksProcessed"),
                                   ("analyze", "RecordsFailed"))]),
        )

    def _alarm(self, id: str, metric: cw.IMetric, threshold: float, *, description: str,
               periods: int = 1) -> None:
        alarm = metric.create_alarm(
            self, id, threshold=threshold, evaluation_periods=periods, alarm_description=description,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
