"""HTTP API (API Gateway HTTP API, payload v2): the routes of ``apexflow_aws.api``, one resolver.

Traced by Lambda's active tracing (one segment per invocation) without the X-Ray SDK, as the analyze function:
the SDK (and the botocore it loads) would add about a fifth of a second to every cold start of the API.
"""
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from apexflow_aws.api.app import app

logger = Logger()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event, context):
    return app.resolve(event, context)
