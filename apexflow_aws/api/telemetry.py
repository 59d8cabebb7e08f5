"""Route: one driver's telemetry, read from the raw chunks in S3 and thinned to a point budget."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from apexflow.query import telemetry
from apexflow.settings import settings
from apexflow_aws.api.common import Channels, Format, Lap, OneDriver, Seconds, SessionId, listing, reading, responses
from apexflow_aws.config import client
from apexflow_aws.raw_store import S3RawStore

router = Router()
Points = Annotated[int, Query(ge=2, le=telemetry.MAX_POINTS, description="at most this many samples")]


@router.get("/sessions/<session_id>/telemetry", summary="One driver's telemetry over a lap or a time window",
            description="Samples of the raw chunks (S3), evenly thinned to `points`. Without `lap`, `t_from` or "
                        "`t_to`, the whole session. `format=csv`: one row per sample.",
            responses=responses(telemetry.Telemetry, 400, 404, csv=True))
def get_telemetry(session_id: SessionId, driver: OneDriver,
                  lap: Lap = None, t_from: Seconds = None, t_to: Seconds = None, channels: Channels = None,
                  points: Points = telemetry.DEFAULT_POINTS, format: Format = "json"):
    from apexflow.chunk import decode  # numpy only for this route: the API's cold start does without it

    with reading() as cur:
        plan = telemetry.plan(cur, session_id, driver, lap=lap, t_from=t_from, t_to=t_to,
                              channels=channels.split(",") if channels else None)
    blobs = S3RawStore(client("s3"), settings().need("raw_bucket")).read_chunks(plan.source, session_id, plan.keys)
    found = telemetry.Telemetry(**telemetry.samples(plan, [decode(b) for b in blobs], points))
    return listing(found, "t", format, telemetry.rows(found.model_dump()))
