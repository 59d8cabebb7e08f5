"""Predictive strategy, updated lap by lap from timing alone (no AWS).

``StrategyEngine`` (``engine.py``) holds every model and gives the pit wall's table after each completed lap:

- ``pace.py``: lap-time model per car and stint (fuel and track trend, tyre age per compound, traffic), with an
  80 % interval from its own one-lap-ahead errors;
- ``pit_loss.py``: the cost of a stop under green, VSC and safety car, learnt from the session's own stops;
- ``rejoin.py``: position, gaps and the probability of each position after a stop;
- ``plans.py``: remaining race time of 0/1/2-stop plans -> the recommendation and the predicted stop lap;
- ``limit.py``: time until any channel crosses a limit; ``cliff.py``: the same on a stint's lap times.
"""
from apexflow.strategy.engine import CarPrediction, StrategyEngine
from apexflow.strategy.laps import LapRow, by_lap, from_fastf1, regime
from apexflow.strategy.limit import LimitForecast, LimitForecaster, time_to_limit

__all__ = ["CarPrediction", "LapRow", "LimitForecast", "LimitForecaster", "StrategyEngine", "by_lap",
           "from_fastf1", "regime", "time_to_limit"]
