"""Insight tasks for the state machine: summarize a session, or one entity of it."""
from aws_lambda_powertools import Logger, Tracer

from apexflow.insights.summary import OfflineProvider, summarize
from apexflow.storage import repository
from apexflow.storage.db import transaction
from apexflow_aws.config import connection

logger, tracer = Logger(), Tracer()
PROVIDERS = {"offline": OfflineProvider}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event, context):
    """``{"session_id": ..., "entity_id": optional, "provider": "offline"}`` -> the stored insight's id."""
    provider = PROVIDERS[event.get("provider", "offline")]()
    with transaction(connection()) as cur:
        insight = summarize(repository.session_overview(cur, event["session_id"]), event.get("entity_id"), provider)
        repository.upsert_insight(cur, insight)
    return {"insight_id": insight["insight_id"], "session_id": insight["session_id"],
            "entity_id": insight["entity_id"]}
