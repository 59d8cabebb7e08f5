"""The live task (ECS Fargate, the ingest image): follow the F1 session about to start, until it ends.

Started by the race-weekend schedule: it follows the session that starts within ``LIVE_LEAD_MINUTES`` or is
running (FastF1's schedule), from ``LIVE_SOURCE`` (``f1`` or ``openf1``), unless another task holds that
session's lock; then it exits. See ``apexflow_aws.live_runner`` for the rest of its environment.
"""
import sys
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger

from apexflow.pipeline.schedule import live_session, years_to_check
from apexflow.settings import settings
from apexflow.sources.fastf1 import schedule
from apexflow.storage import locks
from apexflow.storage.db import transaction
from apexflow_aws import live_runner
from apexflow_aws.config import client, connection
from apexflow_aws.stream import KinesisStream

logger = Logger()
IDLE_S = 1800.0  # the stream silent this long: the session is over (or the source is gone)


def main() -> int:
    now = datetime.now(UTC)
    lead = timedelta(minutes=settings().live_lead_minutes)
    due = live_session([row for year in years_to_check(now, 1) for row in schedule(year)], now, lead)
    if due is None:
        logger.info("no session starts or runs now", lead_minutes=lead.total_seconds() / 60)
        return 0
    with transaction(connection()) as cur:
        if not locks.try_lock(cur, f"live:{due.session_id}"):
            logger.info("another task follows this session", session_id=due.session_id)
            return 0
    spec = {"source": settings().live_source, "session": "current", "idle": IDLE_S}
    logger.info("following", session_id=due.session_id, source=spec["source"])
    summary = live_runner.run(spec, KinesisStream(client("kinesis"), settings().need("stream_name")))
    logger.info("closed", **summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
