"""HTTP API (API Gateway HTTP API, payload v2): the routes of ``apexflow_aws.api``, one resolver."""
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths

from apexflow_aws.api.app import app

logger, tracer = Logger(), Tracer()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def handler(event, context):
    return app.resolve(event, context)
