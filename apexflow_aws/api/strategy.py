"""Route: a session's strategy predictions (rejoin, undercut, cliff, stop, recommendation) per car and lap."""
from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from apexflow.query import strategy
from apexflow_aws.api.common import Driver, Format, Lap, SessionId, listing, reading, responses

router = Router()


@router.get("/sessions/<session_id>/predictions", summary="Strategy predictions per car, after each lap",
            description="The session's laps replayed lap by lap through the strategy models, each lap seeing only "
                        "the laps up to it. `lap` gives the predictions after one lap; `lap_from`/`lap_to` a range "
                        "(default: every lap). 404: unknown session or driver; 422: a lap the session does not "
                        "have. `format=csv` gives the rows, probabilities as JSON cells.",
            responses=responses(strategy.PredictionsPage, 400, 404, csv=True))
def get_predictions(session_id: SessionId, driver: Driver = None, lap: Lap = None, lap_from: Lap = None,
                    lap_to: Lap = None, format: Format = "json"):
    with reading() as cur:
        found = strategy.predictions(cur, session_id, driver=driver, lap=lap, lap_from=lap_from, lap_to=lap_to)
    return listing(strategy.PredictionsPage(predictions=found), "predictions", format)
